"""The drop-detection service end to end on a DuckDB file: detect, attribute, persist, publish."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flowrows import insert_flows_in_one_transaction, migrated_duckdb_file
from theia_sf.detection import DetectionConfig
from theia_sf.objectstore import LocalObjectStore
from theia_sf.services.detection import load_results, publish_results, run_drop_detection
from theia_sf.sql import Query
from theia_sf.timewindow import Window

D1 = dt.datetime(2023, 3, 1, tzinfo=dt.UTC)
WORKED = [4, 6, 5, 5, 3, 4, 6, 5, 4, 5, 4, 90]  # theia-sf's worked drop-detection example
WINDOW = Window(D1, D1 + dt.timedelta(days=12))


def dropped(day, i, **cols):
    start = D1 + dt.timedelta(days=day, minutes=7 * i)
    row = {
        "flowStartSeconds": start,
        "flowEndSeconds": start + dt.timedelta(seconds=20),
        "sourceIP": f"10.0.1.{i % 4}",
        "sourcePodName": f"client-{i % 4}",
        "sourcePodNamespace": "shop",
        "destinationIP": "10.0.2.9",
        "destinationPodName": "web-7d9f",
        "destinationPodNamespace": "shop",
        "ingressNetworkPolicyRuleAction": 2,
        "ingressNetworkPolicyName": "deny-web",
        "ingressNetworkPolicyNamespace": "shop",
        "ingressNetworkPolicyRuleName": "ingress-rule-0",
        "ingressNetworkPolicyType": 2,
        "egressNetworkPolicyRuleAction": 0,
    }
    row.update(cols)
    return row


@pytest.fixture(scope="module")
def worked_template(tmp_path_factory, sql):
    """The reference example's flows in a migrated DuckDB file, built once per module."""
    path = tmp_path_factory.mktemp("worked") / "theia.duckdb"
    warehouse = migrated_duckdb_file(path, sql)
    rows = [dropped(day, i) for day, n in enumerate(WORKED) for i in range(n)]
    # The reference's egress Reject from 10.0.3.4 on two days (7 and 300).
    ext = {"sourcePodName": None, "sourcePodNamespace": None, "sourceIP": "10.0.3.4",
           "ingressNetworkPolicyRuleAction": 0, "egressNetworkPolicyRuleAction": 3,
           "egressNetworkPolicyName": "no-egress", "egressNetworkPolicyNamespace": "shop",
           "egressNetworkPolicyRuleName": "egress-rule-0", "egressNetworkPolicyType": 2}  # fmt: skip
    rows += [dropped(0, i, **ext) for i in range(7)] + [
        dropped(1, i % 150, **ext) for i in range(300)
    ]
    insert_flows_in_one_transaction(warehouse, rows)
    return path


@pytest.fixture
def worked(worked_template, tmp_path):
    import shutil

    from theia_sf.adapters.duckdb import DuckDBWarehouse

    path = tmp_path / "theia.duckdb"
    shutil.copyfile(worked_template, path)
    return DuckDBWarehouse(path, lock_timeout=60)


def count(warehouse, table):
    with warehouse.session(read_only=True) as s:
        return s.fetch(Query("t", f"SELECT COUNT(*) AS n FROM {table}"))[0]["n"]


