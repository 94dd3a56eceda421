"""Ingestion benchmark: load generated gzip CSV flow files into the embedded engine.

Default: 10M records, layout v2.7, files of 1M records (as the Flow Aggregator writes them).
Generated files are cached under --data (re-used by later runs). Reports rows/s and the
process's peak RSS (DuckDB runs in-process, so its memory is included).

    .venv/bin/python bench/bench_ingest.py [--records 10000000] [--workers 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

from theia_sf.adapters.duckdb import DuckDBWarehouse  # noqa: E402
from theia_sf.demo import generate_flows  # noqa: E402
from theia_sf.ingest import ingest_flows  # noqa: E402
from theia_sf.migrations import migrate  # noqa: E402
from theia_sf.objectstore import LocalObjectStore  # noqa: E402
from theia_sf.sql import SqlLibrary  # noqa: E402

END = dt.datetime(2026, 1, 31, tzinfo=dt.UTC)


def _generate(args: tuple[str, int, int, str, int]) -> int:
    directory, records, seed, layout, per_file = args
    return generate_flows(directory, layout=layout, records=records, days=30, end=END, seed=seed,
                          records_per_file=per_file).records


def ensure_data(directory: Path, records: int, layout: str, per_file: int, procs: int) -> int:
    marker = directory / "summary.json"
    if marker.exists():
        summary = json.loads(marker.read_text())
        if summary["records"] >= records * 0.99 and summary["layout"] == layout:
            return int(summary["records"])
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    chunks = max(1, records // per_file)
    jobs = [(str(directory / f"part{i}"), records // chunks, 100 + i, layout, per_file)
            for i in range(chunks)]
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=procs) as pool:
        total = sum(pool.map(_generate, jobs))
    for part in directory.glob("part*"):
        for f in part.iterdir():
            f.rename(directory / f"{part.name}-{f.name}")
        part.rmdir()
    print(f"generated {total} records in {time.monotonic() - started:.1f} s", flush=True)
    marker.write_text(json.dumps({"records": total, "layout": layout}))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--records-per-file", type=int, default=1_000_000)
    parser.add_argument("--layout", default="v2.7")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="1GB")
    parser.add_argument("--data", default=str(ROOT / ".local" / "bench" / "ingest"))
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)

    flows = Path(args.data) / f"{args.layout}-{args.records}"
    total = ensure_data(flows, args.records, args.layout, args.records_per_file, 2)
    sql = SqlLibrary(ROOT / "sql")
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = DuckDBWarehouse(Path(tmp) / "bench.duckdb", memory_limit=args.memory_limit)
        with warehouse.session() as session:
            migrate(session, sql)
        started = time.monotonic()
        report = ingest_flows(warehouse, sql, LocalObjectStore(flows), workers=args.workers,
                              now=END, max_files=10_000)
        elapsed = time.monotonic() - started
        size = (Path(tmp) / "bench.duckdb").stat().st_size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert report.rows_loaded == total, (report.rows_loaded, total)
    print(json.dumps({
        "records": report.rows_loaded, "files": report.files_loaded, "layout": args.layout,
        "workers": args.workers, "seconds": round(elapsed, 2),
        "rows_per_second": round(report.rows_loaded / elapsed),
        "peak_rss_mib": round(peak), "duckdb_file_mib": round(size / 2**20),
        "memory_limit": args.memory_limit,
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
