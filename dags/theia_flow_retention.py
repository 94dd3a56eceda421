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

from theia_sf.airflow.defaults import WAREHOUSE_POOL, Timeouts, service_dag
from theia_sf.airflow.params import MAX_RETENTION_DAYS, integer_param

TIMEOUTS = Timeouts("theia_flow_retention", run_minutes=90)


@dag(
    schedule="0 0 * * *",
    **service_dag(TIMEOUTS),
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
    @task(pool=WAREHOUSE_POOL, execution_timeout=TIMEOUTS.task("delete_stale_flows", 60))
    def delete_stale_flows(params: dict, dag=None, dag_run=None) -> dict:
        from theia_sf.airflow.ingestion import delete_stale_flows
        from theia_sf.airflow.settings import resolve_run

        return delete_stale_flows(resolve_run(dag, params, dag_run).values["retention_days"])

    delete_stale_flows()


theia_flow_retention()
