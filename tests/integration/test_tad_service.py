"""The throughput anomaly detection service end to end: score, persist, publish, alert once."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flowrows import insert_flows_in_one_transaction
from theia_sf.alerts.model import AlertDeliveryError
from theia_sf.objectstore import LocalObjectStore
from theia_sf.services import tad as service
from theia_sf.sql import Query
from theia_sf.tad.model import TadConfig
from theia_sf.timewindow import Window

T0 = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
WINDOW = Window(dt.datetime(2024, 5, 1, tzinfo=dt.UTC), dt.datetime(2024, 5, 2, tzinfo=dt.UTC))
EXTERNAL = "203.0.113.9"


def external_flows(spike_at=15, points=30):
    """Flows to one external IP every 10 s (two flows per point), one spike."""
    rows = []
    for i in range(points):
        end = T0 + dt.timedelta(seconds=10 * i)
        for source, share in (("10.0.0.1", 600_000), ("10.0.0.2", 400_000 + (i % 4) * 500)):
            value = 800_000_000 if i == spike_at and source == "10.0.0.1" else share
            rows.append({
                "flowStartSeconds": end - dt.timedelta(seconds=5), "flowEndSeconds": end,
                "sourceIP": source, "sourcePodNamespace": "shop", "sourcePodName": "web-0",
                "destinationIP": EXTERNAL, "flowType": 3, "protocolIdentifier": 6,
                "throughput": value,
            })  # fmt: skip
    return rows


@pytest.fixture(params=["duckdb", "fakesnow"])
def warehouse(request):
    warehouse = request.getfixturevalue(
        "duckdb_warehouse" if request.param == "duckdb" else "fakesnow_warehouse"
    )
    insert_flows_in_one_transaction(warehouse, external_flows())
    return warehouse


def count(warehouse, table):
    with warehouse.session(read_only=True) as s:
        return s.fetch(Query("t", f"SELECT COUNT(*) AS n FROM {table}"))[0]["n"]


@pytest.mark.parametrize("algorithm", ["EWMA", "DBSCAN"])
def test_spike_is_found_stored_and_published(warehouse, sql, tmp_path, algorithm):
    config = TadConfig(algorithm=algorithm, agg_flow="external")
    result = service.run_throughput_anomaly_detection(warehouse, sql, config, WINDOW)
    spike = T0 + dt.timedelta(seconds=150)
    assert (result.series_count, result.point_count, result.skipped_series) == (1, 30, 0)
    assert spike in {a.flow_end for a in result.anomalies}
    store = LocalObjectStore(tmp_path / "results", create=True)
    uris = service.publish_results(warehouse, sql, store, result.run_id)
    path = tmp_path / "results" / "tad" / "runs" / result.run_id / "anomalies.json"
    assert uris == {"anomalies.json": str(path)}
    doc = json.loads(path.read_text())
    assert doc == json.loads(
        (tmp_path / "results" / "tad" / "latest" / "anomalies.json").read_text()
    )
    assert doc["run"]["status"] == "succeeded" and doc["run"]["anomaly_count"] == len(
        result.anomalies
    )
    point = next(a for a in doc["anomalies"] if a["flow_end"] == "2024-05-01T10:02:30Z")
    assert point["series"] == f"external {EXTERNAL}"
    assert point["destination_ip"] == EXTERNAL and point["source_ip"] is None
    assert point["throughput"] == 800_401_500.0  # the point sums both flows
    assert point["algorithm"] == algorithm
    if algorithm == "DBSCAN":
        assert point["algo_calc"] == 0.0 and len(doc["anomalies"]) == 1
    else:
        assert point["algo_calc"] == pytest.approx(point["throughput"] / 2, rel=0.01)
        assert point["stddev"] > 0


def test_rerun_replaces_and_alerts_only_new_points(warehouse, sql, webhook_server, webhook):
    config = TadConfig(algorithm="EWMA", agg_flow="external")
    first = service.run_throughput_anomaly_detection(warehouse, sql, config, WINDOW)
    again = service.run_throughput_anomaly_detection(warehouse, sql, config, WINDOW)
    assert again.run_id == first.run_id
    assert count(warehouse, "TAD_RUNS") == 1
    assert count(warehouse, "TAD_ANOMALIES") == len(first.anomalies)
    sink = webhook("ops", webhook_server.url)
    (outcome,) = service.send_alerts(warehouse, sql, first.run_id, [sink])
    assert outcome.delivered == len(first.anomalies)
    (body,) = webhook_server.delivered
    assert body["subject"].startswith(f"Theia: {len(first.anomalies)} throughput anomal")
    assert f"• external {EXTERNAL} at 2024-05-01T10:02:30Z: 800.40 Gbps" not in body["text"]
    assert f"• external {EXTERNAL} at 2024-05-01T10:02:30Z: 800.40 Mbps (EWMA" in body["text"]
    # Another algorithm over the same window flags the spike again: not a new anomaly.
    dbscan = TadConfig(algorithm="DBSCAN", agg_flow="external")
    other = service.run_throughput_anomaly_detection(warehouse, sql, dbscan, WINDOW)
    assert [o.delivered for o in service.send_alerts(warehouse, sql, other.run_id, [sink])] == [0]
    assert len(webhook_server.delivered) == 1


def test_failed_delivery_leaves_points_unalerted(duckdb_warehouse, sql, webhook_server, webhook):
    insert_flows_in_one_transaction(duckdb_warehouse, external_flows())
    config = TadConfig(algorithm="DBSCAN", agg_flow="external")
    result = service.run_throughput_anomaly_detection(duckdb_warehouse, sql, config, WINDOW)
    sink = webhook("ops", webhook_server.url)
    webhook_server.mode = "fail"
    with pytest.raises(AlertDeliveryError):
        service.send_alerts(duckdb_warehouse, sql, result.run_id, [sink])
    webhook_server.mode = "ok"
    (outcome,) = service.send_alerts(duckdb_warehouse, sql, result.run_id, [sink])
    assert outcome.delivered == 1
    with duckdb_warehouse.session(read_only=True) as s:
        rows = s.fetch(
            Query("t", "SELECT endpoint, direction, anomalyDate FROM DROP_ALERT_DELIVERIES")
        )
    assert [(r["endpoint"], r["direction"], str(r["anomalydate"])) for r in rows] == [
        (f"external {EXTERNAL}", "external", "2024-05-01")
    ]


def test_arima_scores_and_counts_skipped_series(duckdb_warehouse, sql):
    rows = external_flows(points=12)
    # A second destination with a zero point: Box-Cox cannot take it; ARIMA skips the series.
    rows += [{**r, "destinationIP": "198.51.100.7", "throughput": 0 if i in (2, 3) else r["throughput"]}
             for i, r in enumerate(external_flows(points=12))]  # fmt: skip
    insert_flows_in_one_transaction(duckdb_warehouse, rows)
    config = TadConfig(algorithm="ARIMA", agg_flow="external", external_ip=None)
    result = service.run_throughput_anomaly_detection(duckdb_warehouse, sql, config, WINDOW)
    assert (result.series_count, result.skipped_series) == (2, 1)
    assert {a.key.label() for a in result.anomalies} <= {f"external {EXTERNAL}"}
    doc = service.load_results(duckdb_warehouse, sql, result.run_id)
    assert doc["run"]["skipped_series"] == 1 and doc["run"]["point_count"] == 24


def test_failed_run_is_recorded_and_raises(duckdb_warehouse, sql, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("scoring failed")

    monkeypatch.setitem(service.SCORERS, service.Algorithm.EWMA, boom)
    insert_flows_in_one_transaction(duckdb_warehouse, external_flows())
    config = TadConfig(agg_flow="external")
    with pytest.raises(RuntimeError, match="scoring failed"):
        service.run_throughput_anomaly_detection(duckdb_warehouse, sql, config, WINDOW)
    with duckdb_warehouse.session(read_only=True) as s:
        (run,) = s.fetch(Query("t", "SELECT status, message FROM TAD_RUNS"))
    assert run["status"] == "failed" and "scoring failed" in run["message"]


def test_no_flows_means_an_empty_successful_run(duckdb_warehouse, sql):
    result = service.run_throughput_anomaly_detection(duckdb_warehouse, sql, TadConfig(), WINDOW)
    assert (result.series_count, result.anomalies) == (0, ())
    doc = service.load_results(duckdb_warehouse, sql, result.run_id)
    assert doc["run"]["anomaly_count"] == 0 and doc["anomalies"] == []


def test_overflowing_prediction_is_stored_as_no_value(duckdb_warehouse, sql, monkeypatch):
    def overflowing(values, stddev, variant):
        return [float("inf")] * len(values), [True] * len(values)

    monkeypatch.setitem(service.SCORERS, service.Algorithm.ARIMA, overflowing)
    insert_flows_in_one_transaction(duckdb_warehouse, external_flows(points=4))
    config = TadConfig(algorithm="ARIMA", agg_flow="external")
    result = service.run_throughput_anomaly_detection(duckdb_warehouse, sql, config, WINDOW)
    assert json.dumps(result.to_record(), allow_nan=False)  # what crosses XCom
    doc = service.load_results(duckdb_warehouse, sql, result.run_id)
    assert [a["algo_calc"] for a in doc["anomalies"]] == [None] * 4
