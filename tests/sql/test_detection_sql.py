"""Drop-detection SQL on both paths: DuckDB (transpiled) and Snowflake dialect (fakesnow)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flowrows import flow_insert
from theia_sf.detection import Anomaly, DetectionConfig, Direction
from theia_sf.services.detection import select_attribution, select_daily_counts
from theia_sf.timewindow import Window

UUID_A = "8f4c0c8e-2b1e-4a4f-9a57-6f2a7a4b9d10"
UUID_B = "11111111-2222-4333-8444-555555555555"
D1 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
WINDOW = Window(D1, D1 + dt.timedelta(days=4))  # 2024-05-01 .. 2024-05-04


def at(day, hour=10):
    return D1 + dt.timedelta(days=day, hours=hour)


def flow(day=0, hour=10, **cols):
    """A flow record; ``ingress``/``egress`` give the rule action (2 Drop, 3 Reject)."""
    start = at(day, hour)
    row = {
        "flowStartSeconds": start,
        "flowEndSeconds": start + dt.timedelta(seconds=30),
        "sourceIP": "10.0.0.1",
        "destinationIP": "10.0.0.2",
        "sourcePodName": "client-6d4b75cb6d-x2x7k",
        "sourcePodNamespace": "shop",
        "destinationPodName": "web-7c9f8b6d5-b8c9d",
        "destinationPodNamespace": "shop",
        "ingressNetworkPolicyRuleAction": 0,
        "egressNetworkPolicyRuleAction": 0,
        "clusterUUID": UUID_A,
        "protocolIdentifier": 6,
    }
    if "ingress" in cols:
        row |= {
            "ingressNetworkPolicyRuleAction": cols.pop("ingress"),
            "ingressNetworkPolicyName": cols.pop("policy", "deny-web"),
            "ingressNetworkPolicyNamespace": "shop",
            "ingressNetworkPolicyRuleName": cols.pop("rule", "ingress-rule-0"),
            "ingressNetworkPolicyType": 2,
        }
    if "egress" in cols:
        row |= {
            "egressNetworkPolicyRuleAction": cols.pop("egress"),
            "egressNetworkPolicyName": "lockdown",
            "egressNetworkPolicyNamespace": "shop",
            "egressNetworkPolicyRuleName": "egress-rule-0",
            "egressNetworkPolicyType": 3,
        }
    row.update(cols)
    return row


def insert(warehouse, rows):
    with warehouse.session() as session:
        for row in rows:
            session.execute(flow_insert(row))


@pytest.fixture(params=["duckdb", "fakesnow"])
def warehouse(request):
    return request.getfixturevalue(
        "duckdb_warehouse" if request.param == "duckdb" else "fakesnow_warehouse"
    )


def counts(warehouse, sql, config, window=WINDOW, min_peak=None):
    with warehouse.session() as session:
        got = select_daily_counts(session, sql, config, window, min_peak=min_peak)
    return [(r[0], r[1], r[2].isoformat()[:10], int(r[3]), *r[4:]) for r in got.rows]


def test_window_and_cluster_filters_apply_to_every_dropped_flow(warehouse, sql):
    insert(
        warehouse,
        [
            flow(0, ingress=2),  # counted
            flow(1, egress=3, sourcePodName="api-6d4b75cb6d-x2x7k"),  # counted (egress)
            flow(-1, ingress=2),  # ingress Drop before the window: theia-sf counted it
            flow(-1, ingress=3),  # ingress Reject before the window
            flow(6, egress=2),  # egress Drop after the window
            flow(0, ingress=3, clusterUUID=UUID_B),  # other cluster
            flow(0, ingress=1),  # allowed
            flow(0),  # no policy at all
        ],
    )
    config = DetectionConfig(method="theia", granularity="pod", cluster_uuid=UUID_A)
    got = [r[:4] for r in counts(warehouse, sql, config)]
    assert got == [
        ("shop/api-6d4b75cb6d-x2x7k", "egress", "2024-05-02", 1),
        ("shop/web-7c9f8b6d5-b8c9d", "ingress", "2024-05-01", 1),
    ]
    all_clusters = DetectionConfig(method="theia", granularity="pod")
    assert [r[3] for r in counts(warehouse, sql, all_clusters)] == [1, 2]


def test_direction_and_endpoint_names(warehouse, sql):
    insert(
        warehouse,
        [
            flow(0, ingress=2, egress=3),  # both sides dropped: ingress only
            flow(0, egress=2),  # egress: the source pod
            flow(0, ingress=2, destinationPodName=None, destinationPodNamespace=None,
                 destinationIP="203.0.113.9"),  # non-pod destination: its IP
            flow(0, egress=3, sourcePodName="", sourcePodNamespace="", sourceIP="10.9.9.9"),
        ],
    )  # fmt: skip
    config = DetectionConfig(method="theia", granularity="pod")
    got = {(r[0], r[1]): r[3] for r in counts(warehouse, sql, config)}
    assert got == {
        ("10.9.9.9", "egress"): 1,
        ("203.0.113.9", "ingress"): 1,
        ("shop/client-6d4b75cb6d-x2x7k", "egress"): 1,
        ("shop/web-7c9f8b6d5-b8c9d", "ingress"): 1,
    }


def test_workload_granularity_strips_generated_suffixes(warehouse, sql):
    pods = [
        "web-7c9f8b6d5-b8c9d",  # Deployment pod
        "web-7c9f8b6d5-x2x7k",  # its sibling
        "web-6d4b75cb6d-zz4q7",  # after a rollout (new pod-template-hash)
        "agent-x2x7k",  # DaemonSet pod
        "my-redis",  # no generated suffix (vowels are never generated)
        "db-0",  # StatefulSet pod keeps its name
    ]
    insert(warehouse, [flow(0, ingress=2, destinationPodName=p) for p in pods])
    got = {r[0]: r[3] for r in counts(warehouse, sql, DetectionConfig(method="theia"))}
    assert got == {"shop/web": 3, "shop/agent": 1, "shop/my-redis": 1, "shop/db-0": 1}


def test_zero_fill_starts_when_each_endpoint_was_first_seen_in_any_flow(warehouse, sql):
    a = {"destinationPodName": "a-7c9f8b6d5-b8c9d"}
    b = {"destinationPodName": "b-7c9f8b6d5-b8c9d"}
    c = {"destinationPodName": "c-7c9f8b6d5-b8c9d"}
    insert(
        warehouse,
        [
            flow(1, ingress=2, **a),
            flow(1, 11, ingress=2, **a),
            flow(3, ingress=2, **a),
            flow(2, ingress=2, **b),  # b: first seen when it first dropped
            flow(0, **c),  # c: an allowed flow on 05-01, then drops from 05-03
            flow(2, ingress=2, **c),
            flow(-1, sourcePodName="b-7c9f8b6d5-b8c9d"),  # before the window: not history
        ],
    )
    got = counts(warehouse, sql, DetectionConfig())
    assert [(r[0], r[2], r[3]) for r in got] == [
        ("shop/a", "2024-05-02", 2),  # a's first flow is on 05-02: no day before is invented
        ("shop/a", "2024-05-03", 0),
        ("shop/a", "2024-05-04", 1),
        ("shop/b", "2024-05-03", 1),  # b did not exist before 05-03: no zero history
        ("shop/b", "2024-05-04", 0),
        ("shop/c", "2024-05-01", 0),  # c was seen without drops: zero history from then
        ("shop/c", "2024-05-02", 0),
        ("shop/c", "2024-05-03", 1),
        ("shop/c", "2024-05-04", 0),
    ]
    # theia keeps theia-sf's data: days with drops only.
    assert len(counts(warehouse, sql, DetectionConfig(method="theia"))) == 4


def test_history_of_a_workload_starts_with_its_first_pod_seen_as_a_source(warehouse, sql):
    insert(
        warehouse,
        [
            # The workload's first pod only ever sends (egress side of an allowed flow).
            flow(0, sourcePodName="web-7c9f8b6d5-x2x7k", destinationPodName="db-0"),
            flow(3, ingress=2),  # a later pod of the same workload is dropped on 05-04
        ],
    )
    got = counts(warehouse, sql, DetectionConfig())
    assert [(r[0], r[2], r[3]) for r in got] == [
        ("shop/web", "2024-05-01", 0),
        ("shop/web", "2024-05-02", 0),
        ("shop/web", "2024-05-03", 0),
        ("shop/web", "2024-05-04", 1),
    ]
    pods = counts(warehouse, sql, DetectionConfig(granularity="pod"))
    assert [(r[0], r[2]) for r in pods] == [("shop/web-7c9f8b6d5-b8c9d", "2024-05-04")]


def test_theia_statistics_in_sql_match_the_reference(warehouse, sql):
    worked = [4, 6, 5, 5, 3, 4, 6, 5, 4, 5, 4, 90]
    rows = [
        flow(day, hour=(i % 20), ingress=2, destinationPodName="web-7d9f")
        for day, n in enumerate(worked)
        for i in range(n)
    ]
    rows += [flow(0, egress=3, sourcePodName=None, sourceIP="10.0.3.4")] * 7
    insert(warehouse, rows)
    window = Window(D1, D1 + dt.timedelta(days=12))
    got = counts(warehouse, sql, DetectionConfig(method="theia", granularity="pod"), window)
    web = [r for r in got if r[0] == "shop/web-7d9f"]
    assert [r[3] for r in web] == worked
    n, mean, std = web[-1][4:]
    assert (n, float(mean)) == (12, 11.75)
    assert float(std) == pytest.approx(24.658119, abs=5e-6)
    ip = [r for r in got if r[0] == "10.0.3.4"]
    assert [r[4] for r in ip] == [1]


def test_attribution_names_dropping_rules_and_peers(warehouse, sql):
    rows = [flow(2, ingress=2, rule="ingress-rule-0", sourceIP=f"10.1.0.{i % 2}",
                 sourcePodName=f"scanner-{i % 2}") for i in range(10)]  # fmt: skip
    rows += [flow(2, ingress=3, policy="reject-all", rule="r9")] * 3
    rows += [flow(1, ingress=2, rule="ingress-rule-7")] * 4  # another day: not attributed
    insert(warehouse, rows)
    config = DetectionConfig(granularity="pod", top_n=2)
    anomaly = Anomaly(
        "shop/web-7c9f8b6d5-b8c9d", Direction.INGRESS, dt.date(2024, 5, 3), 13, 0.0, 1.0, 13.0, 2
    )
    with warehouse.session() as session:
        (got,) = select_attribution(session, sql, config, WINDOW, [anomaly])
    rules = [(r.policy, r.rule_name, r.policy_type, r.drops) for r in got.attribution.rules]
    assert rules == [("shop/deny-web", "ingress-rule-0", 2, 10), ("shop/reject-all", "r9", 2, 3)]
    peers = [(p.peer, p.drops) for p in got.attribution.peers]
    assert peers == [("shop/scanner-0", 5), ("shop/scanner-1", 5)]  # top_n=2 of three peers
    assert got.to_record()["top_rule"] == "ingress-rule-0"


def test_persistence_statements_round_trip(warehouse, sql):
    t = dt.datetime(2024, 5, 5, tzinfo=dt.UTC)
    run = {
        "run_id": "dd-1", "method": "baseline", "granularity": "pod", "parameters": "{}",
        "window_start": WINDOW.start, "window_end": WINDOW.end, "cluster_uuid": None,
        "status": "succeeded", "dropped_flows": 5, "series_count": 1, "anomaly_count": 2,
        "message": None, "started_at": t, "finished_at": t,
    }  # fmt: skip
    binds = {"run_id": "dd-1", "method": "baseline", "granularity": "pod",
             "cluster_uuid": None, "detected_at": t}  # fmt: skip
    for i in range(2):
        binds |= {
            f"anomaly_key_{i}": f"k{i}", f"endpoint_{i}": "x'); DROP TABLE FLOWS; --",
            f"direction_{i}": "ingress", f"anomaly_date_{i}": f"2024-05-0{i + 2}",
            f"drop_count_{i}": 50 + i, f"baseline_mean_{i}": 1.5, f"baseline_stdev_{i}": 1.0,
            f"score_{i}": 48.5, f"history_days_{i}": 3, f"top_policy_{i}": "shop/deny",
            f"top_rule_{i}": "r0", f"top_peer_{i}": None,
            f"attribution_{i}": json.dumps({"rules": [], "peers": []}),
        }  # fmt: skip
    with warehouse.session() as s:
        for _ in range(2):  # delete-then-insert: the second pass replaces the first
            s.execute(sql.render("detection/delete_detection_run.sql", binds={"run_id": "dd-1"}))
            s.execute(sql.render("detection/insert_detection_run.sql", binds=run))
            s.execute(sql.render("detection/insert_drop_anomalies.sql", binds=binds, row_count=2))
        s.execute(
            sql.render(
                "detection/insert_alert_deliveries.sql",
                binds={"sink_id": "hook", "run_id": "dd-1", "delivered_at": t,
                       "anomaly_key_0": "k0", "endpoint_0": "e", "direction_0": "ingress",
                       "anomaly_date_0": "2024-05-02"},
                row_count=1,
            )
        )  # fmt: skip
        runs = s.fetch(sql.render("detection/select_detection_run.sql", binds={"run_id": "dd-1"}))
        every = s.fetch(
            sql.render(
                "detection/select_drop_anomalies.sql",
                binds={"run_id": "dd-1"},
                undelivered_only=False,
            )
        )
        pending = s.fetch(
            sql.render(
                "detection/select_drop_anomalies.sql",
                binds={"run_id": "dd-1", "sink_id": "hook"},
                undelivered_only=True,
            )
        )
        other = s.fetch(sql.render("detection/select_drop_anomalies.sql",
                                   binds={"run_id": "dd-1", "sink_id": "sns"},
                                   undelivered_only=True))  # fmt: skip
    assert [r["status"] for r in runs] == ["succeeded"]
    assert [r["anomalykey"] for r in every] == ["k0", "k1"]
    assert every[0]["endpoint"] == "x'); DROP TABLE FLOWS; --"
    assert str(every[1]["anomalydate"])[:10] == "2024-05-03"
    assert [r["anomalykey"] for r in pending] == ["k1"]
    assert [r["anomalykey"] for r in other] == ["k0", "k1"]


def test_min_peak_keeps_only_series_that_can_be_anomalous_and_totals_cover_all(warehouse, sql):
    quiet = {"destinationPodName": "quiet-7c9f8b6d5-b8c9d"}
    busy = {"destinationPodName": "busy-7c9f8b6d5-b8c9d"}
    insert(
        warehouse,
        [flow(0, ingress=2, **quiet), flow(1, ingress=2, **quiet)]
        + [flow(1, hour, ingress=2, **busy) for hour in range(5)],
    )
    with warehouse.session() as session:
        got = select_daily_counts(session, sql, DetectionConfig(), WINDOW, min_peak=5)
        none = select_daily_counts(session, sql, DetectionConfig(), WINDOW, min_peak=6)
    assert {r[0] for r in got.rows} == {"shop/busy"}
    assert len(got.rows) == 3  # zero-filled from busy's first flow (05-02) to 05-04
    assert (got.dropped_flows, got.series_count) == (7, 2)
    assert (none.rows, none.dropped_flows, none.series_count) == ([], 7, 2)
