"""The onboarding DAGs load, follow the conventions, validate Params, and parse cheaply;
``theia_onboard``/``theia_offboard`` with engine duckdb run under ``dag.test()``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from dagtest import load_dag

import onboarding_doubles as doubles

pytest.importorskip("airflow")

moto_endpoint = doubles.moto_endpoint  # fixtures
recorded_snowflake = doubles.recorded_snowflake

ROOT = Path(__file__).resolve().parents[2]
DAGS = {
    "theia_create_bucket": None,
    "theia_create_kms_key": None,
    "theia_onboard": None,
    "theia_offboard": None,
    "theia_delete_kms_key": None,
    "theia_delete_bucket": None,
    "theia_ingestion_health": "@hourly",
}
HEAVY = [
    "duckdb",
    "sqlglot",
    "boto3",
    "botocore",
    "snowflake.connector",
    "pandas",
    "theia_sf.adapters",
    "theia_sf.airflow.runtime",
    "theia_sf.services",
]


@pytest.fixture(scope="module")
def dags():
    return {dag_id: load_dag(dag_id) for dag_id in DAGS}


@pytest.mark.parametrize("dag_id", list(DAGS))
def test_conventions(dags, dag_id):
    dag = dags[dag_id]
    assert dag is not None and dag.dag_id == dag_id
    assert dag.tags and "theia" in dag.tags and "onboarding" in dag.tags
    assert dag.doc_md and dag.doc_md.strip().startswith("###")
    assert dag.catchup is False
    schedule = DAGS[dag_id]
    assert dag.schedule == schedule
    for task in dag.tasks:
        assert task.task_id.count("_") >= 1  # verb_object


def validate(dag, **conf):
    """What the trigger form and the REST API do: each given value, then the whole set."""
    import copy

    params = copy.deepcopy(dag.params)
    resolved = {k: params.get_param(k).resolve(value=v) for k, v in conf.items()}
    for key in conf:
        del params[key]
    return {**params.validate(), **resolved}


def test_onboard_params_accept_the_make_run_conf(dags):
    resolved = validate(dags["theia_onboard"], engine="duckdb")
    assert resolved["engine"] == "duckdb" and resolved["stack_name"] == "default"
    assert resolved["flow_layout"] == "v2.7" and resolved["dry_run"] is False


@pytest.mark.parametrize(
    ("dag_id", "conf"),
    [
        ("theia_onboard", {"engine": "bigquery"}),
        ("theia_onboard", {"stack_name": "Not Valid"}),
        ("theia_onboard", {"region": "moon-1"}),
        ("theia_onboard", {"flow_layout": "auto"}),
        ("theia_onboard", {"flow_retention_days": 0}),
        ("theia_onboard", {"warehouse_name": "wh;drop"}),
        ("theia_onboard", {"state_bucket": "Bad_Bucket"}),
        ("theia_offboard", {"stack_name": "-x"}),
        ("theia_delete_kms_key", {"key_id": "k", "pending_window_days": 6}),
        ("theia_delete_kms_key", {"key_id": "k", "pending_window_days": 31}),
        ("theia_create_kms_key", {"alias": "no-prefix"}),
        ("theia_delete_bucket", {"name": "UPPER"}),
        ("theia_ingestion_health", {"alert_connections": ["a b"]}),
    ],
)
def test_bad_params_are_rejected_before_any_task(dags, dag_id, conf):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        validate(dags[dag_id], **conf)


def test_parse_does_not_import_heavy_modules():
    """One interpreter per check would cost seconds each; run every file in one, in turn."""
    files = [str(ROOT / "dags" / f"{dag_id}.py") for dag_id in DAGS]
    code = textwrap.dedent(
        f"""
        import runpy, sys
        for path in {files!r}:
            runpy.run_path(path)
            heavy = [m for m in {HEAVY!r} if m in sys.modules]
            assert not heavy, (path, heavy)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "include"))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT, timeout=300)


RUN = textwrap.dedent(
    """
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    for dag_id, conf in json.loads(sys.argv[2]):
        bag = DagBag(dag_folder=sys.argv[1] + "/" + dag_id + ".py")
        run = bag.dags[dag_id].test(run_conf=conf)
        print("RUN_STATE " + dag_id + " " + str(run.state), flush=True)
        if str(run.state) != "success":
            sys.exit(1)
        if dag_id == "theia_onboard":
            print("FILES " + json.dumps(sorted(p.name for p in __import__("pathlib").Path(
                sys.argv[3]).iterdir())), flush=True)
    """
)


@pytest.mark.slow
def test_onboard_and_offboard_duckdb_under_dag_test(tmp_path):
    home, data = tmp_path / "airflow", tmp_path / "data"
    home.mkdir()
    env = dict(
        os.environ,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        THEIA_DATA_DIR=str(data),
        THEIA_SQL_DIR=str(ROOT / "sql"),
        PYTHONPATH=str(ROOT / "include"),
    )
    env.pop("AIRFLOW_CONN_THEIA_WAREHOUSE", None)
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run(
        [airflow, "db", "migrate"], check=True, env=env, capture_output=True, timeout=600
    )
    runs = [
        ("theia_onboard", {"engine": "duckdb"}),
        ("theia_onboard", {"engine": "duckdb"}),  # converges
        ("theia_offboard", {"engine": "duckdb", "confirm": "default"}),
    ]
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(ROOT / "dags"), json.dumps(runs), str(data)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-5000:]
    assert log.count("RUN_STATE") == 3
    assert "| Flows Table Name | FLOWS" in log
    files = [json.loads(line[6:]) for line in out.stdout.splitlines() if line.startswith("FILES ")]
    assert files and all(
        {"flows", "onboarding", "results", "theia.duckdb"} <= set(f) for f in files
    )
    assert not (data / "theia.duckdb").exists()
    assert not (data / "flows").exists() and not (data / "onboarding" / "default.json").exists()


