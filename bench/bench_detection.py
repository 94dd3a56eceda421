"""Benchmark the drop-detection service on 10M generated flows over 30 days (embedded engine).

    python bench/bench_detection.py [--flows 10000000] [--days 30] [--db PATH] [--repeat 3]

Flows are generated directly in DuckDB with SQL (``INSERT INTO FLOWS SELECT ... FROM
range(n)``), in time order as ingestion appends them: 2,000 pods in 40 namespaces with
Kubernetes-style generated pod names, 2% of flows dropped or rejected (1.6% by ingress rules
towards 600 destination pods, 0.4% by egress rules from any pod), 10% of flows to external
IPs, and one injected spike (an extra 4,000 ingress drops for
one workload on day 25). The measured part runs in a fresh child process after its imports:
``run_drop_detection`` (baseline method, workload granularity, zero-filling, attribution and
persistence) on the whole window. Reported: wall time per repetition and the child's peak RSS.
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

GENERATE = """
INSERT INTO FLOWS (
    flowStartSeconds, flowEndSeconds, flowEndReason, sourceIP, destinationIP,
    sourceTransportPort, destinationTransportPort, protocolIdentifier, packetDeltaCount,
    octetDeltaCount, sourcePodName, sourcePodNamespace, destinationPodName,
    destinationPodNamespace, ingressNetworkPolicyName, ingressNetworkPolicyNamespace,
    ingressNetworkPolicyRuleName, ingressNetworkPolicyRuleAction, ingressNetworkPolicyType,
    egressNetworkPolicyName, egressNetworkPolicyNamespace, egressNetworkPolicyRuleName,
    egressNetworkPolicyRuleAction, egressNetworkPolicyType, flowType, clusterUUID
)
WITH base AS (
    SELECT
        i,
        TIMESTAMPTZ '{start}' + to_microseconds(CAST(i * ($days * 86400000000.0 / $n) AS BIGINT)) AS ts,
        hash(i) AS h,
        hash(i * 7 + 3) AS h2
    FROM range($n) AS t(i)
), shaped AS (
    SELECT
        ts,
        h,
        h % 2000 AS src,
        -- dropped flows go to ~600 destinations with a skew; others anywhere
        CASE WHEN h2 % 1000 < 20 THEN (h2 // 1000) % 600 ELSE (h2 // 1000) % 2000 END AS dst,
        h2 % 1000 < 20 AS dropped,
        h2 % 1000 < 4 AS egress_drop,
        h % 10 = 0 AS external
    FROM base
)
SELECT
    ts,
    ts + INTERVAL 5 SECOND,
    3,
    '10.10.' || (src // 250) || '.' || (src % 250),
    CASE WHEN external THEN '203.0.113.' || (dst % 250) ELSE '10.20.' || (dst // 250) || '.' || (dst % 250) END,
    30000 + h % 30000,
    CASE WHEN dst % 3 = 0 THEN 443 ELSE 8080 END,
    6,
    10,
    1500,
    'app' || (src // 5) || '-6d4b75cb6d-' || translate(substr(md5(CAST(src AS VARCHAR)), 1, 5), '0123456789abcdef', 'bcdfghjklmnpqrst'),
    'ns' || (src % 40),
    CASE WHEN external THEN NULL ELSE 'svc' || (dst // 4) || '-7c9f8b6d5-' || translate(substr(md5(CAST(dst AS VARCHAR)), 1, 5), '0123456789abcdef', 'bcdfghjklmnpqrst') END,
    CASE WHEN external THEN NULL ELSE 'ns' || (dst % 40) END,
    CASE WHEN dropped AND NOT egress_drop THEN 'deny-' || (dst % 40) END,
    CASE WHEN dropped AND NOT egress_drop THEN 'ns' || (dst % 40) END,
    CASE WHEN dropped AND NOT egress_drop THEN 'ingress-rule-' || (h % 3) END,
    CASE WHEN dropped AND NOT egress_drop THEN 2 ELSE 1 END,
    CASE WHEN dropped AND NOT egress_drop THEN 2 ELSE 0 END,
    CASE WHEN egress_drop THEN 'egress-lockdown' END,
    CASE WHEN egress_drop THEN 'ns' || (src % 40) END,
    CASE WHEN egress_drop THEN 'egress-rule-0' END,
    CASE WHEN egress_drop THEN 3 ELSE 1 END,
    CASE WHEN egress_drop THEN 3 ELSE 0 END,
    CASE WHEN external THEN 3 ELSE 2 END,
    '8f4c0c8e-2b1e-4a4f-9a57-6f2a7a4b9d10'
FROM shaped
"""

SPIKE = """
INSERT INTO FLOWS (
    flowStartSeconds, flowEndSeconds, sourceIP, destinationIP, sourcePodName,
    sourcePodNamespace, destinationPodName, destinationPodNamespace,
    ingressNetworkPolicyName, ingressNetworkPolicyNamespace, ingressNetworkPolicyRuleName,
    ingressNetworkPolicyRuleAction, ingressNetworkPolicyType, egressNetworkPolicyRuleAction,
    flowType, clusterUUID
)
SELECT
    TIMESTAMPTZ '{start}' + INTERVAL 24 DAY + to_microseconds(i * 20000000),
    TIMESTAMPTZ '{start}' + INTERVAL 24 DAY + to_microseconds(i * 20000000 + 1000000),
    '10.30.0.' || (i % 50), '10.20.0.9', 'scanner-5f7d8c9b6-' || translate(substr(md5(CAST(i % 7 AS VARCHAR)), 1, 5), '0123456789abcdef', 'bcdfghjklmnpqrst'),
    'tools', 'payments-7d9f8b6c5-x2x7k', 'shop', 'deny-payments', 'shop', 'ingress-rule-0', 2, 2, 0,
    2, '8f4c0c8e-2b1e-4a4f-9a57-6f2a7a4b9d10'
FROM range(4000) AS t(i)
"""


def generate(db: Path, flows: int, days: int) -> None:
    import duckdb

    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.migrations import migrate
    from theia_sf.sql import SqlLibrary

    warehouse = DuckDBWarehouse(db)
    with warehouse.session() as session:
        migrate(session, SqlLibrary(ROOT / "sql"))
    con = duckdb.connect(str(db))
    started = time.perf_counter()
    con.execute(GENERATE.format(start=START), {"n": flows, "days": days})
    con.execute(SPIKE.format(start=START))
    con.execute("CHECKPOINT")
    total, dropped = con.execute(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE ingressNetworkPolicyRuleAction IN (2, 3) "
        "OR egressNetworkPolicyRuleAction IN (2, 3)) FROM FLOWS"
    ).fetchone()
    con.close()
    print(
        f"generated {total:,} flows ({dropped:,} dropped) over {days} days in "
        f"{time.perf_counter() - started:.1f} s into {db}"
    )


def _peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM: reset by exec, unlike ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(db: Path, days: int, repeat: int, memory_limit: str) -> None:
    """Child process: imports first (not timed), then time the service."""
    import datetime as dt

    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.detection import DetectionConfig
    from theia_sf.services.detection import run_drop_detection
    from theia_sf.sql import SqlLibrary
    from theia_sf.timewindow import Window

    sql = SqlLibrary(ROOT / "sql")
    warehouse = DuckDBWarehouse(db, memory_limit=memory_limit)
    start = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    window = Window(start, start + dt.timedelta(days=days))
    rss_before = _peak_rss_kib()
    timings = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = run_drop_detection(warehouse, sql, DetectionConfig(), window)
        timings.append(time.perf_counter() - t0)
    assert result is not None
    bare = None
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    t0 = time.perf_counter()
    con.execute(
        "SELECT destinationPodName, CAST(flowStartSeconds AS DATE), COUNT(*) FROM FLOWS "
        "GROUP BY ALL"
    ).fetchall()
    bare = time.perf_counter() - t0
    con.close()
    print(
        json.dumps(
            {
                "wall_seconds": [round(t, 3) for t in timings],
                "best_seconds": round(min(timings), 3),
                "peak_rss_mib": round(_peak_rss_kib() / 1024, 1),
                "rss_after_imports_mib": round(rss_before / 1024, 1),
                "bare_group_by_seconds": round(bare, 3),
                "summary": result.to_record(),
                "top_anomalies": [
                    a.to_record() for a in sorted(result.anomalies, key=lambda a: -a.score)[:3]
                ],
            },
            indent=2,
            default=str,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--db", type=Path, default=None, help="reuse/create this DuckDB file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.db, args.days, args.repeat, args.memory_limit)
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.duckdb"
        if not db.exists():
            generate(db, args.flows, args.days)
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--measure",
                "--db",
                str(db),
                "--days",
                str(args.days),
                "--repeat",
                str(args.repeat),
                "--memory-limit",
                args.memory_limit,
            ],
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "include")},
        )


if __name__ == "__main__":
    main()
