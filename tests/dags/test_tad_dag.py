"""The theia_throughput_anomaly_detection DAG: structure, Params, and an end-to-end run."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from dagtest import run_dag_tests, validated_conf

from webhooks import WebhookServer

airflow = pytest.importorskip("airflow")

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "theia_throughput_anomaly_detection.py"


def test_dag_shape(dag):
    assert dag.dag_id == DAG_FILE.stem
    assert set(dag.tags) == {"theia", "detection"}
    assert dag.doc_md and "throughput anomaly detection" in dag.doc_md
    assert dag.schedule is not None  # nightly
    assert set(dag.task_ids) == {
        "check_params", "detect_anomalies", "publish_results", "send_alerts",
    }  # fmt: skip
    for task_id in ("detect_anomalies", "publish_results"):
        assert dag.get_task(task_id).pool == "theia_warehouse"
    # Talking to a sink never holds the warehouse pool (its warehouse sessions are short).
    assert dag.get_task("send_alerts").pool != "theia_warehouse"
    assert dag.dagrun_timeout is not None and dag.on_failure_callback
    assert [o.name for o in dag.get_task("publish_results").outlets] == [
        "theia_throughput_anomalies"
    ]
    assert dag.get_task("check_params").retries == 0
    assert dag.get_task("send_alerts").retries >= 1


def test_defaults_validate_as_standard_theia(dag):
    values = dag.params.validate()
    assert (values["algorithm"], values["agg_flow"], values["variant"]) == (
        "EWMA", "none", "theia",
    )  # fmt: skip
    assert values["ns_ignore_list"] == [] and values["alert_connections"] == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("algorithm", "ewma"),  # case-sensitive, as standard Theia's --algo
        ("algorithm", "LSTM"),
        ("agg_flow", "node"),
        ("variant", "fixed"),
        ("ns_ignore_list", "kube-system"),  # a string, not a list
        ("ns_ignore_list", ["Kube_System"]),
        ("ns_ignore_list", ["a", "a"]),
        ("pod_name", "web pod"),
        ("pod_namespace", "NS"),
        ("svc_port_name", "web:http"),
        ("pod_label", "x" * 300),
        ("start", "yesterday"),
        ("lookback", 0),
        ("cluster_uuid", "nope"),
        ("alert_connections", ["a b"]),
        ("warehouse_name", "wh; DROP TABLE FLOWS"),
    ],
)
def test_bad_params_are_refused_naming_the_param(dag, name, value):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match=name):
        validated_conf(dag, {name: value})


def _check(dag, conf):
    import pendulum

    return dag.get_task("check_params").python_callable(
        params=validated_conf(dag, conf),
        dag=dag,
        dag_run=None,
        data_interval_end=pendulum.datetime(2024, 5, 2, tz="UTC"),
    )


def test_check_params_resolves_window_and_config(dag):
    plan = _check(
        dag, {"agg_flow": "pod", "pod_label": '"app":"web"', "ns_ignore_list": ["b", "a"]}
    )
    assert plan["window"] == {
        "start": "2024-05-01T00:00:00+00:00",
        "end": "2024-05-02T00:00:00+00:00",
    }
    assert plan["config"]["ns_ignore_list"] == ["a", "b"]
    assert plan["config"]["pod_label"] == '"app":"web"'


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"external_ip": "203.0.113.9"}, "external_ip filters agg_flow=external"),
        ({"agg_flow": "external", "external_ip": "10.0.0.300"}, "not an IP address"),
        ({"agg_flow": "pod", "pod_namespace": "shop"}, "needs pod_label or pod_name"),
        ({"alert_connections": ["no_such_hook"]}, "'no_such_hook'"),
        ({"start": "2024-05-02T00:00:00Z", "end": "2024-05-01T00:00:00Z"}, "not after its start"),
    ],
)
def test_cross_field_problems_fail_the_first_task(dag, conf, message):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=message):
        _check(dag, conf)


T0 = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
SPIKE = 20


def _service_flows():
    """Two service ports, one point every 10 s; shop/web:http has one spike."""
    rows = []
    for i in range(40):
        end = T0 + dt.timedelta(seconds=10 * i)
        for port, level in (("shop/web:http", 1_000_000), ("shop/db:sql", 500_000)):
            value = level + (i % 3) * 1000
            if port == "shop/web:http" and i == SPIKE:
                value = 900_000_000
            rows.append({
                "flowStartSeconds": end - dt.timedelta(seconds=5),
                "flowEndSeconds": end,
                "sourceIP": "10.0.0.1",
                "destinationIP": "10.0.0.2",
                "sourcePodNamespace": "shop",
                "destinationPodNamespace": "shop",
                "destinationServicePortName": port,
                "protocolIdentifier": 6,
                "throughput": value,
            })  # fmt: skip
    return rows


@pytest.mark.slow
def test_service_spike_is_detected_published_and_alerted_once(tmp_path, sql):
    from flowrows import insert_flows_in_one_transaction, migrated_duckdb_file
    from theia_sf.sql import Query

    duckdb_path = tmp_path / "theia.duckdb"
    warehouse = migrated_duckdb_file(duckdb_path, sql)
    insert_flows_in_one_transaction(warehouse, _service_flows())

    server = WebhookServer()
    results = tmp_path / "results"
    webhook = {"conn_type": "http", "host": server.url}
    window = {"start": "2024-05-01T00:00:00Z", "end": "2024-05-02T00:00:00Z"}
    alerting = {**window, "agg_flow": "svc", "alert_connections": ["ops_webhook"]}
    confs = [
        alerting,
        alerting,  # the same window again: replaces its results, alerts nothing new
        {**alerting, "algorithm": "DBSCAN"},  # the same spike: already alerted
        # No alerts (given explicitly: dag.test() runs every conf on one DAG object).
        {
            **window,
            "agg_flow": "svc",
            "algorithm": "ARIMA",
            "svc_port_name": "shop/web:http",
            "alert_connections": [],
        },
        {**window, "external_ip": "203.0.113.9"},  # a filter of another mode
    ]
    try:
        runs, log = run_dag_tests(
            DAG_FILE.stem, tmp_path, confs, duckdb_path, results,
            extra_env={"AIRFLOW_CONN_OPS_WEBHOOK": json.dumps(webhook)},
        )  # fmt: skip
    finally:
        server.close()
    *good, bad = runs
    for states in good:
        assert set(states.values()) == {"success"}, (runs, log[:20000])
    assert bad["check_params"] == "failed"
    assert {bad[t] for t in ("detect_anomalies", "publish_results", "send_alerts")} == {
        "upstream_failed"
    }

    with warehouse.session(read_only=True) as s:
        runs_rows = s.fetch(Query("t", "SELECT runId, algorithm, status, seriesCount, "
                                       "anomalyCount FROM TAD_RUNS ORDER BY algorithm"))  # fmt: skip
        points = s.fetch(Query("t", "SELECT runId, seriesLabel, flowEndSeconds, throughput "
                                    "FROM TAD_ANOMALIES"))  # fmt: skip
    assert [(r["algorithm"], r["status"]) for r in runs_rows] == [
        ("ARIMA", "succeeded"), ("DBSCAN", "succeeded"), ("EWMA", "succeeded"),
    ]  # fmt: skip
    assert {r["algorithm"]: int(r["seriescount"]) for r in runs_rows} == {
        "ARIMA": 1, "DBSCAN": 2, "EWMA": 2,
    }  # fmt: skip
    spike_end = T0 + dt.timedelta(seconds=10 * SPIKE)
    by_run = {}
    for p in points:
        by_run.setdefault(p["runid"], set()).add((p["serieslabel"], p["flowendseconds"]))
    for r in runs_rows:
        assert ("svc shop/web:http", spike_end) in by_run[r["runid"]], r["algorithm"]

    # The published document is the last run's (ARIMA), under its run id and latest.
    doc = json.loads((results / "tad" / "latest" / "anomalies.json").read_text())
    assert doc["run"]["algorithm"] == "ARIMA" and doc["run"]["agg_flow"] == "svc"
    assert (results / "tad" / "runs" / doc["run"]["run_id"] / "anomalies.json").exists()
    assert any(a["flow_end"] == "2024-05-01T10:03:20Z" for a in doc["anomalies"])

    # One message for the alerting runs: later runs found the same points, nothing new.
    sent = [line for line in log.splitlines() if "alert sink" in line or "send_alerts" in line]
    seen = [(b["subject"], b["run"].get("run_id"), sorted({a["algorithm"] for a in b["anomalies"]}))
            for b in server.delivered]  # fmt: skip
    assert len(server.delivered) == 1, (seen, sent)
    (body,) = server.delivered
    assert "throughput anomal" in body["subject"]
    assert "• svc shop/web:http at 2024-05-01T10:03:20Z: 900.00 Mbps" in body["text"]
