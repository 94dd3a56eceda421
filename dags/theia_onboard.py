"""
### Theia onboarding (one-shot)

Creates or updates every resource of a stack, idempotently; re-running resumes a failed run
and converges an existing stack (new migrations apply, nothing is duplicated).

* **engine `duckdb`** (embedded): the DuckDB file (`theia_warehouse` host or
  `THEIA_DUCKDB_PATH`) with every migration, the flows location and the results location
  (directories, or S3-compatible buckets through `theia_aws`).
* **engine `snowflake`**: flows bucket, SNS/SQS error channel, IAM roles trusted by the
  Snowflake integrations, database `ANTREA_<SUFFIX>`, schema `THEIA`, stage, migrations,
  Snowpipe for the chosen flow-record layout, retention task, bucket notification.

A state record per stack (S3 state bucket with SSE-KMS, or for duckdb a JSON file under the
data directory) is written after every step. `dry_run` prints the plan and touches nothing.
The result table (theia-sf's) and the Flow Aggregator Helm values are in the log of
`report_outputs` and in its XCom; they also become the run's note when the optional
`theia_airflow_api` connection (REST API URL and a user) is defined, since a task cannot set
its run's note through Airflow's task execution API.
Logic: `theia_sf.services.onboarding`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from theia_sf.airflow.defaults import WAREHOUSE_POOL, Timeouts, one_shot_dag
from theia_sf.airflow.onboarding import onboard_params

TIMEOUTS = Timeouts("theia_onboard", run_minutes=120)


@dag(
    schedule=None,
    params=onboard_params(),
    doc_md=__doc__,
    **one_shot_dag(TIMEOUTS),
)
def theia_onboard() -> None:
    @task(pool=WAREHOUSE_POOL, execution_timeout=TIMEOUTS.task("onboard_stack", 60))
    def onboard_stack(params: dict) -> dict:
        from theia_sf.airflow.onboarding import onboard

        return onboard(params)

    @task(retries=0)
    def report_outputs(result: dict, dag_run=None) -> dict:
        from theia_sf.airflow.onboarding import report, set_run_note

        summary = report(result)
        if summary.get("note"):
            set_run_note(dag_run.dag_id, dag_run.run_id, summary["note"])
        return summary

    report_outputs(onboard_stack())


theia_onboard()
