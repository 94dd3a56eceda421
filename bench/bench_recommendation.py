"""Benchmark the policy recommendation service on flows already in the embedded engine.

Shapes (issue targets on a 2-core machine):
  ordinary   10M flows of an ordinary cluster (tens of thousands of distinct tuples)
  highcard   1M and 10M flows with high cardinality (300,000+ distinct tuples: many pods,
             churning pod IPs, many external IPs)

Flows are generated with SQL inside DuckDB (``INSERT INTO FLOWS SELECT ... FROM range(n)``).
Each measurement runs in a fresh interpreter after the data is written, and times only
``run_policy_recommendation`` (reduction, building, self-check, rendering, persistence), not
interpreter or Airflow start-up. Peak memory is the measuring process's maximum RSS.

    python bench/bench_recommendation.py                 # all three shapes
    python bench/bench_recommendation.py highcard 1000000
    python bench/bench_recommendation.py --keep /tmp/benchdb --repeat 5 highcard 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

SHAPES = {
    # workloads, namespaces, peers per workload, replica-set hashes per workload, external
    # IPs, external peers per workload (0: any of the external IPs)
    "ordinary": {"workloads": 400, "namespaces": 20, "peers": 12, "hashes": 2,
                 "external_ips": 4000, "external_peers": 5},
    "highcard": {"workloads": 3000, "namespaces": 100, "peers": 20, "hashes": 2,
                 "external_ips": 100000, "external_peers": 30},
}  # fmt: skip
START = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)

# Row i: a source workload, one of its peers, and a kind (7/10 pod-to-pod, 1/10 through a
# Service, 1/10 to an external IP, 1/10 from an external IP); one flow in ten is protected.
GENERATE = """
INSERT INTO FLOWS (
    flowStartSeconds, flowEndSeconds, sourceIP, destinationIP, sourceTransportPort,
    destinationTransportPort, protocolIdentifier, octetDeltaCount, reverseOctetDeltaCount,
    sourcePodName, sourcePodNamespace, destinationPodName, destinationPodNamespace,
    destinationServicePortName, ingressNetworkPolicyName, flowType, sourcePodLabels,
    destinationPodLabels, clusterUUID
)
SELECT
    TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_seconds(i % 518400),
    TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_seconds(i % 518400 + 60),
    CASE WHEN kind = 9 THEN '198.' || (ext // 65536) || '.' || (ext // 256 % 256) || '.' || (ext % 256)
         ELSE '10.' || (h % 200) || '.' || (h // 200 % 250) || '.' || (i % 250) END,
    CASE WHEN kind = 8 THEN '203.' || (ext // 65536) || '.' || (ext // 256 % 256) || '.' || (ext % 256)
         ELSE '10.' || (h // 7 % 200) || '.' || (i % 251) || '.' || (h % 250) END,
    30000 + i % 20000,
    CASE WHEN kind >= 8 THEN 443 ELSE 8000 + d % 3 END,
    CASE WHEN d % 11 = 0 THEN 17 ELSE 6 END,
    1000 + i % 5000, 500 + i % 3000,
    CASE WHEN kind <> 9 THEN 'app-' || s || '-' || (i % 977) END,
    CASE WHEN kind <> 9 THEN 'ns-' || (s % {namespaces}) END,
    CASE WHEN kind <> 8 THEN 'app-' || d || '-' || (i % 983) END,
    CASE WHEN kind <> 8 THEN 'ns-' || (d % {namespaces}) END,
    CASE WHEN kind = 7 THEN 'ns-' || (d % {namespaces}) || '/svc-' || d || ':http' END,
    CASE WHEN i % 10 = 3 THEN 'protected' END,
    CASE WHEN kind = 8 THEN 3 WHEN kind = 9 THEN 4 ELSE 1 + (h % 2) END,
    CASE WHEN kind <> 9 THEN '{{"app":"app-' || s || '","pod-template-hash":"h' || (s * 7 + i % {hashes}) || '"}}' END,
    CASE WHEN kind <> 8 THEN '{{"app":"app-' || d || '","pod-template-hash":"h' || (d * 7 + (i // 7) % {hashes}) || '"}}' END,
    '8f4c0c8e-2b1e-4a4f-9a57-6f2a7a4b9d10'
FROM (
    SELECT i, h, kind, s, (s + 1 + (h // 4096) % {peers}) % {workloads} AS d,
           CASE WHEN {external_peers} > 0
                THEN (s * 7919 + (h // 16777216) % GREATEST({external_peers}, 1)) % {external_ips}
                ELSE (h // 16777216) % {external_ips} END AS ext
    FROM (
        SELECT i, hash(i) AS h, i % 10 AS kind, hash(i) % {workloads} AS s
        FROM range({rows}) t(i)
    )
)
"""


def generate(path: Path, shape: str, rows: int) -> float:
    import duckdb

    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.migrations import migrate
    from theia_sf.sql import SqlLibrary

    with DuckDBWarehouse(path).session() as session:
        migrate(session, SqlLibrary(ROOT / "sql"))
    began = time.monotonic()
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    con.execute(GENERATE.format(rows=int(rows), **SHAPES[shape]))
    con.close()
    return time.monotonic() - began


def _cpu_seconds() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:  # the process ended
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(p) for p in children.read().split()]
    except OSError:
        return []


class _TogetherPeak:
    """The largest resident size of this process and its children at the same moment,
    sampled every 20 ms (Linux /proc): a lower bound of the true simultaneous peak, where
    the sum of each process's own peak is an upper bound (the peaks need not coincide)."""

    def __init__(self) -> None:
        self.kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.02):
            total = _rss_kib(me) + sum(_rss_kib(c) for c in _children(me))
            self.kib = max(self.kib, total)

    def __enter__(self) -> _TogetherPeak:
        if Path(f"/proc/{os.getpid()}/status").exists():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def measure(path: Path) -> dict[str, object]:
    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.recommendation.model import Options
    from theia_sf.services.recommendation import default_workers, run_policy_recommendation
    from theia_sf.settings import Settings
    from theia_sf.sql import SqlLibrary
    from theia_sf.timewindow import Window

    warehouse = DuckDBWarehouse(path)
    sql = SqlLibrary(ROOT / "sql")
    window = Window(START, START + dt.timedelta(days=7))
    with warehouse.session(read_only=True) as session:
        from theia_sf.sql import Query

        flows = session.fetch(Query("n", "SELECT COUNT(*) AS n FROM FLOWS"))[0]["n"]
    # The service logs the end of each step; their times give the breakdown.
    steps: dict[str, float] = {}
    markers = {"reduced to rules": "reduce", "policies made": "build_render_compile",
               "self-check replayed": "self_check", "succeeded:": "persist"}  # fmt: skip

    class Steps(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            for marker, step in markers.items():
                if marker in text:
                    steps[step] = round(time.monotonic() - began - sum(steps.values()), 2)

    logger = logging.getLogger("theia_sf.services.recommendation")
    logger.setLevel(logging.INFO)
    logger.addHandler(Steps())
    # THEIA_RECOMMENDATION_WORKERS chooses the processes, as for the DAG.
    workers = Settings.from_env().recommendation_workers or default_workers()
    cpu_before = _cpu_seconds()
    began = time.monotonic()
    with _TogetherPeak() as together:
        summary = run_policy_recommendation(
            warehouse, sql, window=window, options=Options.create(), workers=workers
        )
    wall = time.monotonic() - began
    cpu = _cpu_seconds() - cpu_before
    # After the last log line: closing the storage session (DuckDB's checkpoint writes the
    # policies out; its time varies with the disk).
    steps["close"] = round(wall - sum(steps.values()), 2)
    # With partition workers, the run's memory is this process plus its workers: the sum of
    # the peaks (each worker's is at most RUSAGE_CHILDREN's, the largest one) bounds it from
    # above. It counts twice the pages a worker still shares with this process after fork.
    own_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    worker_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak_kib = own_kib + (workers - 1) * worker_kib
    return {
        "flows": flows,
        "tuples": summary.tuple_count,
        "policies": summary.policy_count,
        "skipped_tuples": sum(v["tuples"] for v in summary.skipped.values()),
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(peak_kib / 1024),
        "workers": workers,
        "rss_mib_by_process": [round(own_kib / 1024)] + [round(worker_kib / 1024)] * (workers - 1),
        # Sampled at the same moments: what the processes held together (0 without /proc).
        "rss_mib_together_sampled": round(together.kib / 1024),
        # Processor time of this process and its workers (user + system): the work done,
        # which waiting for the disk does not inflate; cpu_s / wall_s is the cores kept busy.
        "cpu_s": round(cpu, 2),
        "flows_per_s": round(flows / wall),
        "tuples_per_s": round(summary.tuple_count / wall),
        "steps_s": steps,
    }


def run_case(shape: str, rows: int, keep: Path | None, repeat: int = 1) -> dict[str, object]:
    """Measure ``repeat`` times, each in a fresh interpreter; with several, the result is the
    run of median wall time, and ``runs_wall_s`` / ``runs_cpu_s`` list them all (this machine's
    speed varies from run to run: compare code on medians of runs taken back to back)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = (keep or Path(tmp)) / f"bench-{shape}-{rows}.duckdb"
        if not path.exists():
            seconds = generate(path, shape, rows)
            print(f"generated {rows:,} {shape} flows in {seconds:.1f} s", file=sys.stderr)
        results = []
        for _ in range(repeat):
            out = subprocess.run(
                [sys.executable, __file__, "--measure", str(path)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        median = sorted(results, key=lambda r: r["wall_s"])[len(results) // 2]
        if repeat > 1:
            median = {**median, "runs_wall_s": [r["wall_s"] for r in results],
                      "runs_cpu_s": [r["cpu_s"] for r in results]}  # fmt: skip
        return {"shape": shape, **median}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shape", nargs="?", choices=sorted(SHAPES))
    parser.add_argument("rows", nargs="?", type=int)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--keep", type=Path, help="keep generated databases in this directory")
    parser.add_argument("--repeat", type=int, default=1, help="measurements per shape (median)")
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    cases = (
        [(args.shape, args.rows or 1_000_000)]
        if args.shape
        else [("ordinary", 10_000_000), ("highcard", 1_000_000), ("highcard", 10_000_000)]
    )
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    print(f"cpus={os.cpu_count()}")
    for shape, rows in cases:
        print(json.dumps(run_case(shape, rows, args.keep, args.repeat)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
