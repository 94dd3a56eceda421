"""Defaults shared by every DAG file (cheap to import: no heavy modules)."""

from __future__ import annotations

import datetime as dt

import pendulum

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")

# Tasks that write to the warehouse run in this pool; on the embedded DuckDB engine it has
# one slot, so writers queue instead of contending for the file lock.
WAREHOUSE_POOL = "theia_warehouse"

DEFAULT_ARGS = {
    "owner": "theia",
    "retries": 2,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": True,
}
