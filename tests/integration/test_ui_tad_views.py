"""The Theia page's throughput anomaly views: runs, flagged points, a series drawn again."""

from __future__ import annotations

import datetime as dt

import pytest

from flowrows import insert_flows_in_one_transaction
from theia_sf.services.tad import run_throughput_anomaly_detection
from theia_sf.tad.model import TadConfig
from theia_sf.timewindow import Window
from theia_sf.ui.views import (
    InvalidRequestError,
    NotFoundError,
    TheiaViews,
    tad_anomalies,
    tad_runs,
    tad_series,
)

pytestmark = pytest.mark.integration

T0 = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
WINDOW = Window(dt.datetime(2024, 5, 1, tzinfo=dt.UTC), dt.datetime(2024, 5, 2, tzinfo=dt.UTC))


def pod_flows():
    """web pods (labels with a generated hash) receive from client; one spike at point 12."""
    rows = []
    for i in range(25):
        end = T0 + dt.timedelta(seconds=10 * i)
        rows.append({
            "flowStartSeconds": end - dt.timedelta(seconds=5), "flowEndSeconds": end,
            "sourceIP": "10.0.0.1", "sourcePodNamespace": "shop", "sourcePodName": "client-0",
            "sourcePodLabels": '{"app":"client"}',
            "destinationIP": "10.0.0.2", "destinationPodNamespace": "shop",
            "destinationPodName": "web-7c9f8b6d5-b8c9d",
            "destinationPodLabels": '{"app":"web","pod-template-hash":"7c9f8b6d5"}',
            "protocolIdentifier": 6, "throughput": 900_000_000 if i == 12 else 1_000_000 + i,
        })  # fmt: skip
    return rows


@pytest.fixture
def views(duckdb_warehouse, sql):
    insert_flows_in_one_transaction(duckdb_warehouse, pod_flows())
    return TheiaViews(duckdb_warehouse, sql)


def test_series_of_a_flagged_point_is_drawn_with_its_flags(views, duckdb_warehouse, sql):
    config = TadConfig(algorithm="DBSCAN", agg_flow="pod")
    result = run_throughput_anomaly_detection(duckdb_warehouse, sql, config, WINDOW)
    (run,) = tad_runs(views)
    assert (run["run_id"], run["algorithm"], run["agg_flow"]) == (result.run_id, "DBSCAN", "pod")
    assert run["parameters"]["agg_flow"] == "pod" and run["anomaly_count"] == 2
    points = tad_anomalies(views, "latest")
    # The spike is inbound to web and outbound from client.
    assert sorted(p["series"] for p in points) == [
        'pod shop {"app": "client"} outbound',
        'pod shop {"app": "web"} inbound',
    ]
    web = next(p for p in points if p["direction"] == "inbound")
    assert web["pod_labels"] == '{"app": "web"}'  # shown without the generated key
    drawn = tad_series(views, result.run_id, web["series"])
    assert drawn["point_count"] == 25 and not drawn["truncated"]
    assert [p["throughput"] for p in drawn["points"]][11:14] == [1_000_011, 900_000_000, 1_000_013]
    assert drawn["points"][0]["flow_end"] < drawn["points"][-1]["flow_end"]  # time order
    assert [a["flow_end"] for a in drawn["anomalies"]] == [drawn["points"][12]["flow_end"]]


def test_connection_series_is_selected_by_its_key(views, duckdb_warehouse, sql):
    result = run_throughput_anomaly_detection(
        duckdb_warehouse, sql, TadConfig(algorithm="DBSCAN"), WINDOW
    )
    # Each record is its own connection (a new flowStartSeconds): series of one point,
    # all noise under standard Theia's DBSCAN.
    points = tad_anomalies(views, result.run_id)
    assert len(points) == 25
    drawn = tad_series(views, result.run_id, points[3]["series"])
    assert drawn["point_count"] == 1 and len(drawn["anomalies"]) == 1


def test_bad_requests_are_refused(views, duckdb_warehouse, sql):
    with pytest.raises(NotFoundError, match="no throughput anomaly detection run"):
        tad_anomalies(views, "latest")
    with pytest.raises(InvalidRequestError):
        tad_anomalies(views, "x'; DROP TABLE TAD_RUNS; --")
    result = run_throughput_anomaly_detection(duckdb_warehouse, sql, TadConfig(), WINDOW)
    with pytest.raises(NotFoundError, match="flagged no point"):
        tad_series(views, result.run_id, "external 1.2.3.4")
    with pytest.raises(InvalidRequestError):
        tad_runs(views, limit=0)
