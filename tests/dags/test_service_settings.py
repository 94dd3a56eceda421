"""Running as a service: deployment settings, timeouts, schedules, failure messages."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from dagtest import load_dag, validated_conf

airflow = pytest.importorskip("airflow")

ROOT = Path(__file__).resolve().parents[2]
DAG_IDS = sorted(p.stem for p in (ROOT / "dags").glob("theia_*.py"))


class _DagRun:
    def __init__(self, conf):
        self.conf = conf


def _plan(dag, conf, monkeypatch, setting):
    import pendulum

    if setting is not None:
        monkeypatch.setenv("AIRFLOW_VAR_THEIA_DROP_DETECTION", json.dumps(setting))
    task = dag.get_task("check_params")
    return task.python_callable(
        params=validated_conf(dag, conf), dag=dag, dag_run=_DagRun(conf),
        data_interval_end=pendulum.datetime(2024, 5, 31, tz="UTC"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def detection():
    return load_dag("theia_drop_detection")


@pytest.fixture
def hooks(monkeypatch):
    for name in ("OPS_WEBHOOK", "OTHER_HOOK"):
        monkeypatch.setenv(f"AIRFLOW_CONN_{name}", '{"conn_type": "http", "host": "127.0.0.1"}')


def test_a_run_without_conf_takes_the_setting(detection, monkeypatch, hooks):
    plan = _plan(detection, {}, monkeypatch,
                 {"alert_connections": ["ops_webhook"], "sigma": 4.5, "lookback": 10})  # fmt: skip
    assert plan["alert_connections"] == ["ops_webhook"]
    assert plan["config"]["sigma"] == 4.5
    assert plan["window"]["start"] == "2024-05-21T00:00:00+00:00"
    assert plan["sources"]["alert_connections"] == "setting"
    assert plan["sources"]["method"] == "default"
    assert plan["params"]["alert_connections"] == ["ops_webhook"]


def test_a_param_given_in_the_conf_wins_over_the_setting(detection, monkeypatch, hooks):
    plan = _plan(detection, {"alert_connections": ["other_hook"], "sigma": 3.0}, monkeypatch,
                 {"alert_connections": ["ops_webhook"], "sigma": 4.5})  # fmt: skip
    assert plan["alert_connections"] == ["other_hook"]
    assert plan["sources"]["alert_connections"] == "conf"
    # The trigger form sends every field: a value left at the DAG's default is not a choice.
    assert plan["config"]["sigma"] == 4.5 and plan["sources"]["sigma"] == "setting"


def test_no_setting_keeps_the_dag_defaults(detection, monkeypatch):
    monkeypatch.delenv("AIRFLOW_VAR_THEIA_DROP_DETECTION", raising=False)
    plan = _plan(detection, {}, monkeypatch, None)
    assert plan["alert_connections"] == []
    assert set(plan["sources"].values()) == {"default"}


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"alert_conections": ["ops_webhook"]}, r"'alert_conections'.*did you mean 'alert_connections'"),
        ({"sigma": -1}, r"sigma: -1 is less than or equal to the minimum of 0"),
        ({"alert_connections": "ops_webhook"}, r"alert_connections: 'ops_webhook' is not of type 'array'"),
        (["ops_webhook"], r"must hold a JSON object"),
    ],
)  # fmt: skip
def test_a_bad_setting_fails_the_first_task_naming_it(detection, monkeypatch, setting, message):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=r"theia_drop_detection.*" + message):
        _plan(detection, {}, monkeypatch, setting)


def test_a_setting_that_is_not_json_is_named(detection, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.setenv("AIRFLOW_VAR_THEIA_DROP_DETECTION", "{alert_connections: x}")
    with pytest.raises(AirflowFailException, match="'theia_drop_detection' is not valid JSON"):
        _plan(detection, {}, monkeypatch, None)


def test_the_effective_values_are_logged(detection, monkeypatch, hooks, caplog):
    with caplog.at_level(logging.INFO, logger="theia_sf.airflow.settings"):
        _plan(detection, {}, monkeypatch, {"alert_connections": ["ops_webhook"]})
    assert 'effective alert_connections = ["ops_webhook"] (Variable theia_drop_detection)' in (
        caplog.text
    )
    assert "effective sigma = 3.0 (default)" in caplog.text


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_every_task_and_run_has_a_timeout_and_the_run_a_failure_message(dag_id):
    from theia_sf.airflow.notify import notify_run_failure, record_task_failure

    dag = load_dag(dag_id)
    assert dag.dagrun_timeout is not None and dag.dagrun_timeout.total_seconds() > 0
    assert dag.on_failure_callback is notify_run_failure
    longest = max(t.execution_timeout for t in dag.tasks)
    assert longest <= dag.dagrun_timeout, "a task could never use its own timeout"
    for task in dag.tasks:
        assert task.execution_timeout is not None, task.task_id
        assert task.on_failure_callback == [record_task_failure], task.task_id


def test_timeouts_are_overridable_by_the_environment(monkeypatch):
    monkeypatch.setenv("THEIA_TIMEOUTS", json.dumps({
        "theia_policy_recommendation": 600,
        "theia_policy_recommendation.recommend_policies": 480,
    }))  # fmt: skip
    dag = load_dag("theia_policy_recommendation")
    assert dag.dagrun_timeout.total_seconds() == 600 * 60
    assert dag.get_task("recommend_policies").execution_timeout.total_seconds() == 480 * 60
    assert dag.get_task("resolve_window").execution_timeout.total_seconds() == 5 * 60


def test_analyses_are_nightly_by_default_and_can_follow_the_flows(monkeypatch):
    from airflow.sdk import AssetOrTimeSchedule

    monkeypatch.delenv("THEIA_ANALYSIS_SCHEDULE", raising=False)
    for dag_id in ("theia_policy_recommendation", "theia_drop_detection"):
        assert not isinstance(load_dag(dag_id).timetable, AssetOrTimeSchedule)
    monkeypatch.setenv("THEIA_ANALYSIS_SCHEDULE", "flows-or-cron")
    for dag_id, cron in (("theia_policy_recommendation", "30 1 * * *"),
                         ("theia_drop_detection", "@daily")):  # fmt: skip
        timetable = load_dag(dag_id).timetable
        assert isinstance(timetable, AssetOrTimeSchedule)
        assert timetable.asset_condition.name == "theia_flows"
        assert timetable.timetable.expression in (cron, "0 0 * * *")


def test_a_timed_out_run_names_the_reason(monkeypatch):
    from theia_sf.airflow.notify import failure_message

    message = failure_message({"run_id": "r1", "reason": "timed_out", "dag": load_dag(
        "theia_ingest_flows")})  # fmt: skip
    assert message.text == "theia: DAG theia_ingest_flows run r1 failed (timed out)"
