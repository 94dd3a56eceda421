"""``python -m theia_sf.dashboards``: regenerate (or check) the provisioned dashboard JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from theia_sf.dashboards.build import stale_files, write_all
from theia_sf.sql import default_sql_dir


def default_out_dir() -> Path:
    # include/theia_sf/dashboards -> include/grafana/dashboards in the source tree.
    return Path(__file__).resolve().parents[2] / "grafana" / "dashboards"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m theia_sf.dashboards",
        description="Build the Grafana dashboard JSON from the queries in sql/dashboards/.",
    )
    parser.add_argument("--sql-dir", type=Path, default=None, help="the sql/ folder")
    parser.add_argument("--out", type=Path, default=None, help="output folder for *.json")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the files differ from the generator"
    )
    args = parser.parse_args(argv)
    sql_dir = args.sql_dir or default_sql_dir()
    out_dir = args.out or default_out_dir()
    if args.check:
        stale = stale_files(sql_dir, out_dir)
        if stale:
            print(
                f"out of date in {out_dir}: {', '.join(stale)}; run python -m theia_sf.dashboards"
            )
            return 1
        print(f"dashboards in {out_dir} are up to date")
        return 0
    for path in write_all(sql_dir, out_dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
