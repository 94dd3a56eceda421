"""Param builders shared by the analysis DAGs (cheap to import: only ``airflow.sdk``).

Every Param carries a JSON schema so the trigger form and the REST API refuse bad values before
any task runs. Cross-field rules (``end`` after ``start``) cannot be expressed per Param; the
first task of each DAG checks them before touching the warehouse.
"""

from __future__ import annotations

from airflow.sdk import Param

from theia_sf.timewindow import TIME_PATTERN

# Canonical 8-4-4-4-12 form: theia-sf's cluster UUIDs come from the Flow Aggregator in this form.
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# Unquoted Snowflake identifier (the name is passed to USE WAREHOUSE).
WAREHOUSE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_$]{0,254}$"


def window_params(lookback_days_default: int, *, lookback_minimum: int = 1) -> dict[str, Param]:
    """``start``, ``end`` and ``lookback`` (days) Params for an analysis window.

    Explicit ``start``/``end`` win; otherwise the window ends at the data interval end and
    spans ``lookback`` days. Relative times resolve when the task runs.
    """
    time_help = "'now', 'now-<n>{s,m,h,d}' (e.g. now-7d) or RFC 3339 (e.g. 2024-05-01T00:00:00Z)"
    return {
        "start": Param(
            None,
            type=["null", "string"],
            pattern=TIME_PATTERN,
            title="Window start",
            description=f"Inclusive start: {time_help}. Empty: end minus lookback.",
        ),
        "end": Param(
            None,
            type=["null", "string"],
            pattern=TIME_PATTERN,
            title="Window end",
            description=f"Exclusive end: {time_help}. Empty: the data interval end.",
        ),
        "lookback": Param(
            lookback_days_default,
            type="integer",
            minimum=lookback_minimum,
            title="Lookback (days)",
            description="Window length in days when start is empty.",
        ),
    }


def cluster_uuid_param() -> Param:
    """Optional cluster filter (the Flow Aggregator's cluster UUID)."""
    return Param(
        None,
        type=["null", "string"],
        pattern=UUID_PATTERN,
        title="Cluster UUID",
        description="Only flows of this cluster (UUID). Empty: all clusters.",
    )


def warehouse_name_param() -> Param:
    """Optional Snowflake virtual warehouse; empty means a temporary X-Small one per run."""
    return Param(
        None,
        type=["null", "string"],
        pattern=WAREHOUSE_NAME_PATTERN,
        title="Snowflake warehouse",
        description=(
            "Snowflake virtual warehouse to run the queries in. Empty: a temporary X-Small "
            "warehouse (auto-suspend 60 s) is created and dropped. Ignored on DuckDB."
        ),
    )


# An Airflow connection id (the alert sinks' Param).
CONNECTION_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,250}$"


def alert_connections_param() -> Param:
    """Airflow connection ids to alert once per new anomaly (see ``theia_sf.airflow.alerting``)."""
    return Param(
        [],
        type="array",
        items={"type": "string", "pattern": CONNECTION_ID_PATTERN},
        uniqueItems=True,
        maxItems=20,
        title="Alert connections",
        description="Airflow connection ids to alert: http (webhook), aws or generic with a "
        "topic_arn extra (SNS), slackwebhook or slack. Empty: no alerts.",
    )
