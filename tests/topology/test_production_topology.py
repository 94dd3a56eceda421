"""The deployment teams grow into, run for real on one machine: Postgres as Airflow's metadata
database, Redis as the Celery broker, the API server, scheduler, DAG processor, triggerer and
two Celery workers as separate processes, the FAB auth manager, and an S3-compatible store
(moto's server) holding the flows and the results.

Everything is driven through the REST API v2 as an operator would: connections created over
the API, onboarding of the embedded engine with flows and results on S3, flow files uploaded
to the bucket (as Antrea's Flow Aggregator does), ingestion, recommendation, drop detection
with an alert to a local webhook. The DuckDB file sits on a path both workers share; the
one-slot warehouse pool serialises its writers across them.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from topology_services import (
    free_port,
    group_alive,
    start_moto,
    start_postgres,
    start_redis,
)

pytestmark = [pytest.mark.topology, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
FLOWS = ("theia-topology-flows", "flows")
RESULTS = ("theia-topology-results", "results")
REGION = "us-east-1"
WORKERS = ("a", "b")  # Celery node names; their tasks report host worker-a, worker-b
ALERT_CONN = "theia_topology_alerts"
RECORDS, DAYS = 30_000, 14


class Webhook:
    """An HTTP server on loopback that records every POSTed JSON body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        bodies = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                bodies.append(json.loads(raw))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Topology:
    af: Any
    s3: Any
    webhook: Webhook
    runs: dict[str, list[str]] = field(default_factory=dict)
    demo: dict[str, Any] = field(default_factory=dict)

    def objects(self, bucket: str, prefix: str) -> dict[str, bytes]:
        keys = [o["Key"] for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])]
        return {k: self.s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def _worker_env(name: str) -> dict[str, str]:
    return {
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "workerhost.hostname",
        "THEIA_TOPOLOGY_WORKER": f"worker-{name}",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }


def _run_ok(af: Any, dag_id: str, run_id: str) -> None:
    run = af.wait_run(dag_id, run_id, timeout=600)
    states = af.task_states(dag_id, run_id)
    assert run["state"] == "success", (dag_id, states)


def _drive(top: Topology, work: Path) -> None:
    """The operator's path through the REST API, start to finish."""
    from theia_sf.demo import generate_flows

    af = top.af
    af.wait_for_dags(["theia_onboard", "theia_ingest_flows", "theia_policy_recommendation",
                      "theia_drop_detection"])
    token = af.token()
    endpoint = top.s3.meta.endpoint_url
    af.request("POST", "/api/v2/connections", {
        "connection_id": "theia_aws", "conn_type": "aws",
        "login": "testing", "password": "testing",
        "extra": json.dumps({"endpoint_url": endpoint, "region_name": REGION}),
    }, token=token)
    # A webhook the standard way: scheme, host and port (HttpHook's base URL).
    af.request("POST", "/api/v2/connections", {
        "connection_id": ALERT_CONN, "conn_type": "http",
        "host": "127.0.0.1", "port": top.webhook.port, "schema": "http",
    }, token=token)

    def run(dag_id: str, conf: dict[str, Any]) -> str:
        run_id = af.trigger(dag_id, conf)
        top.runs.setdefault(dag_id, []).append(run_id)
        return run_id

    _run_ok(af, "theia_onboard", run("theia_onboard", {"engine": "duckdb", "region": REGION}))

    summary = generate_flows(work / "flows", records=RECORDS, days=DAYS, records_per_file=2_500)
    top.demo = summary.to_record()
    for name in summary.files:
        top.s3.upload_file(str(work / "flows" / name), FLOWS[0], f"{FLOWS[1]}/{name}")

    _run_ok(af, "theia_ingest_flows", run("theia_ingest_flows", {}))
    # The two analyses at once: their first tasks run side by side on the workers, their
    # warehouse tasks queue on the pool.
    recommendation = run("theia_policy_recommendation", {"start": "now-30d", "end": "now"})
    detection = run("theia_drop_detection", {
        "method": "baseline", "start": "now-20d", "end": "now", "granularity": "workload",
        "alert_connections": [ALERT_CONN],
    })
    _run_ok(af, "theia_policy_recommendation", recommendation)
    _run_ok(af, "theia_drop_detection", detection)


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    import boto3
    from cryptography.fernet import Fernet

    from theia_sf.quickstart import LocalAirflow

    base = tmp_path_factory.mktemp("topology")
    logs = base / "logs"
    logs.mkdir()
    services: list[Any] = []
    af = None
    started = time.monotonic()

    def stop_on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # a killed test run still stops every process below

    previous = signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        postgres, database_url = start_postgres(logs)
        services.append(postgres)
        redis, broker_url = start_redis(logs, base / "redis")
        services.append(redis)
        moto, s3_url = start_moto(logs)
        services.append(moto)
        webhook = Webhook()
        services.append(webhook)
        af = LocalAirflow(
            base / "airflow", base / "theia", port=free_port(), users={"admin": ""},
            executor="CeleryExecutor", database_url=database_url, celery_broker_url=broker_url,
            auth_manager="fab", triggerer=True,
            extra_env={
                # Airflow's processes run as in a deployment, not in the tests' unit-test mode.
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                # Connections created over the API are stored encrypted in Postgres.
                "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
                "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
                "THEIA_FLOWS_LOCATION": "s3://{}/{}".format(*FLOWS),
                "THEIA_RESULTS_LOCATION": "s3://{}/{}".format(*RESULTS),
            },
        )
        af.init()
        af.start(logs)
        for name in WORKERS:
            af.start_celery_worker(name, concurrency=2, env=_worker_env(name))
        s3 = boto3.client("s3", endpoint_url=s3_url, region_name=REGION,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        top = Topology(af, s3, webhook)
        _drive(top, base)
        print(f"\ntopology: started and driven in {time.monotonic() - started:.0f} s")
        yield top
    finally:
        signal.signal(signal.SIGTERM, previous)
        pids = [p.pid for p in af.processes] if af is not None else []
        if af is not None:
            af.stop()
        pids += [s.proc.pid for s in services if getattr(s, "proc", None) is not None]
        for service in reversed(services):
            service.stop()
        artifacts = os.environ.get("THEIA_TEST_ARTIFACTS")
        if artifacts:
            shutil.copytree(logs, Path(artifacts) / "topology-logs", dirs_exist_ok=True)
        left = [pid for pid in pids if group_alive(pid)]
        assert not left, f"process groups still running after stop: {left}"


def test_every_run_succeeded_on_celery(topology):
    af = topology.af
    for dag_id in ("theia_onboard", "theia_ingest_flows", "theia_policy_recommendation",
                   "theia_drop_detection"):
        for run_id in topology.runs[dag_id]:
            states = af.task_states(dag_id, run_id)
            assert states and set(states.values()) <= {"success", "skipped"}, (dag_id, states)
    config = af.request("GET", "/api/v2/monitor/health")
    assert config["metadatabase"]["status"] == "healthy"
    assert config["scheduler"]["status"] == "healthy"
    assert config["triggerer"]["status"] == "healthy"
    assert config["dag_processor"]["status"] == "healthy"


def test_tasks_ran_on_both_workers(topology):
    af = topology.af
    hosts: dict[str, int] = {}
    for dag_id, run_ids in topology.runs.items():
        for run_id in run_ids:
            quoted = urllib.parse.quote(run_id, safe="")
            body = af.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances")
            for ti in body["task_instances"]:
                if ti["state"] == "success":
                    hosts[ti["hostname"]] = hosts.get(ti["hostname"], 0) + 1
    assert set(hosts) == {f"worker-{name}" for name in WORKERS}, hosts
    print(f"\ntask instances per worker: {hosts}")


def test_flows_loaded_from_the_bucket_once(topology):
    af = topology.af
    loaded = files = 0
    # Every run of the DAG: the scheduled one started by unpausing may have loaded them first.
    runs = af.request("GET", "/api/v2/dags/theia_ingest_flows/dagRuns?limit=100")["dag_runs"]
    for run in runs:
        states = af.task_states("theia_ingest_flows", run["dag_run_id"])
        if states.get("load_new_flow_files") == "success":
            result = af.xcom("theia_ingest_flows", run["dag_run_id"], "load_new_flow_files")
            loaded += int(result["rows_loaded"])
            files += int(result["files_loaded"])
    assert files == len(topology.demo["files"])
    assert loaded == topology.demo["records"]


def test_results_published_on_s3(topology):
    bucket, prefix = RESULTS
    objects = topology.objects(bucket, prefix + "/")
    policies = objects[f"{prefix}/recommendation/latest/policies.yaml"].decode()
    assert "kind: NetworkPolicy" in policies
    report = json.loads(objects[f"{prefix}/recommendation/latest/report.json"])
    assert report["policies"]
    # The triggered run's own results: the scheduled run that unpausing starts covers the
    # window up to midnight and may overwrite `latest/` after it.
    triggered = topology.runs["theia_drop_detection"][-1]
    published = topology.af.xcom("theia_drop_detection", triggered, "publish_results")
    key = f"{prefix}/detection/runs/{published['run_id']}/anomalies.json"
    assert published["anomalies.json"].endswith(key)
    text = objects[key].decode()
    assert json.loads(text)["run"]["window_end"] > topology.demo["spike"]["day"]
    spike = topology.demo["spike"]
    assert spike["workload"] in text and spike["day"] in text
    # Every object of the runs is in the results bucket, none on the local disk.
    assert not (topology.af.data_dir / "results").exists()


def test_alert_posted_to_the_webhook(topology):
    spike = topology.demo["spike"]
    assert topology.webhook.bodies, "no alert reached the webhook"
    body = topology.webhook.bodies[-1]
    assert body["anomalies"]
    assert spike["workload"] in json.dumps(body["anomalies"])
    assert body["text"]