def test_theia_method_reproduces_the_reference_example(worked, sql):
    config = DetectionConfig(method="theia", granularity="pod")
    result = run_drop_detection(worked, sql, config, WINDOW)
    assert result.dropped_flows == sum(WORKED) + 307
    assert result.series_count == 2
    (a,) = result.anomalies
    assert (a.endpoint, a.direction.value, a.day.isoformat(), a.drops) == (
        "shop/web-7d9f", "ingress", "2023-03-12", 90,
    )  # fmt: skip
    assert a.mean == pytest.approx(11.75)
    assert a.stdev == pytest.approx(24.658119, abs=5e-6)
    # Attribution: the dropping rule and the peers, with counts.
    assert [(r.policy, r.rule_name, r.drops) for r in a.attribution.rules] == [
        ("shop/deny-web", "ingress-rule-0", 90)
    ]
    assert sum(p.drops for p in a.attribution.peers) == 90 - 22  # top 3 of 4 peers
    assert a.attribution.peers[0].peer.startswith("shop/client-")

    stored = load_results(worked, sql, result.run_id)
    assert stored["run"]["status"] == "succeeded"
    assert stored["run"]["anomaly_count"] == 1
    assert stored["run"]["parameters"]["method"] == "theia"
    (record,) = stored["anomalies"]
    assert record["top_policy"] == "shop/deny-web" and record["top_rule"] == "ingress-rule-0"
    assert record["baseline_mean"] == pytest.approx(11.75)
    assert record["attribution"]["rules"][0]["drops"] == 90


def test_baseline_method_finds_the_spike_with_less_history(worked, sql):
    window = Window(D1 + dt.timedelta(days=7), WINDOW.end)  # 5 days: theia-sf finds nothing
    assert (
        run_drop_detection(
            worked, sql, DetectionConfig(method="theia", granularity="pod"), window
        ).anomalies
        == ()
    )
    result = run_drop_detection(worked, sql, DetectionConfig(granularity="pod"), window)
    assert [(a.endpoint, a.day.isoformat(), a.drops) for a in result.anomalies] == [
        ("shop/web-7d9f", "2023-03-12", 90)
    ]


def test_rerun_of_same_window_and_parameters_replaces_its_results(worked, sql):
    config = DetectionConfig(method="theia", granularity="pod")
    first = run_drop_detection(worked, sql, config, WINDOW)
    second = run_drop_detection(worked, sql, config, WINDOW)
    assert first.run_id == second.run_id
    assert count(worked, "DROP_DETECTION_RUNS") == 1
    assert count(worked, "DROP_ANOMALIES") == 1
    other = run_drop_detection(worked, sql, DetectionConfig(granularity="pod"), WINDOW)
    assert other.run_id != first.run_id
    assert count(worked, "DROP_DETECTION_RUNS") == 2


def test_results_are_published_as_json(worked, sql, tmp_path):
    result = run_drop_detection(worked, sql, DetectionConfig(method="theia"), WINDOW)
    store = LocalObjectStore(tmp_path / "results", create=True)
    uris = publish_results(worked, sql, store, result.run_id)
    path = tmp_path / "results" / "detection" / "runs" / result.run_id / "anomalies.json"
    assert uris == {"anomalies.json": str(path)}
    doc = json.loads(path.read_text())
    assert doc == json.loads(
        (tmp_path / "results" / "detection" / "latest" / "anomalies.json").read_text()
    )
    assert doc["run"]["run_id"] == result.run_id
    assert doc["run"]["window_start"].startswith("2023-03-01T00:00:00")
    assert [a["endpoint"] for a in doc["anomalies"]] == ["shop/web-7d9f"]  # no generated suffix
    # Antrea's policy type enum is published by name (2 is an Antrea NetworkPolicy).
    (rule,) = doc["anomalies"][0]["attribution"]["rules"]
    assert rule["policy_type"] == "AntreaNetworkPolicy"


def test_failed_run_is_recorded_and_raises(worked, sql):
    with pytest.raises(Exception, match=r"(?i)missing_flows"):
        run_drop_detection(worked, sql, DetectionConfig(), WINDOW, flows_table="MISSING_FLOWS")
    with worked.session(read_only=True) as s:
        rows = s.fetch(Query("t", "SELECT status, message FROM DROP_DETECTION_RUNS"))
    assert [r["status"] for r in rows] == ["failed"]
    assert "MISSING_FLOWS" in rows[0]["message"].upper()


