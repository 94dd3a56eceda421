"""
### Theia: schedule deletion of the state KMS key (one-shot, destructive)

AWS never deletes a key at once: this schedules the deletion after `pending_window_days`
(7-30, theia-sf always used 30) and removes the key's aliases. `confirm` must equal
`key_id`. Offboard every stack whose state uses the key first.
Logic: `theia_sf.services.onboarding.delete_kms_key`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from theia_sf.airflow.defaults import Timeouts, one_shot_dag
from theia_sf.airflow.onboarding import key_params

TIMEOUTS = Timeouts("theia_delete_kms_key", run_minutes=30)


@dag(
    schedule=None,
    params=key_params(destructive=True),
    doc_md=__doc__,
    **one_shot_dag(TIMEOUTS),
)
def theia_delete_kms_key() -> None:
    @task
    def delete_kms_key(params: dict) -> dict:
        from theia_sf.airflow.onboarding import delete_kms_key

        return delete_kms_key(params)

    delete_kms_key()


theia_delete_kms_key()
