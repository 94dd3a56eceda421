"""Failure messages of failed runs, through the http provider's notifier."""

from __future__ import annotations

import json
import logging

import pytest

pytest.importorskip("airflow")

pytestmark = pytest.mark.integration


class _TI:
    dag_id = "theia_drop_detection"
    run_id = "scheduled__2026-01-01T00:00:00+00:00"
    task_id = "detect_drops"
    log_url = "http://airflow.example/dags/theia_drop_detection/runs/r/tasks/detect_drops"

    def xcom_pull(self, task_ids, key):
        assert (task_ids, key) == ("detect_drops", "theia_failure")
        return "ConfigurationError: the {{ warehouse }} is gone"


def test_the_failure_message_reaches_the_webhook_and_a_dead_one_is_logged(
    monkeypatch, caplog, webhook_server, unused_port
):
    from theia_sf.airflow.notify import notify_run_failure

    monkeypatch.setenv("AIRFLOW_CONN_DEAD_HOOK", json.dumps(
        {"conn_type": "http", "host": f"http://127.0.0.1:{unused_port}/hook"}))  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_OPS_HOOK",
                       json.dumps({"conn_type": "http", "host": webhook_server.url}))  # fmt: skip
    monkeypatch.setenv("AIRFLOW_VAR_THEIA_SERVICE",
                       json.dumps({"failure_alert_connections": ["dead_hook", "ops_hook"]}))  # fmt: skip
    ti = _TI()
    with caplog.at_level(logging.INFO, logger="theia_sf.airflow.notify"):
        notify_run_failure({"ti": ti, "run_id": ti.run_id, "reason": "task_failure"})
    [body] = webhook_server.delivered
    assert body["dag_id"] == "theia_drop_detection" and body["task_id"] == "detect_drops"
    assert body["run_id"] == ti.run_id and body["log_url"] == ti.log_url
    # The error is sent as it is (braces are not rendered as a template).
    assert body["error"] == "ConfigurationError: the {{ warehouse }} is gone"
    assert body["text"].startswith(
        "theia: DAG theia_drop_detection run scheduled__2026-01-01T00:00:00+00:00 failed in task "
        "detect_drops: ConfigurationError: the {{ warehouse }} is gone"
    )
    assert "failure alert through dead_hook was not delivered" in caplog.text
    assert "failure alert sent through ops_hook" in caplog.text


def test_an_unusable_failure_connection_is_logged_not_raised(monkeypatch, caplog):
    from theia_sf.airflow.notify import notify_run_failure

    monkeypatch.setenv("AIRFLOW_CONN_FTP_THING", json.dumps({"conn_type": "ftp", "host": "x"}))
    monkeypatch.setenv("AIRFLOW_VAR_THEIA_SERVICE", json.dumps(
        {"failure_alert_connections": ["ftp_thing", "not_defined"]}))  # fmt: skip
    notify_run_failure({"ti": _TI(), "run_id": "r", "reason": "task_failure"})
    assert "cannot carry failure alerts" in caplog.text
    assert "'not_defined' (failure alerts) is not defined" in caplog.text


def test_a_bad_service_setting_is_logged_not_raised(monkeypatch, caplog):
    from theia_sf.airflow.notify import notify_run_failure

    monkeypatch.setenv("AIRFLOW_VAR_THEIA_SERVICE", json.dumps({"failure_alerts": ["x"]}))
    notify_run_failure({"ti": _TI(), "run_id": "r", "reason": "task_failure"})
    assert "did you mean 'failure_alert_connections'" in caplog.text
