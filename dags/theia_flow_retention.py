"""
### Theia flow retention (embedded DuckDB engine)

Daily at 00:00 UTC, deletes flow rows whose `timeInserted` is older than the retention
(`retention_days` Param, default `THEIA_FLOW_RETENTION_DAYS`, 30 days as in theia-sf) and
prunes the load history and rejected lines of the same age. On Snowflake the
`DELETE_STALE_FLOWS` task created by onboarding does this, and this DAG skips.
Logic: `theia_sf.ingest.apply_retention`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from theia_sf.airflow.defaults import DEFAULT_ARGS, START_DATE, WAREHOUSE_POOL
from theia_sf.airflow.params import MAX_RETENTION_DAYS, integer_param


@dag(
    schedule="0 0 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "retention_days": integer_param(
            None,
            minimum=1,
            maximum=MAX_RETENTION_DAYS,
            nullable=True,
            title="Retention (days)",
            description=f"Keep this many days of flows (1 to {MAX_RETENTION_DAYS}); empty: "
            "THEIA_FLOW_RETENTION_DAYS.",
        ),
    },
    tags=["theia", "ingestion"],
    doc_md=__doc__,
)
def theia_flow_retention() -> None:
    @task(pool=WAREHOUSE_POOL)
    def delete_stale_flows(params: dict) -> dict:
        from theia_sf.airflow.ingestion import delete_stale_flows

        return delete_stale_flows(params["retention_days"])

    delete_stale_flows()


theia_flow_retention()
