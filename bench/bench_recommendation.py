"""Benchmark the policy recommendation service on flows already in the embedded engine.

Shapes (targets on a 2-core machine, as a ratio to the reduction statement alone):
  ordinary   10M flows of an ordinary cluster (tens of thousands of distinct tuples): <= 1.5x
  highcard   1M (<= 3x) and 10M (<= 2.5x) flows with high cardinality (300,000+ distinct
             tuples: many pods, churning pod IPs, many external IPs); < 1 GiB

Flows are generated with SQL inside DuckDB (``INSERT INTO FLOWS SELECT ... FROM range(n)``).
The measurement runs in a fresh interpreter after the data is written and alternates, on the
same database, ``run_policy_recommendation`` (plan with the reduction, the shards, finish with
the evidence; not interpreter or Airflow start-up) with the product's reduction statement alone
(materialized in the warehouse as the product keeps it); it prints both medians and their
ratio. Peak memory is the measuring process's maximum RSS.

With ``--workers N`` (N > 1) the shards run side by side in N fresh processes, as a distributed
executor runs the DAG's mapped shard tasks (plan and finish stay in the measuring process); the
peak of the shard processes is reported apart. On DuckDB they take turns on the file's lock
while they read and stage, and overlap while they build and self-check.

    python bench/bench_recommendation.py                 # all three shapes
    python bench/bench_recommendation.py highcard 1000000
    python bench/bench_recommendation.py --keep /tmp/benchdb --repeat 5 highcard 1000000
    python bench/bench_recommendation.py --workers 2 highcard 10000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
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
START = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)  # the run's window: [START, START + 7 days)
WINDOW_DAYS = 7
# Before the window, as much traffic again over the 23 days before it (the rest of a 30-day
# preview window), with a few more peers per workload than the window sees: the impact preview
# replays both, and denies what only the history has.
HISTORY_DAYS = 23
HISTORY_EXTRA_PEERS = 2

# Row i: a source workload, one of its peers, and a kind (7/10 pod-to-pod, 1/10 through a
# Service, 1/10 to an external IP, 1/10 from an external IP); one flow in ten is protected.
# Rows [first, first + rows) start at {start} and spread over {span} seconds.
GENERATE = """
INSERT INTO FLOWS (
    flowStartSeconds, flowEndSeconds, sourceIP, destinationIP, sourceTransportPort,
    destinationTransportPort, protocolIdentifier, octetDeltaCount, reverseOctetDeltaCount,
    sourcePodName, sourcePodNamespace, destinationPodName, destinationPodNamespace,
    destinationServicePortName, ingressNetworkPolicyName, flowType, sourcePodLabels,
    destinationPodLabels, clusterUUID
)
SELECT
    TIMESTAMPTZ '{start}' + to_seconds(i % {span}),
    TIMESTAMPTZ '{start}' + to_seconds(i % {span} + 60),
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
        FROM range({first}, {first} + {rows}) t(i)
    )
)
"""


def generate(path: Path, shape: str, rows: int) -> float:
    """``rows`` flows over the first 6 days of the run's window, and ``rows`` more over the
    :data:`HISTORY_DAYS` before it (which only the impact preview reads)."""
    import duckdb

    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.migrations import migrate
    from theia_sf.sql import SqlLibrary

    with DuckDBWarehouse(path).session() as session:
        migrate(session, SqlLibrary(ROOT / "sql"))
    began = time.monotonic()
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    shape_values = SHAPES[shape]
    history = {
        **shape_values,
        "peers": shape_values["peers"] + HISTORY_EXTRA_PEERS,
        "external_peers": shape_values["external_peers"] + HISTORY_EXTRA_PEERS,
    }
    # Spans end a minute early: a flow's record ends 60 s after it starts.
    for first, start, span, values in (
        (0, START, 6 * 86400, shape_values),
        (rows, START - dt.timedelta(days=HISTORY_DAYS), HISTORY_DAYS * 86400 - 60, history),
    ):
        con.execute(
            GENERATE.format(
                rows=int(rows), first=int(first), start=start.isoformat(sep=" "), span=span,
                **values,
            )
        )  # fmt: skip
    con.close()
    return time.monotonic() - began


def _reduction_alone(warehouse, sql, window) -> float:
    """Seconds of the product's reduction statement alone, materialized in the warehouse as
    the product keeps it (the same SELECT, without the run id and tuple numbers)."""
    from theia_sf.recommendation.model import DEFAULT_LABEL_IGNORE_LIST
    from theia_sf.recommendation.reduction import reduction_query
    from theia_sf.sql import Query

    select = reduction_query(sql, window, None, 0, DEFAULT_LABEL_IGNORE_LIST)
    create = Query("bench", "CREATE OR REPLACE TEMPORARY TABLE bench_reduction AS " + select.text,
                   select.binds)  # fmt: skip
    with warehouse.session() as session:
        began = time.monotonic()
        session.execute(create)
        return time.monotonic() - began


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _peak_mib() -> int:
    """This process's peak resident size (VmHWM: unlike ``ru_maxrss``, it starts afresh in a
    spawned process)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return 0


