"""Param builders shared by every DAG, and the check that refuses unknown conf keys.

Cheap to import (only ``airflow.sdk`` and light core modules): DAG files use it at parse time.

Every Param carries a JSON schema (type, bounds, an anchored pattern, ``maxItems``), a
``title`` and a one-line description that says the expected format, so the trigger form and
the REST API refuse bad values before any task runs. Airflow 3.3 writes that refusal itself
(jsonschema's message followed by the failing schema; a DAG cannot change it), which is why
the description carries the format in words. Rules across Params (end after start, the
longest window) and unknown conf keys cannot be expressed per Param; they are checked before
every task's work (:func:`refuse_unknown_conf`, wired through ``DEFAULT_ARGS``) and by each
DAG's first task, with messages that read as sentences.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow.sdk import Param

from theia_sf.identifiers import CLUSTER_UUID_PATTERN
from theia_sf.onboarding.names import WAREHOUSE_PATTERN
from theia_sf.timewindow import MAX_WINDOW_DAYS, TIME_FORMAT_HELP, TIME_PATTERN

# Unquoted Snowflake identifier (the name is passed to USE WAREHOUSE).
WAREHOUSE_NAME_PATTERN = WAREHOUSE_PATTERN
# Airflow connection ids as Airflow itself allows them (letters, digits, _ . -).
CONNECTION_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,250}$"
# Bounds of the forms: more than this is a typing accident, not a deployment.
MAX_ALERT_CONNECTIONS = 20
MAX_LIST_ITEMS = 200
MAX_FLOW_TUPLES = 10_000_000
# Ten years of flows (Snowflake's task and the embedded retention DAG share the bound).
MAX_RETENTION_DAYS = 3650


def strict_pattern(pattern: str) -> str:
    """``pattern`` anchored so that it matches the whole value and nothing more.

    jsonschema (which validates Params) checks a pattern with Python's ``re.search``, where
    ``$`` also matches before a final newline, so ``"WH\\n"`` would pass ``^[A-Z]+$``. The
    look-ahead ``(?!\\n)`` refuses that in Python and is a no-op in ECMA regex (the trigger
    form's browser side), so the pattern keeps one meaning everywhere.
    """
    body = pattern.removeprefix("^")
    for suffix in ("$(?!\n)", "$"):
        if body.endswith(suffix) and not body.endswith("\\" + suffix):
            body = body[: -len(suffix)]
            break
    return rf"^(?:{body})$(?!\n)"


def _schema(section: str | None, **schema: Any) -> dict[str, Any]:
    if section:
        schema["section"] = section
    return schema


def text_param(
    default: str | None,
    *,
    pattern: str,
    title: str,
    description: str,
    nullable: bool = False,
    section: str | None = None,
) -> Param:
    """A string checked against ``pattern``; ``description`` says the format with an example."""
    return Param(
        default,
        description=description,
        **_schema(
            section,
            type=["null", "string"] if nullable else "string",
            pattern=strict_pattern(pattern),
            title=title,
        ),
    )


def integer_param(
    default: int | None,
    *,
    minimum: int,
    maximum: int,
    title: str,
    description: str,
    nullable: bool = False,
    section: str | None = None,
) -> Param:
    return Param(
        default,
        description=description,
        **_schema(
            section,
            type=["null", "integer"] if nullable else "integer",
            minimum=minimum,
            maximum=maximum,
            title=title,
        ),
    )


def number_param(
    default: float,
    *,
    exclusive_minimum: float,
    maximum: float,
    title: str,
    description: str,
    section: str | None = None,
) -> Param:
    return Param(
        default,
        description=description,
        **_schema(
            section,
            type="number",
            exclusiveMinimum=exclusive_minimum,
            maximum=maximum,
            title=title,
        ),
    )


def boolean_param(
    default: bool, *, title: str, description: str, section: str | None = None
) -> Param:
    return Param(default, description=description, **_schema(section, type="boolean", title=title))


def enum_param(
    default: str | None,
    values: Mapping[str | None, str],
    *,
    title: str,
    description: str,
    section: str | None = None,
) -> Param:
    """One of ``values`` (value -> what the form shows); ``None`` among them makes it optional."""
    nullable = None in values
    return Param(
        default,
        description=description,
        **_schema(
            section,
            type=["null", "string"] if nullable else "string",
            enum=list(values),
            values_display={v: label for v, label in values.items() if v is not None},
            title=title,
        ),
    )


def list_param(
    default: Sequence[str],
    *,
    item_pattern: str,
    max_items: int,
    title: str,
    description: str,
    section: str | None = None,
) -> Param:
    """A JSON array of distinct strings, each checked against ``item_pattern``.

    The trigger form shows it as one item per line; over REST it is a JSON list.
    """
    return Param(
        list(default),
        description=description,
        **_schema(
            section,
            type="array",
            items={"type": "string", "pattern": strict_pattern(item_pattern)},
            uniqueItems=True,
            maxItems=max_items,
            title=title,
        ),
    )


# --- Params several DAGs share -------------------------------------------------------------


def window_params(
    lookback_days_default: int, *, lookback_minimum: int = 1, section: str | None = None
) -> dict[str, Param]:
    """``start``, ``end`` and ``lookback`` (days) Params for an analysis window.

    Explicit ``start``/``end`` win; otherwise the window ends at the data interval end and
    spans ``lookback`` days. Relative times resolve when the task runs; the first task
    refuses a window longer than ``MAX_WINDOW_DAYS``.
    """
    return {
        "start": text_param(
            None,
            pattern=TIME_PATTERN,
            nullable=True,
            section=section,
            title="Window start",
            description=f"Inclusive start: {TIME_FORMAT_HELP}. Empty: end minus lookback.",
        ),
        "end": text_param(
            None,
            pattern=TIME_PATTERN,
            nullable=True,
            section=section,
            title="Window end",
            description=f"Exclusive end: {TIME_FORMAT_HELP}. Empty: the data interval end.",
        ),
        "lookback": integer_param(
            lookback_days_default,
            minimum=lookback_minimum,
            maximum=MAX_WINDOW_DAYS,
            section=section,
            title="Lookback (days)",
            description=f"Window length in days when start is empty ({lookback_minimum} to "
            f"{MAX_WINDOW_DAYS}).",
        ),
    }


def cluster_uuid_param(section: str | None = None) -> Param:
    """Optional cluster filter (the Flow Aggregator's cluster UUID)."""
    return text_param(
        None,
        pattern=CLUSTER_UUID_PATTERN,
        nullable=True,
        section=section,
        title="Cluster UUID",
        description="Only flows of this cluster: its UUID, "
        "e.g. 3f2b9c1e-5d4a-4b7e-9a10-0c1d2e3f4a5b. Empty: all clusters.",
    )


def warehouse_name_param(section: str | None = None, description: str | None = None) -> Param:
    """Optional Snowflake virtual warehouse; empty means a temporary X-Small one per run."""
    return text_param(
        None,
        pattern=WAREHOUSE_NAME_PATTERN,
        nullable=True,
        section=section,
        title="Snowflake warehouse",
        description=description
        or (
            "Snowflake virtual warehouse for the queries, an unquoted identifier (e.g. "
            "THEIA_WH). Empty: a temporary X-Small warehouse (auto-suspend 60 s) is created "
            "and dropped. Ignored on DuckDB."
        ),
    )


def alert_connections_param(description: str, section: str | None = None) -> Param:
    """Connection ids to alert (a JSON list; the first task checks that each one exists)."""
    return list_param(
        [],
        item_pattern=CONNECTION_ID_PATTERN,
        max_items=MAX_ALERT_CONNECTIONS,
        section=section,
        title="Alert connections",
        description=f"{description} A JSON list of at most {MAX_ALERT_CONNECTIONS} Airflow "
        'connection ids, e.g. ["theia_webhook"].',
    )


# --- unknown conf keys ------------------------------------------------------------------------


def closest_name(name: str, names: Iterable[str]) -> str | None:
    """The name in ``names`` that ``name`` most likely misspells (None: nothing close)."""
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_conf_keys(conf: Mapping[str, Any] | None, known: Iterable[str]) -> str | None:
    """A sentence naming each conf key that no Param defines, with the closest Param name."""
    names = sorted(known)
    unknown = sorted(str(key) for key in (conf or {}) if key not in names)
    if not unknown:
        return None
    parts = []
    for key in unknown:
        close = closest_name(key, names)
        parts.append(f"{key!r} (did you mean {close!r}?)" if close else repr(key))
    noun = "key" if len(unknown) == 1 else "keys"
    return (
        f"The run's conf has the unknown {noun} {', '.join(parts)}; this DAG's Params are "
        f"{', '.join(names) or 'none'}. Nothing was run: trigger it again with valid keys."
    )


def refuse_unknown_conf(context: Mapping[str, Any]) -> None:
    """Fail the task (no retries) when the run's conf has a key that no Param defines.

    Airflow 3.3 accepts any extra key at trigger time and hands it to the tasks as a Param
    without a schema, so a misspelt key would silently leave the real Param at its default.
    Runs before every task of every DAG (``pre_execute`` in ``DEFAULT_ARGS``), so the first
    task fails before any warehouse work.
    """
    from airflow.sdk.exceptions import AirflowFailException

    dag_run = context.get("dag_run")
    dag = context.get("dag")
    if dag_run is None or dag is None:
        return
    problem = unknown_conf_keys(getattr(dag_run, "conf", None), dag.params.keys())
    if problem:
        raise AirflowFailException(problem)
