"""The theia_drop_detection DAG: structure, Param validation, and an end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagtest import run_dag_tests, validated_conf

from webhooks import WebhookServer

airflow = pytest.importorskip("airflow")

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "theia_drop_detection.py"


def test_dag_shape(dag):
    assert dag.dag_id == DAG_FILE.stem
    assert set(dag.tags) == {"theia", "detection"}
    assert dag.doc_md and "drop detection" in dag.doc_md
    assert set(dag.task_ids) == {"check_params", "detect_drops", "publish_results", "send_alerts"}
    for task_id in ("detect_drops", "publish_results"):
        assert dag.get_task(task_id).pool == "theia_warehouse"
    # Talking to a sink never holds the warehouse pool (its warehouse sessions are short).
    assert dag.get_task("send_alerts").pool != "theia_warehouse"
    outlets = dag.get_task("publish_results").outlets
    assert [o.name for o in outlets] == ["theia_drop_anomalies"]
    assert dag.get_task("check_params").retries == 0
    assert dag.get_task("send_alerts").retries >= 1  # a failed delivery is retried
    assert dag.get_task("check_params").downstream_task_ids == {
        "detect_drops", "publish_results", "send_alerts",
    }  # fmt: skip
    assert set(dag.params) == {
        "method", "start", "end", "lookback", "cluster_uuid", "granularity", "sigma",
        "min_history_days", "min_drops", "shift_days", "alert_connections", "warehouse_name",
    }  # fmt: skip


def test_defaults_validate(dag):
    values = dag.params.validate()
    assert values["method"] == "baseline"
    assert values["lookback"] == 30
    assert values["sigma"] == 3.0
    assert values["min_history_days"] == 3
    assert values["alert_connections"] == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("method", "zscore"),
        ("granularity", "node"),
        ("sigma", 0),
        ("sigma", -2.5),
        ("sigma", "three"),
        ("min_history_days", 0),
        ("min_drops", -1),
        ("shift_days", 0),
        ("start", "yesterday"),
        ("end", "2024-05-01"),
        ("lookback", 0),
        ("cluster_uuid", "not-a-uuid"),
        ("alert_connections", "ops_webhook"),  # a string, not a list
        ("alert_connections", ["ops webhook; rm -rf"]),
        ("alert_connections", ["a", "a"]),
        ("warehouse_name", "wh; DROP TABLE FLOWS"),
    ],
)
def test_bad_params_are_refused_naming_the_param(dag, name, value):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match=name):
        validated_conf(dag, {name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("method", "theia"),
        ("sigma", 2.5),
        ("min_history_days", 1),
        ("start", "now-14d"),
        ("alert_connections", ["ops_webhook", "theia_aws"]),
    ],
)
def test_good_params_pass(dag, name, value):
    assert validated_conf(dag, {name: value})[name] == value


def _check(dag, conf):
    import pendulum

    task = dag.get_task("check_params")
    return task.python_callable(
        params=validated_conf(dag, conf), dag=dag,
        data_interval_end=pendulum.datetime(2024, 5, 31, tz="UTC"),
    )  # fmt: skip


def test_check_params_resolves_the_window_and_config(dag, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_OPS_WEBHOOK", '{"conn_type": "http", "host": "127.0.0.1"}')
    plan = _check(dag, {"lookback": 7, "sigma": 4, "alert_connections": ["ops_webhook"]})
    assert plan["window"] == {
        "start": "2024-05-24T00:00:00+00:00",
        "end": "2024-05-31T00:00:00+00:00",
    }
    assert plan["config"]["sigma"] == 4.0 and plan["config"]["granularity"] == "workload"
    assert plan["alert_connections"] == ["ops_webhook"]
    assert plan["config"]["shift_days"] == 3


def test_run_without_data_interval_ends_its_window_now(dag):
    import datetime as dt

    task = dag.get_task("check_params")
    before = dt.datetime.now(dt.UTC)
    plan = task.python_callable(
        params=validated_conf(dag, {"lookback": 2}), dag=dag, data_interval_end=None
    )
    end = dt.datetime.fromisoformat(plan["window"]["end"])
    assert before <= end <= dt.datetime.now(dt.UTC)
    assert end - dt.datetime.fromisoformat(plan["window"]["start"]) == dt.timedelta(days=2)


def test_unknown_alert_connection_fails_the_first_task(dag):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=r"alert_connections.*'no_such_hook'"):
        _check(dag, {"alert_connections": ["no_such_hook"]})


def test_end_before_start_fails_the_first_task(dag):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=r"ends at 2024-05-01 00:00:00 UTC, which is not after its start"):
        _check(dag, {"start": "2024-05-02T00:00:00Z", "end": "2024-05-01T00:00:00Z"})


@pytest.mark.slow
def test_generated_flows_spike_is_detected_published_and_alerted_once(tmp_path, sql):
    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.demo import generate_flows
    from theia_sf.ingest import ingest_flows
    from theia_sf.migrations import migrate
    from theia_sf.objectstore import LocalObjectStore
    from theia_sf.sql import Query

    flows_dir = tmp_path / "flows"
    demo = generate_flows(flows_dir, records=6000, days=8, seed=5)
    duckdb_path = tmp_path / "theia.duckdb"
    warehouse = DuckDBWarehouse(duckdb_path, lock_timeout=60)
    with warehouse.session() as session:
        migrate(session, sql)
    assert ingest_flows(warehouse, sql, LocalObjectStore(flows_dir)).files_loaded >= 1

    server = WebhookServer()
    results = tmp_path / "results"
    webhook = {"conn_type": "http", "host": server.url}
    # The demo's spike is today; under the tests' Airflow unit-test mode dag.test()'s data
    # interval ends at the last midnight (a REST-triggered run's ends at trigger time).
    alerting = {"alert_connections": ["ops_webhook"], "end": "now"}
    confs = [alerting, alerting, {"alert_connections": ["no_such_hook"]}]
    try:
        (first, second, bad), log = run_dag_tests(
            "theia_drop_detection", tmp_path, confs, duckdb_path, results,
            extra_env={"AIRFLOW_CONN_OPS_WEBHOOK": json.dumps(webhook)},
        )
    finally:
        server.close()
    assert set(first.values()) == set(second.values()) == {"success"}, log[-5000:]
    # The unknown connection stops the run in its first task: no warehouse task runs.
    assert bad["check_params"] == "failed"
    assert {bad[t] for t in ("detect_drops", "publish_results", "send_alerts")} == {
        "upstream_failed"
    }

    spike = demo.spike
    doc = json.loads((results / "detection" / "latest" / "anomalies.json").read_text())
    found = {(a["endpoint"], a["direction"], a["day"]): a for a in doc["anomalies"]}
    key = (spike["workload"], "ingress", spike["day"])
    assert key in found, sorted(found)
    assert found[key]["drops"] == spike["drops"]
    assert found[key]["top_policy"] == spike["policy"]
    run_id = doc["run"]["run_id"]
    assert (results / "detection" / "runs" / run_id / "anomalies.json").exists()

    # One alert message for the two runs: the second found the same anomalies, nothing new.
    assert len(server.delivered) == 1, server.delivered
    (body,) = server.delivered
    assert f"• {spike['workload']} ingress {spike['day']}: {spike['drops']} drops" in body["text"]
    assert {a["endpoint"] for a in body["anomalies"]} == {e for e, _, _ in found}

    with warehouse.session(read_only=True) as s:
        runs = s.fetch(Query("t", "SELECT runId, status FROM DROP_DETECTION_RUNS"))
    # Two runs ("end": "now" moves), both stored; the third never reached the warehouse.
    assert len(runs) == 2 and {r["status"] for r in runs} == {"succeeded"}
    assert run_id in {r["runid"] for r in runs}
