"""The quick start's Airflow processes: what they listen on, and that none outlives a stop.

Two local Airflows side by side (another checkout, the e2e tests beside a ``make run``) must
both come up; nothing but the API server listens, and only on loopback; task logs still reach
the REST API (the LocalExecutor writes them where the API server reads them).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser import free_port

from processes import listening_addresses, processes_of
from theia_sf.quickstart import LocalAirflow

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _wait_gone(home: Path, port: int, timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := processes_of(home, port)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def test_a_start_that_fails_stops_what_it_started(tmp_path):
    af = LocalAirflow(tmp_path / "home", tmp_path / "data", port=free_port())
    with pytest.raises(TimeoutError):
        af.start(timeout=0.5)  # the API server cannot be up this soon
    assert af.processes == []
    assert _wait_gone(af.home, af.port, timeout=5) == []


def test_sigterm_while_starting_leaves_nothing_running(tmp_path):
    home = tmp_path / "home"
    port = free_port()
    quickstart = subprocess.Popen(
        [sys.executable, "-m", "theia_sf.quickstart", "--home", str(home),
         "--data-dir", str(tmp_path / "data"), "--port", str(port), "--no-serve"],
        env={**os.environ, "PYTHONPATH": str(ROOT / "include")},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        while not (home / "logs" / "api-server.out").exists():
            assert quickstart.poll() is None, quickstart.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the API server never started"
            time.sleep(0.2)
        time.sleep(1)
        assert processes_of(home, port)  # the API server runs in its own session
        quickstart.send_signal(signal.SIGTERM)
        quickstart.wait(timeout=90)
    finally:
        if quickstart.poll() is None:
            quickstart.kill()
    left = _wait_gone(home, port)
    for pid in left:  # never leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert left == []


def _task_log(af: LocalAirflow, dag_id: str, run_id: str, task_id: str) -> str:
    quoted = urllib.request.quote(run_id, safe="")
    body = af.request(
        "GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances/{task_id}/logs/1"
        "?full_content=true")
    content = body["content"]
    if isinstance(content, list):
        return "\n".join(str(c.get("event", c)) if isinstance(c, dict) else str(c) for c in content)
    return str(content)


def test_two_local_airflows_side_by_side_listen_only_on_their_api_port(tmp_path):
    first = LocalAirflow(tmp_path / "a" / "airflow", tmp_path / "a" / "theia", port=free_port())
    second = LocalAirflow(tmp_path / "b" / "airflow", tmp_path / "b" / "theia", port=free_port())
    try:
        for af in (first, second):
            af.init()
            af.start()
        time.sleep(10)  # the scheduler would have bound its log server by now
        for af in (first, second):
            assert all(p.poll() is None for p in af.processes), af.home
            own = processes_of(af.home, af.port)
            assert {p.pid for p in af.processes} <= set(own)
            assert listening_addresses(own) == {("127.0.0.1", af.port)}

        # Task logs reach the REST API without a log server.
        first.wait_for_dags(["theia_onboard"])
        run_id = first.trigger("theia_onboard", {"engine": "duckdb"})
        assert first.wait_run("theia_onboard", run_id)["state"] == "success"
        task_id = next(iter(first.task_states("theia_onboard", run_id)))
        log = _task_log(first, "theia_onboard", run_id, task_id)
        assert "Could not read served logs" not in log
        assert "Task instance is in running state" not in log
        assert "Task finished" in log or "Done. Returned value" in log, log[-2000:]
    finally:
        for af in (first, second):
            af.stop()
