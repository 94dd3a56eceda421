"""A local Airflow for ``make run`` and the end-to-end tests.

Initialises an Airflow home (SQLite metadata, LocalExecutor with parallelism 4, examples
off, API on 127.0.0.1:8080, simple auth manager with a generated admin password), starts
the API server, scheduler and DAG processor, and drives the DAGs through the REST API v2.
No Airflow import here: Airflow runs in its own processes, as it would for a user.

The same class starts the production topology (tests/topology): another metadata database
(Postgres), the CeleryExecutor with its broker, the FAB auth manager, a triggerer, and
Celery workers started with :meth:`LocalAirflow.start_celery_worker`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {"success", "failed"}
AUTH_MANAGERS = {
    "simple": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    "fab": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
}


# Airflow's API server signs JWTs with HMAC-SHA512, which wants a key of at least 64 bytes.
SECRET_BYTES = 64


class PortInUseError(RuntimeError):
    """The API port is taken: nothing was started."""

    def __init__(self, port: int) -> None:
        super().__init__(
            f"port {port} is in use on 127.0.0.1 (another Airflow or `make run`?); "
            f"nothing was started. Pick a free port: make run PORT={_free_port_near(port)}"
        )
        self.port = port


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # As the API server binds: a listener blocks the port, a closing connection does not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port_near(port: int) -> int:
    for candidate in range(port + 10, port + 200, 10):
        if candidate < 65536 and _port_is_free(candidate):
            return candidate
    return port + 10


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group ended meanwhile
        os.killpg(proc.pid, signum)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


class ApiError(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


@dataclass
class LocalAirflow:
    """An Airflow installation in ``home`` serving the project's DAGs."""

    home: Path
    data_dir: Path
    port: int = 8080
    users: dict[str, str] = field(default_factory=lambda: {"admin": "admin"})
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None  # default: <home>/logs
    executor: str = "LocalExecutor"
    database_url: str | None = None  # SQLAlchemy URL; default: an SQLite file in the home
    celery_broker_url: str | None = None  # for the CeleryExecutor
    auth_manager: str = "simple"  # a key of AUTH_MANAGERS
    triggerer: bool = True  # approval waits (HITL) and other deferred tasks run in it
    logs: dict[int, Path] = field(default_factory=dict)  # process id -> its log file

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def passwords_file(self) -> Path:
        return self.home / "passwords.json"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        bin_dir = str(Path(sys.executable).parent)
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        env.update({
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
                self.database_url or f"sqlite:///{self.home / 'airflow.db'}"
            ),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGERS[self.auth_manager],
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{u}:{'admin' if u == 'admin' else u}" for u in self.users
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
            "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "10",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # Every process must sign and verify task tokens with the same secrets.
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt_secret"),
            "AIRFLOW__API__SECRET_KEY": self._secret("api_secret_key"),
            "THEIA_DATA_DIR": str(self.data_dir),
            "THEIA_SQL_DIR": str(ROOT / "sql"),
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT / "include"), str(ROOT / "plugins"), env.get("PYTHONPATH", "")]
            ).rstrip(os.pathsep),
        })
        if self.celery_broker_url:
            # The result backend defaults to the metadata database (db+<sql_alchemy_conn>).
            env["AIRFLOW__CELERY__BROKER_URL"] = self.celery_broker_url
        env.update(self.extra_env)
        return env

    def _secret(self, name: str) -> str:
        path = self.home / name
        # Homes made before keys were long enough get a new one: every process restarts with it.
        if not path.exists() or len(path.read_text().strip().encode()) < SECRET_BYTES:
            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(SECRET_BYTES))
            path.chmod(0o600)
        return path.read_text().strip()

    def airflow(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [shutil.which("airflow", path=self.env()["PATH"]) or "airflow", *args],
            env=self.env(), capture_output=True, text=True,
        )
        if check and done.returncode:
            tail = "\n  ".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise RuntimeError(f"airflow {' '.join(args[:2])} exited with {done.returncode}:"
                               f"\n  {tail}")
        return done

    def init(self) -> dict[str, str]:
        """Create the home, the metadata DB, the warehouse pool; return new passwords."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        created: dict[str, str] = {}
        passwords: dict[str, str] = {}
        if self.passwords_file.exists():
            passwords = json.loads(self.passwords_file.read_text())
        for user, given in self.users.items():
            if user not in passwords:
                passwords[user] = given or secrets.token_urlsafe(12)
                created[user] = passwords[user]
        self.users = {u: passwords[u] for u in self.users}
        self.passwords_file.write_text(json.dumps(passwords))
        self.passwords_file.chmod(0o600)
        self.airflow("db", "migrate")
        if self.auth_manager == "fab":
            for user in created:
                self._create_fab_user(user, self.users[user])
        # DuckDB has one writer: warehouse tasks queue on a one-slot pool.
        self.airflow("pools", "set", "theia_warehouse", "1",
                     "Tasks that write to the Theia warehouse (one writer for DuckDB)")
        # In the metadata database, not an AIRFLOW_CONN_ variable: Admin > Connections then
        # shows and edits it (the DuckDB provider's form, "Database path" = host).
        if self.airflow("connections", "get", "theia_warehouse", check=False).returncode:
            self.airflow("connections", "add", "theia_warehouse", "--conn-type", "duckdb",
                         "--conn-host", str(self.data_dir / "theia.duckdb"))
        return created

    def start(self, log_dir: Path | None = None, *, timeout: float = 180) -> None:
        """Start the API server, then (once it answers) the scheduler and the DAG processor.

        The scheduler sends task executions to the API port, so it starts only once our own
        API server holds that port. On any failure (or Ctrl-C) everything started is stopped:
        the processes run in their own sessions, which a terminal's signals do not reach.
        """
        self.check_port()
        self.log_dir = log_dir or self.log_dir or self.home / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._spawn("api-server", "--host", "127.0.0.1", "--port", str(self.port))
            self.wait_healthy(timeout)
            # The LocalExecutor writes task logs where the API server reads them; Airflow's
            # log server would bind every interface on a fixed port (8793), so a second
            # local Airflow could not start. Without it nothing but the API listens.
            self._spawn("scheduler", "--skip-serve-logs")
            self._spawn("dag-processor")
            if self.triggerer:
                self._spawn("triggerer", "--skip-serve-logs")  # its log server: port 8794
        except BaseException:
            self.stop()
            raise

    def start_celery_worker(self, name: str, *, concurrency: int = 2,
                            env: dict[str, str] | None = None) -> None:
        """Start an ``airflow celery worker`` named ``name`` (its Celery node name)."""
        self._spawn("celery", "worker", "--celery-hostname", f"{name}@%h",
                    "--concurrency", str(concurrency), "--skip-serve-logs",
                    log_name=f"worker-{name}", env={**self.env(), **(env or {})})

    def _create_fab_user(self, user: str, password: str) -> None:
        # The simple auth manager's convention: user "admin" is an Admin, any other a Viewer.
        role = "Admin" if user == "admin" else "Viewer"
        # "--password=": a generated password may begin with "-", which argparse would take
        # for an option.
        self.airflow("users", "create", "--username", user, f"--password={password}",
                     "--role", role, "--firstname", user, "--lastname", "theia",
                     "--email", f"{user}@theia.invalid")

    def check_port(self) -> None:
        if not _port_is_free(self.port):
            raise PortInUseError(self.port)

    def _spawn(self, name: str, *args: str, log_name: str | None = None,
               env: dict[str, str] | None = None) -> None:
        log = self.log_path(log_name or name)
        log.parent.mkdir(parents=True, exist_ok=True)
        out = open(log, "ab")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            ["airflow", name, *args], env=env or self.env(), stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group per component: stop() ends its children
        )
        self.processes.append(proc)
        self.logs[proc.pid] = log

    def log_path(self, name: str) -> Path:
        return (self.log_dir or self.home / "logs") / f"{name}.out"

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.processes:
            try:
                proc.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        # A leader can exit before its children (a Celery worker's pool, a task's supervisor):
        # they get the rest of the grace period, then the group is killed.
        for proc in self.processes:
            while group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            _signal_group(proc, signal.SIGKILL)
        self.processes.clear()

    # --- REST API v2 -----------------------------------------------------------------------

    def check_processes(self) -> None:
        """Raise if an Airflow process has exited, with the end of its log."""
        for proc in self.processes:
            if proc.poll() is not None:
                log = self.logs.get(proc.pid) or self.log_path(proc.args[1])  # type: ignore[index]
                name = log.stem
                tail = log.read_text(errors="replace").splitlines()[-5:] if log.exists() else []
                if any("address already in use" in line.lower() for line in tail):
                    raise PortInUseError(self.port)
                raise RuntimeError(
                    f"airflow {name} exited with {proc.returncode}; see {log}:\n  "
                    + "\n  ".join(tail)
                )

    def wait_healthy(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_processes()
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(1)
        raise TimeoutError(f"Airflow API at {self.url} not healthy after {timeout} s")

    def token(self, user: str = "admin") -> str:
        body = self.request("POST", "/auth/token",
                            {"username": user, "password": self.users[user]}, token=None)
        return str(body["access_token"])

    def request(self, method: str, path: str, body: Any = None, *, token: str | bool | None = True,
                user: str = "admin") -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token is True:
            token = self.token(user)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, error.read().decode("utf-8", "replace")) from None
        return json.loads(raw) if raw else None

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        missing = list(dag_ids)
        while missing and time.monotonic() < deadline:
            token = self.token()
            for dag_id in list(missing):
                try:
                    self.request("GET", f"/api/v2/dags/{dag_id}", token=token)
                    missing.remove(dag_id)
                except ApiError as error:
                    if error.status != 404:
                        raise
            if missing:
                time.sleep(2)
        if missing:
            errors = self.request("GET", "/api/v2/importErrors")
            raise TimeoutError(f"DAGs not loaded: {missing}; import errors: {errors}")

    def dag_ids(self) -> list[str]:
        body = self.request("GET", "/api/v2/dags?limit=100")
        return sorted(d["dag_id"] for d in body["dags"])

    def unpause(self, dag_id: str, *, user: str = "admin") -> str | None:
        """Unpause ``dag_id``. If it was paused and has a schedule, return the schedule: the
        scheduler then starts a run for the latest interval by itself."""
        token = self.token(user)
        dag = self.request("GET", f"/api/v2/dags/{dag_id}", token=token)
        if not dag["is_paused"]:
            return None
        self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False}, token=token)
        if dag.get("timetable_summary") in (None, "None"):  # schedule=None: manual runs only
            return None
        return dag.get("timetable_description") or dag["timetable_summary"]

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, *, user: str = "admin") -> str:
        self.unpause(dag_id, user=user)
        token = self.token(user)
        run = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns",
                           {"logical_date": None, "conf": conf or {}}, token=token)
        return str(run["dag_run_id"])

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 900) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        quoted = urllib.request.quote(run_id, safe="")
        while time.monotonic() < deadline:
            self.check_processes()  # a dead scheduler or worker would leave the run queued
            run = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}")
            if run["state"] in TERMINAL:
                return dict(run)
            time.sleep(2)
        raise TimeoutError(f"{dag_id} run {run_id} still running after {timeout} s")

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        quoted = urllib.request.quote(run_id, safe="")
        body = self.request(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances/{task_id}"
            "/xcomEntries/return_value?deserialize=true")
        return body.get("value")

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        quoted = urllib.request.quote(run_id, safe="")
        body = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances")
        return {t["task_id"]: t["state"] for t in body["task_instances"]}


def _run_and_report(af: LocalAirflow, dag_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
    schedule = af.unpause(dag_id)
    if schedule:
        print(f"==> unpaused {dag_id} ({schedule}): Airflow starts its scheduled run for the "
              "latest interval by itself; the manual run below covers the window ending now, "
              "so the UI lists both", flush=True)
    print(f"==> triggering {dag_id} {json.dumps(conf or {})}", flush=True)
    run_id = af.trigger(dag_id, conf)
    run = af.wait_run(dag_id, run_id)
    states = af.task_states(dag_id, run_id)
    print(f"    {dag_id}: {run['state']} ({', '.join(f'{k}={v}' for k, v in states.items())})")
    if run["state"] != "success":
        raise SystemExit(f"{dag_id} failed: see {af.url}/dags/{dag_id}/runs/{run_id}")
    return {"run_id": run_id, "states": states}


def load_totals(path: Path) -> dict[str, int]:
    """Files and rows in the embedded warehouse (whichever ingestion run loaded them)."""
    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.sql import SqlLibrary

    sql = SqlLibrary(ROOT / "sql")
    with DuckDBWarehouse(path).session(read_only=True) as session:
        row = session.fetch(sql.render("ingest/select_load_totals.sql"))[0]
    return {k: int(row[k]) for k in ("files", "rows_loaded", "rows_rejected")}


def ingest_note(loaded_here: bool, files_before: int, files_after: int) -> str:
    """Who loaded the flow files, when the manual ingestion run had nothing to do."""
    if loaded_here:
        return ""
    if files_after > files_before:
        new = files_after - files_before
        files = "1 new file was" if new == 1 else f"{new} new files were"
        return (f"    ({files} loaded by a scheduled run of theia_ingest_flows, which runs "
                "every 5 minutes once unpaused)")
    files = "the 1 file" if files_after == 1 else f"the {files_after} files"
    were = "was" if files_after == 1 else "were"
    return (f"    (nothing new to load: {files} in the flows folder {were} loaded before this "
            "start, and loaded files are not loaded again)")


ANALYSES = ("theia_policy_recommendation", "theia_drop_detection")


def run_demo_pipelines(af: LocalAirflow, *, records: int, days: int) -> dict[str, Any]:
    """Onboard the embedded engine, write demo flows once, ingest them, run the analyses."""
    from theia_sf.demo import generate_flows

    af.wait_for_dags(["theia_onboard", "theia_ingest_flows", *ANALYSES])
    available = set(af.dag_ids())
    runs: dict[str, Any] = {}
    if "theia_onboard" in available:
        runs["theia_onboard"] = _run_and_report(af, "theia_onboard", {"engine": "duckdb"})
    warehouse_path = af.data_dir / "theia.duckdb"
    files_before = load_totals(warehouse_path)["files"]
    flows_dir = af.data_dir / "flows"
    flows_dir.mkdir(parents=True, exist_ok=True)
    summary_path = af.data_dir / "demo-summary.json"
    if not any(p for p in flows_dir.iterdir() if not p.name.startswith(".")):
        print(f"==> writing demo flows into {flows_dir}", flush=True)
        summary = generate_flows(flows_dir, records=records, days=days, records_per_file=100_000)
        summary_path.write_text(json.dumps(summary.to_record(), indent=2))
        print(f"    {summary.records} records in {len(summary.files)} files, "
              f"{summary.start} .. {summary.end}; injected drop spike: {summary.spike}")
    runs["theia_ingest_flows"] = ingest = _run_and_report(af, "theia_ingest_flows")
    totals = load_totals(warehouse_path)
    loaded_here = ingest["states"].get("load_new_flow_files") != "skipped"
    note = ingest_note(loaded_here, files_before, totals["files"])
    if note:
        print(note)
    print(f"    warehouse holds {totals['rows_loaded']} flow rows from {totals['files']} files "
          f"({totals['rows_rejected']} rejected lines)")
    for dag_id in ANALYSES:
        if dag_id in available:
            runs[dag_id] = _run_and_report(af, dag_id)
    if summary_path.exists():
        runs["demo"] = json.loads(summary_path.read_text())
    return runs


def print_results(data_dir: Path) -> None:
    """Where the demo's results are, and what they say."""
    results = data_dir / "results"
    print("\n==> results")
    print(f"    warehouse (DuckDB file): {data_dir / 'theia.duckdb'}")
    yaml_path = results / "recommendation" / "latest" / "policies.yaml"
    report_path = results / "recommendation" / "latest" / "report.json"
    if report_path.exists():
        report = json.loads(report_path.read_text())
        kinds: dict[str, int] = {}
        for policy in report.get("policies", []):
            kinds[policy["kind"]] = kinds.get(policy["kind"], 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no policies"
        print(f"    recommended policies ({summary}): {yaml_path}")
        print(f"    recommendation report: {report_path}")
    anomalies_path = results / "detection" / "latest" / "anomalies.json"
    if anomalies_path.exists():
        document = json.loads(anomalies_path.read_text())
        anomalies = document.get("anomalies", [])
        print(f"    drop anomalies ({len(anomalies)}): {anomalies_path}")
        for a in anomalies[:10]:
            mean = a.get("baseline_mean")
            baseline = f"{mean:.1f}" if isinstance(mean, (int, float)) else "n/a"
            print(f"      {a['day']} {a['endpoint']} {a['direction']}: {a['drops']} dropped "
                  f"flows (baseline {baseline}), top rule {a.get('top_policy')} "
                  f"{a.get('top_rule') or ''}".rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run theia-sf locally on the embedded engine.")
    parser.add_argument("--home", default=str(ROOT / ".local" / "airflow"))
    parser.add_argument("--data-dir", default=str(ROOT / ".local" / "theia"))
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--no-serve", action="store_true", help="stop after the demo pipelines")
    args = parser.parse_args(argv)

    def stop_on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # same clean shutdown as Ctrl-C: stop the Airflow processes

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    af = LocalAirflow(Path(args.home), Path(args.data_dir), port=args.port, users={"admin": ""})
    try:
        af.check_port()  # before anything else, so a taken port is the first thing said
        print(f"==> initialising Airflow home {af.home}", flush=True)
        created = af.init()
        print("==> starting Airflow (api-server, scheduler, dag-processor); logs in "
              f"{af.home / 'logs'}", flush=True)
        af.start()
        run_demo_pipelines(af, records=args.records, days=args.days)
        print_results(af.data_dir)
        print(f"\n==> Airflow UI: {af.url}  (user admin)")
        print(f"    Theia page: {af.url}/theia/  (also 'Theia' in the Airflow navigation)")
        if created.get("admin"):
            print(f"    admin password (shown once): {created['admin']}")
        else:
            print(f"    admin password: in {af.passwords_file}")
        if args.no_serve:
            return 0
        print("    serving until Ctrl-C", flush=True)
        while all(p.poll() is None for p in af.processes):
            time.sleep(1)
        return 1
    except PortInUseError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        if af.processes:
            # A second Ctrl-C must not cut the shutdown short and leave processes behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("==> stopping Airflow", flush=True)
            af.stop()


if __name__ == "__main__":
    raise SystemExit(main())