def test_no_drops_means_no_anomalies(duckdb_warehouse, sql):
    result = run_drop_detection(duckdb_warehouse, sql, DetectionConfig(), WINDOW)
    assert (result.dropped_flows, result.series_count, result.anomalies) == (0, 0, ())
    assert load_results(duckdb_warehouse, sql, result.run_id)["anomalies"] == []


def test_service_through_the_snowflake_adapter_on_fakesnow(
    fakesnow_warehouse, sql, webhook_server, webhook
):
    from theia_sf.services.detection import send_alerts

    rows = [dropped(day, i) for day, n in enumerate(WORKED) for i in range(n)]
    insert_flows_in_one_transaction(fakesnow_warehouse, rows)
    theia = run_drop_detection(
        fakesnow_warehouse, sql, DetectionConfig(method="theia", granularity="pod"), WINDOW
    )
    (a,) = theia.anomalies
    assert (a.day.isoformat(), a.drops, a.mean) == ("2023-03-12", 90, pytest.approx(11.75))
    assert a.stdev == pytest.approx(24.658119, abs=5e-6)
    assert a.attribution.rules[0].rule_name == "ingress-rule-0"
    baseline = run_drop_detection(
        fakesnow_warehouse, sql, DetectionConfig(granularity="pod"), WINDOW
    )
    assert [(b.endpoint, b.drops) for b in baseline.anomalies] == [("shop/web-7d9f", 90)]
    stored = load_results(fakesnow_warehouse, sql, baseline.run_id)
    assert stored["anomalies"][0]["top_policy"] == "shop/deny-web"
    sink = webhook("ops_webhook", webhook_server.url)
    assert send_alerts(fakesnow_warehouse, sql, theia.run_id, [sink])[0].delivered == 1
    # Same anomaly key from the other method's run: already alerted.
    assert send_alerts(fakesnow_warehouse, sql, baseline.run_id, [sink])[0].delivered == 0
    assert len(webhook_server.delivered) == 1


def test_summary_is_small_and_lists_the_strongest_anomalies(worked, sql):
    result = run_drop_detection(worked, sql, DetectionConfig(granularity="pod"), WINDOW)
    record = result.to_record()
    assert len(json.dumps(record)) < 4000  # what crosses XCom
    assert record["anomaly_count"] == 1
    assert record["top_anomalies"] == [
        {
            "endpoint": "shop/web-7d9f",
            "direction": "ingress",
            "day": "2023-03-12",
            "drops": 90,
            "baseline_mean": pytest.approx(sum(WORKED[:-1]) / 11),
            "top_policy": "shop/deny-web",
            "top_rule": "ingress-rule-0",
        }
    ]


def test_pod_created_mid_window_is_not_flagged_for_its_absent_past(tmp_path, sql):
    warehouse = migrated_duckdb_file(tmp_path / "theia.duckdb", sql)
    old = [dropped(day, i) for day in range(14) for i in range(5)]  # data from day 0 on
    # A new pod from day 7 on, dropping 40 flows every day: steady from its first day.
    new = {"destinationPodName": "cart-0", "destinationIP": "10.0.2.10"}
    rows = old + [dropped(day, i, **new) for day in range(7, 14) for i in range(40)]
    insert_flows_in_one_transaction(warehouse, rows)
    window = Window(D1, D1 + dt.timedelta(days=14))
    result = run_drop_detection(warehouse, sql, DetectionConfig(granularity="pod"), window)
    # Before histories started at an endpoint's first flow, day 7 was flagged (40 vs zeros).
    assert [a.endpoint for a in result.anomalies] == []
    # The same pod, seen in allowed flows from day 2 on, did start dropping on day 7.
    allowed = {**new, "ingressNetworkPolicyRuleAction": 1}
    insert_flows_in_one_transaction(warehouse, [dropped(day, 0, **allowed) for day in (2, 5)])
    result = run_drop_detection(warehouse, sql, DetectionConfig(granularity="pod"), window)
    assert [(a.endpoint, a.day.isoformat()) for a in result.anomalies] == [
        ("shop/cart-0", "2023-03-08")
    ]