def test_run_note_is_set_through_the_rest_api(monkeypatch):
    """The REST calls a real API server gets: a token, then PATCH with update_mask=note."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from theia_sf.airflow import onboarding

    seen = []

    class Api(BaseHTTPRequestHandler):
        def _reply(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            length = int(self.headers["Content-Length"])
            seen.append(("POST", self.path, json.loads(self.rfile.read(length)), None))
            self._reply({"access_token": "tok-1"})

        def do_PATCH(self):
            length = int(self.headers["Content-Length"])
            seen.append(
                (
                    "PATCH",
                    self.path,
                    json.loads(self.rfile.read(length)),
                    self.headers["Authorization"],
                )
            )
            self._reply({})

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        monkeypatch.setenv(
            "AIRFLOW_CONN_THEIA_AIRFLOW_API",
            json.dumps({"conn_type": "http", "host": url, "login": "admin", "password": "pw"}),
        )
        assert onboarding.set_run_note(
            "theia_onboard", "manual__2026-01-01T00:00:00+00:00", "| Region | us-west-2 |"
        )
    finally:
        server.shutdown()
    # HttpHook also sends the login as basic auth; the token endpoint reads the JSON body.
    assert seen[0][:3] == ("POST", "/auth/token", {"username": "admin", "password": "pw"})
    method, path, body, auth = seen[1]
    assert method == "PATCH" and auth == "Bearer tok-1"
    assert path == (
        "/api/v2/dags/theia_onboard/dagRuns/"
        "manual__2026-01-01T00%3A00%3A00%2B00%3A00?update_mask=note"
    )
    assert body == {"note": "| Region | us-west-2 |"}


def test_run_note_without_connection_is_skipped(monkeypatch):
    from theia_sf.airflow import onboarding, runtime

    monkeypatch.setattr(runtime, "get_connection", lambda cid: None)
    assert onboarding.set_run_note("theia_onboard", "r", "note") is False


def test_ingestion_health_skips_without_a_snowflake_stack(monkeypatch):
    from airflow.sdk.exceptions import AirflowSkipException

    from theia_sf.airflow import onboarding, runtime

    monkeypatch.setattr(runtime, "get_connection", lambda cid: None)  # embedded engine
    params = {p: v.value for p, v in onboarding.health_params().items()}
    with pytest.raises(AirflowSkipException, match="no Snowflake stack"):
        onboarding.ingestion_health(params)
    with pytest.raises(AirflowSkipException):
        onboarding.ingestion_health({**params, "state_bucket": "theia-state"})


def test_snowflake_engine_without_state_bucket_fails_fast(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from theia_sf.airflow import onboarding, runtime

    monkeypatch.setattr(runtime, "get_connection", lambda cid: None)
    params = {p: v.value for p, v in onboarding.onboard_params().items()}
    with pytest.raises(AirflowFailException, match="Param state_bucket is required"):
        onboarding.onboard({**params, "engine": "snowflake"})


def test_glue_runs_the_snowflake_engine_from_params(monkeypatch, recorded_snowflake, moto_endpoint):
    """The glue turns Params into a CloudRequest, ports and a state store (moto + double)."""
    from theia_sf.adapters.aws import BotoAws
    from theia_sf.airflow import onboarding, runtime

    doubles.reset_moto(moto_endpoint)
    factory = doubles.client_factory(moto_endpoint)
    factory("s3", "us-west-2").create_bucket(
        Bucket="theia-state", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    conn = SimpleNamespace(conn_type="snowflake", host=None, extra_dejson={})
    monkeypatch.setattr(
        runtime, "get_connection", lambda cid: conn if cid == runtime.WAREHOUSE_CONN_ID else None
    )
    monkeypatch.setattr(
        runtime, "aws_client", lambda service, region_name=None: factory(service, region_name)
    )
    monkeypatch.setattr(onboarding, "aws_port", lambda region: BotoAws(factory, region))
    monkeypatch.setattr(
        onboarding,
        "snowflake_factory",
        lambda: recorded_snowflake.warehouse,
    )
    params = {p: v.value for p, v in onboarding.onboard_params().items()}
    params.update(
        engine="auto",
        stack_name="glue",
        state_bucket="theia-state",
        flow_layout="v1.13",
        flow_retention_days=45,
    )

    plan = onboarding.onboard({**params, "dry_run": True})
    assert plan["dry_run"] and recorded_snowflake.statements == []
    result = onboarding.onboard(params)
    summary = onboarding.report(result)
    assert summary["outputs"]["Region"] == "us-west-2"
    assert summary["helm_values"]["recordContents"]["podLabels"] is True
    [task] = recorded_snowflake.tasks.values()
    assert "> 45" in task["definition"]
    [pipe] = recorded_snowflake.pipes.values()
    assert pipe["definition"].count("$") == 51  # v1.13

    off = {p: v.value for p, v in onboarding.stack_params(destructive=True).items()}
    off.update(engine="auto", stack_name="glue", state_bucket="theia-state", confirm="glue")
    removed = onboarding.report(onboarding.offboard(off))
    assert removed["orphans"] == []
    assert recorded_snowflake.objects() == {k: [] for k in recorded_snowflake.objects()}
    assert factory("s3", "us-west-2").list_objects_v2(Bucket="theia-state").get("KeyCount") == 0
