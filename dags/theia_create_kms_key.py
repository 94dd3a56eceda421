"""
### Theia: create the KMS key for state records (one-shot)

Creates a symmetric KMS key (theia-sf's `create-kms-key`) to encrypt onboarding state
records, behind an alias so that re-running reuses it instead of creating another key.
Pass the key id (or alias) to `theia_onboard` as `kms_key_id`.
Logic: `theia_sf.services.onboarding.create_kms_key`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from theia_sf.airflow.defaults import Timeouts, one_shot_dag
from theia_sf.airflow.onboarding import key_params

TIMEOUTS = Timeouts("theia_create_kms_key", run_minutes=30)


@dag(
    schedule=None,
    params=key_params(destructive=False),
    doc_md=__doc__,
    **one_shot_dag(TIMEOUTS),
)
def theia_create_kms_key() -> None:
    @task
    def create_kms_key(params: dict) -> dict:
        from theia_sf.airflow.onboarding import create_kms_key

        return create_kms_key(params)

    create_kms_key()


theia_create_kms_key()
