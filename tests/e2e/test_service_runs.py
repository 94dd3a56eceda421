"""Scheduled runs under the real scheduler take their values from the deployment settings,
alert once, and a failed run sends one failure message (a dead notifier hides nothing)."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from browser import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


class Inbox(http.server.ThreadingHTTPServer):
    """A local HTTP server that keeps every JSON body it is sent, by path."""

    def __init__(self):
        self.bodies: dict[str, list] = {}
        inbox = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                inbox.bodies.setdefault(self.path, []).append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.demo import generate_flows
    from theia_sf.ingest import ingest_flows
    from theia_sf.migrations import migrate
    from theia_sf.objectstore import LocalObjectStore
    from theia_sf.quickstart import LocalAirflow
    from theia_sf.sql import SqlLibrary

    base = tmp_path_factory.mktemp("service")
    data_dir = base / "theia"
    # The spike lands yesterday: inside the window of today's scheduled run.
    yesterday = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(
        days=1
    )
    demo = generate_flows(base / "flows", records=6000, days=8, seed=5, end=yesterday)
    sql = SqlLibrary(ROOT / "sql")
    warehouse = DuckDBWarehouse(data_dir / "theia.duckdb", lock_timeout=60)
    with warehouse.session() as session:
        migrate(session, sql)
    assert ingest_flows(warehouse, sql, LocalObjectStore(base / "flows")).files_loaded >= 1

    inbox = Inbox()
    dead_port = free_port()  # nothing listens there
    env = {
        "AIRFLOW_CONN_OPS_ALERTS": json.dumps({"conn_type": "http", "host": inbox.url("/alerts")}),
        "AIRFLOW_CONN_OPS_FAILURES": json.dumps(
            {"conn_type": "http", "host": inbox.url("/failures")}
        ),
        "AIRFLOW_CONN_DEAD_HOOK": json.dumps(
            {"conn_type": "http", "host": f"http://127.0.0.1:{dead_port}/hook"}
        ),
        # The deployment settings, as Airflow Variables (here from the environment).
        "AIRFLOW_VAR_THEIA_SERVICE": json.dumps(
            {"failure_alert_connections": ["dead_hook", "ops_failures"]}
        ),
        "AIRFLOW_VAR_THEIA_DROP_DETECTION": json.dumps(
            {"alert_connections": ["ops_alerts"], "lookback": 14}
        ),
        # A misspelt setting makes the recommendation's first task fail.
        "AIRFLOW_VAR_THEIA_POLICY_RECOMMENDATION": json.dumps({"polcy_type": "k8s-np"}),
        "THEIA_FLOWS_LOCATION": str(base / "flows"),
    }
    af = LocalAirflow(base / "airflow", data_dir, port=free_port(), users={"admin": ""},
                      extra_env=env)  # fmt: skip
    af.init()
    af.start()
    try:
        af.wait_for_dags(["theia_drop_detection", "theia_policy_recommendation"])
        yield af, inbox, demo
    finally:
        af.stop()
        inbox.shutdown()
        inbox.server_close()


def _scheduled_run(af, dag_id, timeout=600):
    """Unpause ``dag_id``: the scheduler makes its latest scheduled run; wait for its end."""
    af.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = af.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?run_type=scheduled")["dag_runs"]
        if runs:  # catchup is off: one run (a paused DAG's runs would not go on)
            return af.wait_run(dag_id, runs[0]["dag_run_id"], timeout=timeout)
        time.sleep(2)
    raise TimeoutError(f"no scheduled run of {dag_id}")


def _wait_for(predicate, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(2)
    return False


def test_scheduled_drop_detection_alerts_each_anomaly_once(service):
    af, inbox, demo = service
    run = _scheduled_run(af, "theia_drop_detection")
    assert run["run_type"] == "scheduled" and run["conf"] in ({}, None)
    assert run["state"] == "success", af.task_states("theia_drop_detection", run["dag_run_id"])
    plan = af.xcom("theia_drop_detection", run["dag_run_id"], "check_params")
    assert plan["alert_connections"] == ["ops_alerts"]
    assert plan["sources"]["alert_connections"] == plan["sources"]["lookback"] == "setting"

    doc = json.loads((af.data_dir / "results/detection/latest/anomalies.json").read_text())
    published = sorted((a["endpoint"], a["direction"], a["day"]) for a in doc["anomalies"])
    spike = demo.spike
    assert (spike["workload"], "ingress", spike["day"]) in published
    delivered = sorted(
        (a["endpoint"], a["direction"], a["day"])
        for body in inbox.bodies.get("/alerts", [])
        for a in body["anomalies"]
    )
    assert delivered == published  # each anomaly, once

    # Running the same scheduled run's tasks again alerts nothing new.
    quoted = urllib.request.quote(run["dag_run_id"], safe="")
    af.request("POST", "/api/v2/dags/theia_drop_detection/clearTaskInstances",
               {"dag_run_id": run["dag_run_id"], "dry_run": False, "only_failed": False})  # fmt: skip
    assert _wait_for(lambda: af.request(
        "GET", f"/api/v2/dags/theia_drop_detection/dagRuns/{quoted}")["state"] == "success"
        and af.task_states("theia_drop_detection", run["dag_run_id"]).get("send_alerts")
        == "success")  # fmt: skip
    again = sorted(
        (a["endpoint"], a["direction"], a["day"])
        for body in inbox.bodies.get("/alerts", [])
        for a in body["anomalies"]
    )
    assert again == published


def test_a_failed_run_sends_one_failure_message_and_a_dead_notifier_hides_nothing(service):
    af, inbox, _ = service
    run = _scheduled_run(af, "theia_policy_recommendation")
    run_id = run["dag_run_id"]
    assert run["state"] == "failed"
    states = af.task_states("theia_policy_recommendation", run_id)
    assert states["resolve_window"] == "failed"

    def ours():
        return [b for b in inbox.bodies.get("/failures", []) if b["run_id"] == run_id]

    assert _wait_for(lambda: ours()), inbox.bodies
    time.sleep(15)  # a second message would have come by now
    (message,) = ours()
    assert message["dag_id"] == "theia_policy_recommendation"
    assert message["task_id"] == "resolve_window"
    assert message["log_url"].startswith(af.url) and "resolve_window" in message["log_url"]
    assert "'polcy_type' is not a setting" in message["error"]
    assert "did you mean 'policy_type'" in message["text"]
    # The task's own error is what the task log shows, whatever the dead notifier did.
    quoted = urllib.request.quote(run_id, safe="")
    logs = af.request("GET", f"/api/v2/dags/theia_policy_recommendation/dagRuns/{quoted}"
                      "/taskInstances/resolve_window/logs/1")  # fmt: skip
    assert "polcy_type" in json.dumps(logs)
