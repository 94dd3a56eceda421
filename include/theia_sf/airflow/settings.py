"""Deployment settings: what scheduled runs take instead of what a person types in the form.

Each DAG with Params reads the Airflow Variable named after it (``theia_drop_detection``,
``theia_policy_recommendation``, ``theia_ingestion_health``, ...): a JSON object of that DAG's
Params, validated against the same JSON schemas as the trigger form. ``theia_service`` holds
what every DAG shares (``failure_alert_connections``). Read by each run's first task, never
when the DAG file is parsed.

A Param the run's conf gives with a value other than the DAG's default wins over the setting;
a Param missing from the conf, or left at its default (the trigger form sends every field),
takes the setting. The first task logs the effective values and where each came from.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from theia_sf.airflow.params import (
    CONNECTION_ID_PATTERN,
    MAX_ALERT_CONNECTIONS,
    closest_name,
    strict_pattern,
)
from theia_sf.errors import ConfigurationError

log = logging.getLogger(__name__)

SERVICE_VARIABLE = "theia_service"
CONNECTION_IDS_SCHEMA = {
    "type": "array",
    "items": {"type": "string", "pattern": strict_pattern(CONNECTION_ID_PATTERN)},
    "uniqueItems": True,
    "maxItems": MAX_ALERT_CONNECTIONS,
}
SERVICE_SCHEMAS: dict[str, dict[str, Any]] = {
    "failure_alert_connections": CONNECTION_IDS_SCHEMA,
}


def read_variable(key: str) -> dict[str, Any]:
    """The JSON object in the Airflow Variable ``key`` ({} when it is not set)."""
    from airflow.sdk import Variable

    raw = Variable.get(key, default=None)
    if raw is None or not str(raw).strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"Airflow Variable {key!r} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"Airflow Variable {key!r} must hold a JSON object of settings, "
            f"not a {type(value).__name__}"
        )
    return value


def check_values(key: str, values: Mapping[str, Any], schemas: Mapping[str, Any]) -> None:
    """Refuse names without a schema (naming the closest one) and values their schema refuses."""
    import jsonschema

    problems = []
    for name, value in values.items():
        if name not in schemas:
            close = closest_name(name, schemas)
            hint = f" (did you mean {close!r}?)" if close else ""
            problems.append(f"{name!r} is not a setting here{hint}")
            continue
        try:
            jsonschema.validate(value, schemas[name])
        except jsonschema.ValidationError as error:
            problems.append(f"{name}: {error.message}")
    if problems:
        raise ConfigurationError(
            f"Airflow Variable {key!r}: " + "; ".join(problems)
            + f"; valid names: {', '.join(sorted(schemas))}"
        )


@dataclass(frozen=True, slots=True)
class Effective:
    """The values a run uses, and where each came from (``conf``, ``setting`` or ``default``)."""

    values: dict[str, Any]
    sources: dict[str, str]
    setting: str

    def to_record(self) -> dict[str, Any]:
        return {"values": self.values, "sources": self.sources, "setting": self.setting}

    def log(self) -> None:
        for name in sorted(self.values):
            origin = self.sources[name]
            where = f"Variable {self.setting}" if origin == "setting" else origin
            log.info("effective %s = %s (%s)", name, json.dumps(self.values[name]), where)


def resolve(
    dag_id: str,
    dag_params: Any,
    params: Mapping[str, Any],
    conf: Mapping[str, Any] | None,
    settings: Mapping[str, Any] | None = None,
) -> Effective:
    """Merge the run's Params with the DAG's Variable.

    ``dag_params``: the DAG's ``ParamsDict`` (defaults and schemas); ``params``: the run's
    validated values; ``conf``: what the run was triggered with (None: nothing known).
    """
    schemas = {name: dag_params.get_param(name).schema for name in dag_params}
    defaults = {name: dag_params.get_param(name).value for name in dag_params}
    chosen = read_variable(dag_id) if settings is None else dict(settings)
    check_values(dag_id, chosen, schemas)
    conf = conf or {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in dag_params:
        value = params.get(name, defaults[name])
        given = name in conf and value != defaults[name]
        if name in chosen and not given:
            values[name], sources[name] = chosen[name], "setting"
        else:
            values[name], sources[name] = value, ("conf" if given else "default")
    return Effective(values, sources, dag_id)


def resolve_run(dag: Any, params: Mapping[str, Any], dag_run: Any = None) -> Effective:
    """:func:`resolve` for a running task (its ``dag``, ``params`` and ``dag_run``), logged.
    A bad setting fails the task at once: a retry would read the same setting."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        effective = resolve(dag.dag_id, dag.params, params, getattr(dag_run, "conf", None))
    except ConfigurationError as error:
        raise AirflowFailException(f"invalid deployment setting: {error}") from None
    effective.log()
    return effective


def service_settings() -> dict[str, Any]:
    """The shared ``theia_service`` Variable, checked."""
    values = read_variable(SERVICE_VARIABLE)
    check_values(SERVICE_VARIABLE, values, SERVICE_SCHEMAS)
    return values
