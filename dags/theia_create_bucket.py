"""
### Theia: create the state bucket (one-shot)

Creates a private S3 bucket for onboarding state records (theia-sf's `create-bucket`), or
reuses it when it exists. Unlike theia-sf, creation works in `us-east-1` too. Without `name`
the bucket is called `<prefix>-<random>`; the name is in the task log and XCom.
Logic: `theia_sf.services.onboarding.create_state_bucket`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from theia_sf.airflow.defaults import Timeouts, one_shot_dag
from theia_sf.airflow.onboarding import bucket_params

TIMEOUTS = Timeouts("theia_create_bucket", run_minutes=30)


@dag(
    schedule=None,
    params=bucket_params(destructive=False),
    doc_md=__doc__,
    **one_shot_dag(TIMEOUTS),
)
def theia_create_bucket() -> None:
    @task
    def create_bucket(params: dict) -> dict:
        from theia_sf.airflow.onboarding import create_bucket

        return create_bucket(params)

    create_bucket()


theia_create_bucket()
