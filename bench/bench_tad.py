"""Benchmark throughput anomaly detection per algorithm on 10M generated flows (embedded engine).

    python bench/bench_tad.py [--flows 10000000] [--db PATH] [--arima-minutes 10]

Flows are generated directly in DuckDB with SQL, in time order over one day, in the shape the
Flow Aggregator exports: 1M connections of 10 records each (one record per minute of a
connection's life, the same flowStartSeconds, a new flowEndSeconds and throughput each), 2,000
pods in 40 namespaces, 200 service ports, 10% of connections to 250 external IPs; throughput
around a per-connection level, with a few spikes. The measured part runs in a fresh child
process after its imports, one line per case:

* ``bare``: the series-forming query alone (``sql/tad/select_throughput_series.sql``), its rows
  read in batches and dropped: what the warehouse costs;
* ``EWMA`` and ``DBSCAN``: ``run_throughput_anomaly_detection`` (series, scoring, storing the
  anomalous points) over the whole day, per service port (``svc``: 200 series of ~50,000
  points) as standard Theia, and per connection (``none``: 1M series of 10 points) with the
  ``corrected`` variant (standard Theia's zero-start EWMA flags most points of such short
  series, and its DBSCAN every series shorter than 4 points);
* ``ARIMA``: one fit per point makes it cost seconds per series of some hundred points, as
  upstream: one service port over the first ``--arima-minutes`` minutes.

Reported per case: wall time, series and points, anomalous points, the child's peak RSS (the
process's high-water mark, so later cases include the earlier ones' peak).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

START = "2025-03-01 00:00:00+00"
RECORDS_PER_CONNECTION = 10

GENERATE = """
INSERT INTO FLOWS (
    flowStartSeconds, flowEndSeconds, flowEndReason, sourceIP, destinationIP,
    sourceTransportPort, destinationTransportPort, protocolIdentifier, sourcePodName,
    sourcePodNamespace, sourcePodLabels, destinationPodName, destinationPodNamespace,
    destinationPodLabels, destinationServicePortName, flowType, throughput, clusterUUID
)
WITH connections AS (
    SELECT
        c,
        TIMESTAMPTZ '{start}' + to_microseconds(CAST(c * (86400000000.0 / $connections) AS BIGINT)) AS started,
        hash(c) AS h,
        hash(c * 7 + 3) AS h2
    FROM range($connections) AS t(c)
), shaped AS (
    SELECT c, started, h, h % 2000 AS src, (h2 // 1000) % 2000 AS dst, h % 10 = 0 AS external,
           1000000 + (h2 % 50) * 200000 AS level
    FROM connections
), records AS (
    SELECT s.*, r, hash(c * 31 + r) AS noise
    FROM shaped AS s CROSS JOIN range({records}) AS t(r)
)
SELECT
    started,
    started + to_seconds(60 * (r + 1)),
    CASE WHEN r = {records} - 1 THEN 3 ELSE 2 END,
    '10.10.' || (src // 250) || '.' || (src % 250),
    CASE WHEN external THEN '203.0.113.' || (dst % 250) ELSE '10.20.' || (dst // 250) || '.' || (dst % 250) END,
    30000 + h % 30000,
    CASE WHEN dst % 3 = 0 THEN 443 ELSE 8080 END,
    6,
    'app' || (src // 5) || '-6d4b75cb6d-x2x7k',
    'ns' || (src % 40),
    '{{"app":"app' || (src // 5) || '","pod-template-hash":"6d4b75cb6d"}}',
    CASE WHEN external THEN NULL ELSE 'svc' || (dst // 10) || '-7c9f8b6d5-b8c9d' END,
    CASE WHEN external THEN NULL ELSE 'ns' || (dst % 40) END,
    CASE WHEN external THEN NULL ELSE '{{"app":"svc' || (dst // 10) || '"}}' END,
    CASE WHEN external THEN '' ELSE 'ns' || ((dst // 10) % 40) || '/svc' || (dst // 10) || ':http' END,
    CASE WHEN external THEN 3 ELSE 2 END,
    -- around the connection's level; one record in 20,000 is a 50x spike
    CASE WHEN noise % 20000 = 0 THEN level * 50 ELSE level + (noise % 100000) END,
    '8f4c0c8e-2b1e-4a4f-9a57-6f2a7a4b9d10'
FROM records
ORDER BY 2
"""


def generate(db: Path, flows: int) -> None:
    import duckdb

    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.migrations import migrate
    from theia_sf.sql import SqlLibrary

    warehouse = DuckDBWarehouse(db)
    with warehouse.session() as session:
        migrate(session, SqlLibrary(ROOT / "sql"))
    con = duckdb.connect(str(db))
    started = time.perf_counter()
    text = GENERATE.format(start=START, records=RECORDS_PER_CONNECTION)
    con.execute(text, {"connections": flows // RECORDS_PER_CONNECTION})
    con.execute("CHECKPOINT")
    (total,) = con.execute("SELECT COUNT(*) FROM FLOWS").fetchone()
    con.close()
    print(f"generated {total:,} flows in {time.perf_counter() - started:.1f} s into {db}")


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure(db: Path, arima_minutes: int, memory_limit: str) -> None:
    """Child process: imports first (not timed), then each case."""
    import datetime as dt

    import scipy.stats  # noqa: F401  (imported before timing, as a worker has it loaded)
    import statsmodels.tsa.arima.model  # noqa: F401

    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.services.tad import (
        FETCH_BATCH,
        run_throughput_anomaly_detection,
        series_query,
    )
    from theia_sf.sql import SqlLibrary
    from theia_sf.tad.model import TadConfig
    from theia_sf.timewindow import Window

    sql = SqlLibrary(ROOT / "sql")
    warehouse = DuckDBWarehouse(db, memory_limit=memory_limit)
    start = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    day = Window(start, start + dt.timedelta(days=1, hours=1))
    print(json.dumps({"rss_after_imports_mib": _peak_rss_mib()}), flush=True)

    def bare(config: TadConfig, window: Window) -> None:
        t0 = time.perf_counter()
        rows = 0
        with warehouse.session(read_only=True, streaming=True) as session:
            _, batches = session.fetch_batches(series_query(sql, config, window), FETCH_BATCH)
            for batch in batches:
                rows += len(batch)
        report("bare", config, time.perf_counter() - t0, points=rows)

    def report(case: str, config: TadConfig, seconds: float, **extra) -> None:
        print(
            json.dumps(
                {
                    "case": case,
                    "agg_flow": config.agg_flow.value,
                    "filter": config.svc_port_name,
                    "seconds": round(seconds, 2),
                    **extra,
                    "peak_rss_mib": _peak_rss_mib(),
                }
            ),
            flush=True,
        )

    def run(config: TadConfig, window: Window) -> None:
        t0 = time.perf_counter()
        result = run_throughput_anomaly_detection(warehouse, sql, config, window)
        report(
            config.algorithm.value,
            config,
            time.perf_counter() - t0,
            series=result.series_count,
            points=result.point_count,
            skipped=result.skipped_series,
            anomalies=len(result.anomalies),
        )

    bare(TadConfig(agg_flow="svc"), day)
    for algorithm in ("EWMA", "DBSCAN"):
        run(TadConfig(algorithm=algorithm, agg_flow="svc"), day)
    bare(TadConfig(agg_flow="none"), day)
    run(TadConfig(algorithm="DBSCAN", agg_flow="none", variant="corrected"), day)
    # Standard Theia's EWMA starts at 0: per connection (10 points) it flags most warm-up
    # points, and storing millions of them would dominate; the corrected variant does not.
    run(TadConfig(algorithm="EWMA", agg_flow="none", variant="corrected"), day)
    one = TadConfig(algorithm="ARIMA", agg_flow="svc", svc_port_name="ns0/svc0:http")
    short = Window(start, start + dt.timedelta(minutes=arima_minutes))
    bare(one, short)
    run(one, short)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=10_000_000)
    parser.add_argument("--db", type=Path, default=None, help="reuse/create this DuckDB file")
    parser.add_argument("--arima-minutes", type=int, default=10)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.db, args.arima_minutes, args.memory_limit)
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.duckdb"
        if not db.exists():
            generate(db, args.flows)
        subprocess.run(
            [
                sys.executable, __file__, "--measure", "--db", str(db),
                "--arima-minutes", str(args.arima_minutes), "--memory-limit", args.memory_limit,
            ],
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "include")},
        )  # fmt: skip


if __name__ == "__main__":
    main()
