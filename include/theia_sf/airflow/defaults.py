"""Defaults shared by every DAG file (cheap to import: no heavy modules)."""

from __future__ import annotations

import datetime as dt

import pendulum

from theia_sf.airflow.params import refuse_unknown_conf

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")

# Tasks that write to the warehouse run in this pool; on the embedded DuckDB engine it has
# one slot, so writers queue instead of contending for the file lock.
WAREHOUSE_POOL = "theia_warehouse"

DEFAULT_ARGS = {
    "owner": "theia",
    "retries": 2,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": True,
    # A conf key that no Param defines fails the task before its work (Airflow accepts it).
    "pre_execute": refuse_unknown_conf,
}

# The settings every one-shot onboarding DAG shares (with schedule=None, written in each file):
# run only when triggered (UI form or REST API), never two at once. Each adds params, doc_md.
ONE_SHOT_DAG = {
    "start_date": START_DATE,
    "catchup": False,
    "max_active_runs": 1,
    "default_args": DEFAULT_ARGS,
    "tags": ["theia", "onboarding"],
}
