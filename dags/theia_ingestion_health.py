"""
### Theia: Snowpipe ingestion health

Hourly, for a Snowflake stack: reads Snowpipe's error notifications from the stack's SQS
queue (decoding the SNS envelope; theia-sf's `receive-sqs-message`), the pipe's status and
its copy history, and alerts every connection in `alert_connections` when files failed to
load or the pipe lags. Queue messages are deleted only after every alert was delivered.
Runs without `state_bucket` (the embedded engine) end *skipped*.
Logic: `theia_sf.services.onboarding.check_ingestion_health`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from theia_sf.airflow.defaults import DEFAULT_ARGS, START_DATE
from theia_sf.airflow.onboarding import health_params


@dag(
    schedule="@hourly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params=health_params(),
    tags=["theia", "onboarding"],
    doc_md=__doc__,
)
def theia_ingestion_health() -> None:
    @task
    def check_ingestion(params: dict) -> dict:
        from theia_sf.airflow.onboarding import ingestion_health

        return ingestion_health(params)

    check_ingestion()


theia_ingestion_health()
