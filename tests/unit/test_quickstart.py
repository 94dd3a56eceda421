"""``make run`` and its quick start, without starting Airflow: Makefile, secrets, port checks."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from processes import processes_of
from theia_sf.quickstart import SECRET_BYTES, LocalAirflow, PortInUseError, ingest_note

ROOT = Path(__file__).resolve().parents[2]


def _make_dry_run(target: str, **variables: str) -> list[list[str]]:
    done = subprocess.run(
        ["make", "-n", "-C", str(ROOT), target, *(f"{k}={v}" for k, v in variables.items())],
        capture_output=True, text=True, check=True,
    )
    return [shlex.split(line) for line in done.stdout.splitlines() if line.strip()]


def _uv_sync(commands: list[list[str]]) -> list[str]:
    (sync,) = [c for c in commands if c[:1] and c[0].endswith("/uv") and "sync" in c]
    return sync


def test_make_hands_uv_the_interpreter_not_a_launcher_script(tmp_path):
    # pyenv puts shell scripts ("shims") first on PATH; uv must see the real interpreter, or it
    # takes every call for a new one and recreates .venv.
    shim = tmp_path / "python3.11"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    shim.chmod(0o755)
    for target in ("install", "run"):
        sync = _uv_sync(_make_dry_run(target, PYTHON=str(shim)))
        python = sync[sync.index("--python") + 1]
        assert python != str(shim)
        assert Path(python).resolve() == Path(sys.executable).resolve()
        assert not Path(python).read_bytes().startswith(b"#!")


def test_make_run_installs_no_test_tools_and_removes_none():
    sync = _uv_sync(_make_dry_run("run"))
    assert "--extra" not in sync
    assert "--inexact" in sync  # test tools from an earlier `make test` stay
    assert "--extra" in _uv_sync(_make_dry_run("test"))


def test_make_run_takes_the_port():
    commands = _make_dry_run("run", PORT="8090")
    (quickstart,) = [c for c in commands if "theia_sf.quickstart" in c]
    assert quickstart[quickstart.index("--port") + 1] == "8090"
    (default,) = [c for c in _make_dry_run("run") if "theia_sf.quickstart" in c]
    assert default[default.index("--port") + 1] == "8080"


def test_generated_secrets_are_long_enough_for_hmac_sha512(tmp_path):
    af = LocalAirflow(tmp_path / "home", tmp_path / "data")
    env = af.env()
    for name in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
        assert len(env[name].encode()) >= SECRET_BYTES >= 64
    assert af.env()["AIRFLOW__API_AUTH__JWT_SECRET"] == env["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert (tmp_path / "home" / "jwt_secret").stat().st_mode & 0o077 == 0


def test_a_short_secret_from_an_older_home_is_replaced(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "jwt_secret").write_text("x" * 43)
    secret = LocalAirflow(home, tmp_path / "data").env()["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert len(secret.encode()) >= 64


def test_a_taken_port_is_named_and_nothing_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        af = LocalAirflow(tmp_path / "home", tmp_path / "data", port=port)
        with pytest.raises(PortInUseError) as raised:
            af.start()
    message = str(raised.value)
    assert f"port {port} is in use" in message
    assert "make run PORT=" in message
    assert af.processes == []
    assert processes_of(af.home, port) == []


def test_quickstart_exits_with_the_port_message(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "theia_sf.quickstart", "--home", str(tmp_path / "home"),
             "--data-dir", str(tmp_path / "data"), "--port", str(port), "--no-serve"],
            capture_output=True, text=True, timeout=600, check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT / "include")},
        )
    assert done.returncode == 2, done.stderr[-3000:]
    assert f"port {port} is in use" in done.stderr
    assert "make run PORT=" in done.stderr
    assert "Traceback" not in done.stderr
    assert processes_of(tmp_path / "home", port) == []


def test_ingest_note_says_who_loaded_the_files():
    assert ingest_note(True, 0, 3) == ""
    first_start = ingest_note(False, 0, 3)
    assert "3 new files were loaded" in first_start and "scheduled run" in first_start
    assert "1 new file was loaded" in ingest_note(False, 2, 3)
    restart = ingest_note(False, 3, 3)
    assert "loaded before this start" in restart
    assert "scheduled run" not in restart
