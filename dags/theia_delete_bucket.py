"""
### Theia: delete a bucket (one-shot, destructive)

Deletes a bucket (theia-sf's `delete-bucket`). With `force`, every object version and
delete marker is removed first, on every listing page (theia-sf stopped after 1,000 objects
and ignored versions). `confirm` must equal the bucket name. Offboard stacks first.
Logic: `theia_sf.services.onboarding.delete_bucket`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from theia_sf.airflow.defaults import Timeouts, one_shot_dag
from theia_sf.airflow.onboarding import bucket_params

TIMEOUTS = Timeouts("theia_delete_bucket", run_minutes=30)


@dag(
    schedule=None,
    params=bucket_params(destructive=True),
    doc_md=__doc__,
    **one_shot_dag(TIMEOUTS),
)
def theia_delete_bucket() -> None:
    @task
    def delete_bucket(params: dict) -> dict:
        from theia_sf.airflow.onboarding import delete_bucket

        return delete_bucket(params)

    delete_bucket()


theia_delete_bucket()
