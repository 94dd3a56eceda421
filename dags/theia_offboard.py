"""
### Theia offboarding (one-shot, destructive)

Removes every resource of a stack from its state record alone (no need to repeat the
onboarding arguments: engine, stack name and where the state lives are enough), in reverse
order; "already gone" counts as done, so running it twice or after a manual deletion
succeeds. The flows bucket is emptied of every object version. The state record goes last.

`confirm` must equal the stack name. Resources tagged with the stack but missing from its
state are reported, and deleted only with `remove_orphans`. With engine `duckdb` the DuckDB
file is removed, and the flows/results locations if onboarding created them.
Logic: `theia_sf.services.onboarding`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from theia_sf.airflow.defaults import WAREHOUSE_POOL, Timeouts, one_shot_dag
from theia_sf.airflow.onboarding import stack_params

TIMEOUTS = Timeouts("theia_offboard", run_minutes=120)


@dag(
    schedule=None,
    params=stack_params(destructive=True),
    doc_md=__doc__,
    **one_shot_dag(TIMEOUTS),
)
def theia_offboard() -> None:
    @task(pool=WAREHOUSE_POOL, execution_timeout=TIMEOUTS.task("offboard_stack", 60))
    def offboard_stack(params: dict) -> dict:
        from theia_sf.airflow.onboarding import offboard

        return offboard(params)

    @task(retries=0)
    def report_outputs(result: dict) -> dict:
        from theia_sf.airflow.onboarding import report

        return report(result)

    report_outputs(offboard_stack())


theia_offboard()
