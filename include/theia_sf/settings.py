"""Operator settings: the one reader of the environment (``Settings.from_env``).

Per-run knobs are Airflow Params; settings are what an operator sets once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from theia_sf.errors import ConfigurationError
from theia_sf.layouts import LAYOUT_NAMES


def _default_data_dir(env: Mapping[str, str]) -> Path:
    if "AIRFLOW_HOME" in env:
        return Path(env["AIRFLOW_HOME"]) / "theia"
    return Path.home() / ".theia-sf"


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigurationError(f"{name}={value} must be at least {minimum}")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    duckdb_path: Path
    flows_location: str  # a directory, or s3://bucket/prefix
    results_location: str  # a directory, or s3://bucket/prefix
    flow_layout: str
    flow_retention_days: int
    duckdb_memory_limit: str
    ingest_batch_files: int

    def __post_init__(self) -> None:
        if self.flow_layout not in LAYOUT_NAMES:
            raise ConfigurationError(
                f"THEIA_FLOW_LAYOUT={self.flow_layout!r} is not a known layout; "
                f"use one of {', '.join(LAYOUT_NAMES)}"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("THEIA_DATA_DIR") or _default_data_dir(env))
        return cls(
            data_dir=data_dir,
            duckdb_path=Path(env.get("THEIA_DUCKDB_PATH") or data_dir / "theia.duckdb"),
            flows_location=env.get("THEIA_FLOWS_LOCATION") or str(data_dir / "flows"),
            results_location=env.get("THEIA_RESULTS_LOCATION") or str(data_dir / "results"),
            flow_layout=env.get("THEIA_FLOW_LAYOUT") or "auto",
            flow_retention_days=_int(env, "THEIA_FLOW_RETENTION_DAYS", 30, 1),
            duckdb_memory_limit=env.get("THEIA_DUCKDB_MEMORY_LIMIT") or "2GB",
            ingest_batch_files=_int(env, "THEIA_INGEST_MAX_FILES", 500, 1),
        )


# --- What the scheduler needs before a run exists (read where a DAG file is parsed) ---------

ANALYSIS_SCHEDULES = ("cron", "flows-or-cron")


def _minutes_map(env: Mapping[str, str], name: str) -> dict[str, int]:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return {}
    import json

    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"{name} is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"{name} must be a JSON object of minutes by DAG id or 'dag_id.task_id'"
        )
    for key, minutes in value.items():
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
            raise ConfigurationError(f"{name}: {key!r} must be a whole number of minutes >= 1")
    return value


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    """Settings the scheduler reads from the serialized DAG: they take effect when the DAG
    files are parsed again, so they are plain environment values, cheap to read.

    ``analysis_schedule``: ``cron`` (nightly) or ``flows-or-cron`` (also whenever ingestion
    updates the flows asset). ``timeouts``: minutes by DAG id (its ``dagrun_timeout``) or by
    ``dag_id.task_id`` (that task's ``execution_timeout``), over the built-in sizes.
    """

    analysis_schedule: str = "cron"
    timeouts: Mapping[str, int] | None = None

    def __post_init__(self) -> None:
        if self.analysis_schedule not in ANALYSIS_SCHEDULES:
            raise ConfigurationError(
                f"THEIA_ANALYSIS_SCHEDULE={self.analysis_schedule!r}; use one of "
                + ", ".join(ANALYSIS_SCHEDULES)
            )

    def timeout_minutes(self, key: str, default: int) -> int:
        return (self.timeouts or {}).get(key, default)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ScheduleSettings:
        env = os.environ if env is None else env
        return cls(
            analysis_schedule=env.get("THEIA_ANALYSIS_SCHEDULE") or "cron",
            timeouts=_minutes_map(env, "THEIA_TIMEOUTS"),
        )
