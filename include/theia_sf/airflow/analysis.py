"""Task bodies the anomaly-detection DAGs share (run at task time only).

Drop detection and throughput anomaly detection check their Params, run, publish and alert
the same way; each DAG passes its own config type, service functions and asset. A service
here is ``run(warehouse, sql, config, window)`` returning a result with ``to_record()``,
``publish(warehouse, sql, store, run_id)`` returning the published URIs, and
``send(warehouse, sql, run_id, sinks)`` returning delivery outcomes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from theia_sf.airflow import runtime
from theia_sf.airflow.alerting import build_sinks, check_alert_connections
from theia_sf.airflow.settings import resolve_run
from theia_sf.errors import ConfigurationError
from theia_sf.timewindow import TimeSpecError, Window


def check_params(
    dag: Any,
    params: Mapping[str, Any],
    dag_run: Any,
    data_interval_end: dt.datetime | None,
    config_type: Callable[..., Any],
    config_params: Sequence[str],
) -> dict[str, Any]:
    """The run's plan: window, config (from ``config_params``), alert connections, Params."""
    # The deployment settings fill what the run was not given; then cross-field checks
    # and connection look-ups, before any warehouse work.
    effective = resolve_run(dag, params, dag_run)
    values = effective.values
    try:
        config = config_type(**{k: values[k] for k in config_params})
        window = Window.resolve(
            start=values["start"],
            end=values["end"],
            lookback_days=values["lookback"],
            interval_end=data_interval_end,  # None (no logical date): ends now
        )
        connections = check_alert_connections(values["alert_connections"])
    except (ConfigurationError, TimeSpecError) as error:
        raise AirflowFailException(f"invalid Params: {error}") from None
    return {
        "window": window.to_record(),
        "config": config.to_record(),
        "alert_connections": connections,
        "params": values,
        "sources": effective.sources,
    }


def _warehouse(plan: Mapping[str, Any]) -> Any:
    return runtime.warehouse(warehouse_name=plan["params"]["warehouse_name"])


def run_analysis(
    plan: Mapping[str, Any], config_type: Callable[..., Any], run: Callable[..., Any]
) -> dict[str, Any]:
    """Run the planned analysis (the embedded schema migrated first); its summary record."""
    from theia_sf.migrations import migrate

    warehouse = _warehouse(plan)
    sql = runtime.sql_library()
    if warehouse.engine == "duckdb":
        with warehouse.session() as session:
            migrate(session, sql)
    window = Window(*(dt.datetime.fromisoformat(plan["window"][k]) for k in ("start", "end")))
    result = run(warehouse, sql, config_type(**plan["config"]), window)
    record: dict[str, Any] = result.to_record()
    return record


def publish_results(
    plan: Mapping[str, Any],
    summary: Mapping[str, Any],
    publish: Callable[..., dict[str, str]],
    asset: Any,
    outlet_events: Any,
) -> dict[str, Any]:
    """Publish the run's document to the results location and update ``asset`` with it."""
    run_id = summary["run_id"]
    uris = publish(
        _warehouse(plan),
        runtime.sql_library(),
        runtime.object_store(runtime.settings().results_location, create=True),
        run_id,
    )
    if outlet_events is not None:
        outlet_events[asset].extra = {"run_id": run_id, **uris}
    return {"run_id": run_id, **uris}


def send_alerts(
    plan: Mapping[str, Any], summary: Mapping[str, Any], send: Callable[..., Sequence[Any]]
) -> list[dict[str, Any]]:
    """Alert the planned connections once per new anomaly of the run."""
    outcomes = send(
        _warehouse(plan),
        runtime.sql_library(),
        summary["run_id"],
        build_sinks(plan["alert_connections"]),
    )
    return [o.to_record() for o in outcomes]
