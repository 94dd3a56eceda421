"""
### Theia: Snowpipe ingestion health

Hourly, for a Snowflake stack: reads Snowpipe's error notifications from the stack's SQS
queue (decoding the SNS envelope; theia-sf's `receive-sqs-message`), the pipe's status and
its copy history, and alerts every connection in `alert_connections` when files failed to
load or the pipe lags. Queue messages are deleted only after every alert was delivered.
Runs without `state_bucket` (the embedded engine) end *skipped*; scheduled runs take the
watched stack from the Airflow Variable `theia_ingestion_health` (deployment settings).
Logic: `theia_sf.services.onboarding.check_ingestion_health`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from theia_sf.airflow.defaults import Timeouts, service_dag
from theia_sf.airflow.onboarding import health_params

TIMEOUTS = Timeouts("theia_ingestion_health", run_minutes=40)


@dag(
    schedule="@hourly",
    **service_dag(TIMEOUTS),
    params=health_params(),
    tags=["theia", "onboarding"],
    doc_md=__doc__,
)
def theia_ingestion_health() -> None:
    @task(execution_timeout=TIMEOUTS.task("check_ingestion", 20))
    def check_ingestion(params: dict, dag=None, dag_run=None) -> dict:
        from theia_sf.airflow.onboarding import ingestion_health
        from theia_sf.airflow.settings import resolve_run

        # The watched stack and the alert connections come from the deployment settings.
        effective = resolve_run(dag, params, dag_run)
        return {**ingestion_health(effective.values), "effective": effective.to_record()}

    check_ingestion()


theia_ingestion_health()
