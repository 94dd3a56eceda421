"""Defaults shared by every DAG file (cheap to import: no heavy modules)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum

from theia_sf.airflow.cancel import cancel_statements_when_ended
from theia_sf.airflow.notify import notify_run_failure, record_task_failure
from theia_sf.airflow.params import refuse_unknown_conf
from theia_sf.settings import ScheduleSettings

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")

# Tasks that write to the warehouse run in this pool; on the embedded DuckDB engine it has
# one slot, so writers queue instead of contending for the file lock.
WAREHOUSE_POOL = "theia_warehouse"

# A task without its own size (see Timeouts) gets this execution_timeout.
TASK_TIMEOUT = dt.timedelta(minutes=30)

DEFAULT_ARGS = {
    "owner": "theia",
    "retries": 2,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "execution_timeout": TASK_TIMEOUT,
    # The task's error is kept for the run's one failure message (notify_run_failure).
    "on_failure_callback": record_task_failure,
    # A statement still running when Airflow ends the task is cancelled in the engine.
    "on_execute_callback": cancel_statements_when_ended,
    # A conf key that no Param defines fails the task before its work (Airflow accepts it).
    "pre_execute": refuse_unknown_conf,
}


class Timeouts:
    """``dagrun_timeout`` and per-task ``execution_timeout`` of one DAG, sized in its file and
    overridable with ``THEIA_TIMEOUTS`` (minutes by ``dag_id`` or ``dag_id.task_id``)."""

    def __init__(self, dag_id: str, *, run_minutes: int) -> None:
        self.dag_id = dag_id
        self.settings = ScheduleSettings.from_env()
        self.run = dt.timedelta(minutes=self.settings.timeout_minutes(dag_id, run_minutes))

    def task(self, task_id: str, minutes: int) -> dt.timedelta:
        key = f"{self.dag_id}.{task_id}"
        return dt.timedelta(minutes=self.settings.timeout_minutes(key, minutes))


def service_dag(timeouts: Timeouts) -> dict[str, Any]:
    """What every DAG shares: defaults, its run timeout, one failure message per failed run."""
    return {
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "default_args": DEFAULT_ARGS,
        "dagrun_timeout": timeouts.run,
        "on_failure_callback": notify_run_failure,
    }


def analysis_schedule(cron: str) -> Any:
    """The cron, or with ``THEIA_ANALYSIS_SCHEDULE=flows-or-cron`` the cron and every update
    of the flows asset (a schedule is read when the file is parsed, hence an env setting)."""
    if ScheduleSettings.from_env().analysis_schedule == "cron":
        return cron
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

    from theia_sf.airflow.assets import FLOWS

    return AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(cron, timezone="UTC"), assets=FLOWS
    )


def one_shot_dag(timeouts: Timeouts) -> dict[str, Any]:
    """Every one-shot onboarding DAG (with schedule=None in its file): run only when
    triggered (UI form or REST API), never two at once. Each adds params, doc_md."""
    return {**service_dag(timeouts), "tags": ["theia", "onboarding"]}