def _shard_process(path: str, run_id: str, shard: int) -> tuple[dict[str, object], int]:
    """One shard in a fresh process, as an Airflow task runs it: its record and peak."""
    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.services.recommendation import run_shard
    from theia_sf.sql import SqlLibrary

    record = run_shard(DuckDBWarehouse(path), SqlLibrary(ROOT / "sql"), run_id, shard)
    return record, _peak_mib()


def _run_side_by_side(warehouse, sql, request, workers: int, peaks: list[int]):
    """Plan, the shards in ``workers`` fresh processes at a time, finish: the run's summary and
    the time of each step; appends the shard processes' peaks to ``peaks``."""
    from theia_sf.services.recommendation import finish_recommendation, plan_recommendation

    began = time.monotonic()
    plan = plan_recommendation(warehouse, sql, request)
    planned = time.monotonic()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=spawn, max_tasks_per_child=1) as pool:
        shards = list(
            pool.map(
                _shard_process,
                [warehouse.path] * plan.shards,
                [plan.run_id] * plan.shards,
                range(plan.shards),
            )
        )
    sharded = time.monotonic()
    summary = finish_recommendation(warehouse, sql, plan.run_id, [r for r, _ in shards])
    peaks += [peak for _, peak in shards]
    steps = {
        "plan": round(planned - began, 2),
        "shards": round(sharded - planned, 2),
        "finish": round(time.monotonic() - sharded, 2),
    }
    return summary, steps


