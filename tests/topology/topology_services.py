"""The services of the production topology, each a real server in its own process group.

Postgres (Debian's ``postgresql``) and Redis (``redis-server``) are started from their binaries
on loopback ports into a temporary directory; the S3-compatible store is moto's server.
Postgres refuses to run as root, so under root its processes run as the ``postgres`` user
(created by the Debian package). Every service is stopped by :meth:`Service.stop`, which
signals its whole process group and waits for it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class ServiceUnavailable(RuntimeError):
    """A binary the tier needs is not installed (``.ci/run`` installs it)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_binary(name: str) -> str:
    """``initdb``/``postgres`` from PATH or Debian's versioned directory (not on PATH)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if not candidates:
        raise ServiceUnavailable(f"{name} not found: apt-get install postgresql")
    return str(candidates[-1])


@dataclass
class Service:
    name: str
    log: Path
    stop_signal: int = signal.SIGTERM
    proc: subprocess.Popen[bytes] | None = None
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def start(self, args: list[str], *, env: dict[str, str] | None = None) -> None:
        out = open(self.log, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)

    def wait(self, ready: Callable[[], bool], timeout: float = 60) -> None:
        """Return once ``ready()``; else stop the service and raise."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    tail = self.log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{tail}")
                if ready():
                    return
                time.sleep(0.3)
            raise TimeoutError(f"{self.name} not ready after {timeout} s; see {self.log}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc is not None:
            _stop_group(self.proc, self.stop_signal)
            self.proc = None
        for step in self.cleanup:
            step()
        self.cleanup.clear()


def _stop_group(proc: subprocess.Popen[bytes], signum: int, timeout: float = 30) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signum)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)
    # Children that outlived the leader (or a leader that ignored the signal).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _as_postgres_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceUnavailable(
            "running as root needs the postgres user (apt-get install postgresql)") from None
    return ["runuser", "-u", "postgres", "--", *args]


def start_postgres(log_dir: Path) -> tuple[Service, str]:
    """A fresh cluster on a loopback port; returns the service and the Airflow database URL."""
    initdb, postgres = postgres_binary("initdb"), postgres_binary("postgres")
    # Outside pytest's tmp tree, whose folders only root may enter.
    base = Path(tempfile.mkdtemp(prefix="theia-topology-pg-"))
    service = Service("postgres", log_dir / "postgres.log", stop_signal=signal.SIGINT)
    service.cleanup.append(lambda: shutil.rmtree(base, ignore_errors=True))
    try:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(base, user.pw_uid, user.pw_gid)
        data = base / "data"
        subprocess.run(
            _as_postgres_user([initdb, "-D", str(data), "-U", "airflow", "--auth=trust",
                               "-E", "UTF8", "--no-sync", "--no-instructions"]),
            check=True, capture_output=True, text=True,
        )
        port = free_port()
        # fsync off: a throwaway cluster. Airflow's processes hold many pooled connections.
        service.start(_as_postgres_user([
            postgres, "-D", str(data), "-p", str(port), "-k", str(base),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
            "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=400",
        ]))

        def ready() -> bool:
            import psycopg2

            try:
                psycopg2.connect(host="127.0.0.1", port=port, user="airflow",
                                 dbname="postgres", connect_timeout=2).close()
            except psycopg2.OperationalError:
                return False
            return True

        service.wait(ready)
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=port, user="airflow", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE airflow")
        conn.close()
    except BaseException:
        service.stop()
        raise
    return service, f"postgresql+psycopg2://airflow@127.0.0.1:{port}/airflow"


def start_redis(log_dir: Path, work_dir: Path) -> tuple[Service, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceUnavailable("redis-server not found: apt-get install redis-server")
    port = free_port()
    service = Service("redis", log_dir / "redis.log")
    work_dir.mkdir(parents=True, exist_ok=True)
    service.start([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", str(work_dir), "--daemonize", "no"])

    def ready() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    service.wait(ready)
    return service, f"redis://127.0.0.1:{port}/0"


def start_moto(log_dir: Path) -> tuple[Service, str]:
    port = free_port()
    service = Service("moto", log_dir / "moto.log")
    service.start([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)])
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            return False

    service.wait(ready)
    return service, url