def measure(
    path: Path, repeat: int, preview_days: int = 0, workers: int = 1
) -> dict[str, object]:
    """In one interpreter on one database: the product's run and its reduction statement
    alone, alternating ``repeat`` times; medians and their ratio. With ``preview_days``, each
    round also runs the product with that impact preview (``preview_days=0`` is the run
    without it). With ``workers`` > 1 the shards run side by side in fresh processes."""
    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.recommendation.model import Options
    from theia_sf.recommendation.parameters import RecommendationRequest
    from theia_sf.services.recommendation import run_policy_recommendation
    from theia_sf.sql import Query, SqlLibrary
    from theia_sf.timewindow import Window

    warehouse = DuckDBWarehouse(path)
    sql = SqlLibrary(ROOT / "sql")
    window = Window(START, START + dt.timedelta(days=WINDOW_DAYS))
    with warehouse.session(read_only=True) as session:
        flows = session.fetch(Query("n", "SELECT COUNT(*) AS n FROM FLOWS"))[0]["n"]
    # The service logs the end of each step (plan, each shard, finish); a step's time is the
    # time since the previous end (the shards' add up).
    steps: dict[str, float] = {}
    markers = {
        "reduced in the warehouse": "plan",
        "flow directions replayed": "shards",
        "succeeded:": "finish",
    }
    last = [0.0]

    class Steps(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            for marker, step in markers.items():
                if marker in text:
                    now = time.monotonic()
                    steps[step] = round(steps.get(step, 0.0) + now - last[0], 2)
                    last[0] = now

    logger = logging.getLogger("theia_sf.services.recommendation")
    logger.setLevel(logging.INFO)
    logger.addHandler(Steps())
    products, previews, reductions, runs, preview_runs = [], [], [], [], []
    shard_peaks: list[int] = []
    cases = [(0, products, runs)]
    if preview_days:
        cases.append((preview_days, previews, preview_runs))
    for _ in range(repeat):
        for days, times, step_log in cases:
            steps.clear()
            request = RecommendationRequest(window, Options.create(), preview_days=days)
            began = last[0] = time.monotonic()
            if workers > 1:
                summary, timed = _run_side_by_side(warehouse, sql, request, workers, shard_peaks)
                steps.update(timed)
            else:
                summary = run_policy_recommendation(warehouse, sql, request)
            times.append(round(time.monotonic() - began, 2))
            step_log.append(dict(steps))
            if days:
                preview = summary_preview(warehouse, sql, summary.run_id)
        reductions.append(round(_reduction_alone(warehouse, sql, window), 2))
    with warehouse.session(read_only=True) as session:
        sizes = session.fetch(
            Query(
                "size",
                "SELECT SUM(LENGTH(yaml)) AS yaml, COUNT(*) AS policies, SUM(ruleCount) AS rules "
                "FROM RECOMMENDED_POLICIES WHERE runId = :r",
                {"r": summary.run_id},
            )
        )[0]
        peers = session.fetch(
            Query("peers", "SELECT COUNT(*) AS n FROM RECOMMENDATION_EVIDENCE WHERE runId = :r",
                  {"r": summary.run_id})
        )[0]["n"]  # fmt: skip
    from theia_sf.recommendation.runs import load_run

    with warehouse.session(read_only=True) as session:
        shard_count = int(load_run(session, sql, summary.run_id)["shard_count"] or 1)
    product = _median(products)
    reduction = _median(reductions)
    with_preview: dict[str, object] = {}
    if preview_days:
        with_preview = {
            "preview_days": preview_days,
            "preview": preview,
            "product_preview_s": _median(previews),
            "preview_ratio": round(_median(previews) / reduction, 2),
            "preview_cost": round(_median(previews) / product, 2),
            "runs_product_preview_s": previews,
            "preview_steps_s": preview_runs,
        }
    return {
        "flows": flows,
        "tuples": summary.tuple_count,
        "policies": summary.policy_count,
        "rules": int(sizes["rules"] or 0),
        "rule_peers": peers,
        "yaml_mb": round(int(sizes["yaml"] or 0) / 1e6, 1),
        "product_s": product,
        "reduction_s": reduction,
        "ratio": round(product / reduction, 2),
        "runs_product_s": products,
        "runs_reduction_s": reductions,
        "steps_s": runs,
        **with_preview,
        "shards": shard_count,
        "workers": workers,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        **({"peak_shard_process_mib": max(shard_peaks)} if shard_peaks else {}),
    }


def summary_preview(warehouse, sql, run_id: str) -> dict[str, object]:
    """The run record's preview counts (tuples replayed, denied)."""
    from theia_sf.recommendation.runs import load_run

    with warehouse.session(read_only=True) as session:
        preview = load_run(session, sql, run_id).get("preview") or {}
    return {k: preview.get(k) for k in ("tuples", "denied_tuples", "denied_flows")}


def run_case(
    shape: str,
    rows: int,
    keep: Path | None,
    repeat: int = 3,
    preview_days: int = 0,
    workers: int = 1,
) -> dict[str, object]:
    """Measure in a fresh interpreter after the data is written: the product and the reduction
    alone, alternating ``repeat`` times on the same database (this machine's speed varies from
    minute to minute: the ratio of neighbouring runs is what compares)."""
    with tempfile.TemporaryDirectory() as tmp:
        # v2: with the history before the window
        path = (keep or Path(tmp)) / f"bench-{shape}-{rows}-v2.duckdb"
        if not path.exists():
            seconds = generate(path, shape, rows)
            print(f"generated {rows:,} {shape} flows in {seconds:.1f} s", file=sys.stderr)
        out = subprocess.run(
            [sys.executable, __file__, "--measure", str(path), "--repeat", str(repeat),
             "--preview-days", str(preview_days), "--workers", str(workers)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return {"shape": shape, **json.loads(out.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shape", nargs="?", choices=sorted(SHAPES))
    parser.add_argument("rows", nargs="?", type=int)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--keep", type=Path, help="keep generated databases in this directory")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs per shape")
    parser.add_argument(
        "--preview-days", type=int, default=0,
        help="also run the product with this impact preview (the DAG's default Param is 30) "
        "in each round, next to the run without it (0: only without)",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int, default=1,
        help="run the shards side by side in this many fresh processes (1: one after the "
        "other in the measuring process, as run_policy_recommendation does)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat, args.preview_days, args.workers)))
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
        print(
            json.dumps(
                run_case(shape, rows, args.keep, args.repeat, args.preview_days, args.workers)
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
