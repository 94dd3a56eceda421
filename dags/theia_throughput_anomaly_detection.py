"""
### Theia throughput anomaly detection

Standard Theia's TAD, nightly (and on demand from the trigger form or the REST API): forms
throughput series in the warehouse (`agg_flow`: `none` per connection, or summed per
`external` destination IP, per `pod` and direction, per `svc` port), time-ordered, over the
window in every mode, scores each series with `algorithm` (`EWMA`, `ARIMA`, `DBSCAN` with
standard Theia's definitions and thresholds; `variant=corrected` fixes EWMA's zero start, the
anomaly-inclusive threshold and DBSCAN's short-series flags), records the run in `TAD_RUNS` /
`TAD_ANOMALIES` (re-running the same window and parameters replaces its results), publishes
`tad/runs/<run_id>/anomalies.json` (and `tad/latest/anomalies.json`), and alerts every
connection in `alert_connections` once per new anomalous point.

Logic: `theia_sf.services.tad`. This file only wires it to Airflow.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, Param, dag, task

from theia_sf.airflow.defaults import DEFAULT_ARGS, START_DATE, WAREHOUSE_POOL
from theia_sf.airflow.params import (
    alert_connections_param,
    cluster_uuid_param,
    warehouse_name_param,
    window_params,
)
from theia_sf.tad.model import NAMESPACE_PATTERN, POD_NAME_PATTERN, SERVICE_PORT_NAME_PATTERN

# Updated with every published list of anomalous points (in the results location).
THROUGHPUT_ANOMALIES = Asset(
    name="theia_throughput_anomalies",
    uri="x-theia://results/tad/latest/anomalies.json",
    group="theia",
)

# The Params that make up a TadConfig (the others choose the window, sinks and warehouse).
CONFIG_PARAMS = (
    "algorithm",
    "agg_flow",
    "variant",
    "cluster_uuid",
    "ns_ignore_list",
    "pod_label",
    "pod_name",
    "pod_namespace",
    "external_ip",
    "svc_port_name",
)


def _optional(pattern: str | None, title: str, description: str, **schema) -> Param:
    extra = {"pattern": pattern} if pattern else {}
    return Param(
        None, type=["null", "string"], title=title, description=description, **extra, **schema
    )


@dag(
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "algorithm": Param(
            "EWMA",
            type="string",
            enum=["EWMA", "ARIMA", "DBSCAN"],
            title="Algorithm",
            description="EWMA: |x − EWMA| > stddev; ARIMA: |x − ARIMA(1,1,1) forecast| > "
            "stddev (slow: one fit per point); DBSCAN: noise at eps 2.5e8, min 4 points.",
        ),
        "agg_flow": Param(
            "none",
            type="string",
            enum=["none", "external", "pod", "svc"],
            title="Series",
            description="none: per connection; external: per destination IP of flows to "
            "outside the cluster; pod: per pod (labels, or name) and direction; svc: per "
            "service port.",
        ),
        "variant": Param(
            "theia",
            type="string",
            enum=["theia", "corrected"],
            title="Variant",
            description="theia: standard Theia's definitions; corrected: EWMA starts at the "
            "first value, thresholds leave out the points they flag, DBSCAN does not flag "
            "series shorter than 4 points.",
        ),
        **window_params(1),
        "cluster_uuid": cluster_uuid_param(),
        "ns_ignore_list": Param(
            [],
            type="array",
            items={"type": "string", "pattern": NAMESPACE_PATTERN},
            uniqueItems=True,
            maxItems=100,
            title="Ignored namespaces",
            description="Leave out flows from or to these namespaces.",
        ),
        "pod_label": _optional(
            None,
            "Pod label",
            "agg_flow=pod: only pods whose labels JSON contains this text "
            '(case-insensitive), e.g. "app":"web".',
            maxLength=256,
        ),
        "pod_name": _optional(POD_NAME_PATTERN, "Pod name", "agg_flow=pod: only this pod."),
        "pod_namespace": _optional(
            NAMESPACE_PATTERN,
            "Pod namespace",
            "agg_flow=pod, with pod_label or pod_name: only pods of this namespace.",
        ),
        "external_ip": _optional(
            None,
            "External IP",
            "agg_flow=external: only this destination IP.",
            maxLength=45,
        ),
        "svc_port_name": _optional(
            SERVICE_PORT_NAME_PATTERN,
            "Service port",
            "agg_flow=svc: only this service port, as <namespace>/<service>:<port name>.",
        ),
        "alert_connections": alert_connections_param(),
        "warehouse_name": warehouse_name_param(),
    },
    tags=["theia", "detection"],
    doc_md=__doc__,
)
def theia_throughput_anomaly_detection() -> None:
    @task(retries=0)
    def check_params(params: dict, data_interval_end: pendulum.DateTime | None = None) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from theia_sf.airflow.alerting import check_alert_connections
        from theia_sf.errors import ConfigurationError
        from theia_sf.tad.model import TadConfig
        from theia_sf.timewindow import TimeSpecError, Window

        # Cross-field checks and connection look-ups; no warehouse work before they pass.
        try:
            config = TadConfig(**{k: params[k] for k in CONFIG_PARAMS})
            window = Window.resolve(
                start=params["start"],
                end=params["end"],
                lookback_days=params["lookback"],
                interval_end=data_interval_end,  # None (no logical date): ends now
            )
            connections = check_alert_connections(params["alert_connections"])
        except (ConfigurationError, TimeSpecError) as error:
            raise AirflowFailException(f"invalid Params: {error}") from None
        return {
            "window": window.to_record(),
            "config": config.to_record(),
            "alert_connections": connections,
        }

    @task(pool=WAREHOUSE_POOL)
    def detect_anomalies(params: dict, plan: dict) -> dict:
        import datetime as dt

        from theia_sf.airflow import runtime
        from theia_sf.migrations import migrate
        from theia_sf.services.tad import run_throughput_anomaly_detection
        from theia_sf.tad.model import TadConfig
        from theia_sf.timewindow import Window

        warehouse = runtime.warehouse(warehouse_name=params["warehouse_name"])
        sql = runtime.sql_library()
        if warehouse.engine == "duckdb":
            with warehouse.session() as session:
                migrate(session, sql)
        window = Window(*(dt.datetime.fromisoformat(plan["window"][k]) for k in ("start", "end")))
        config = TadConfig(**plan["config"])
        return run_throughput_anomaly_detection(warehouse, sql, config, window).to_record()

    @task(pool=WAREHOUSE_POOL, outlets=[THROUGHPUT_ANOMALIES])
    def publish_results(params: dict, summary: dict, outlet_events=None) -> dict:
        from theia_sf.airflow import runtime
        from theia_sf.services.tad import publish_results

        uris = publish_results(
            runtime.warehouse(warehouse_name=params["warehouse_name"]),
            runtime.sql_library(),
            runtime.object_store(runtime.settings().results_location, create=True),
            summary["run_id"],
        )
        if outlet_events is not None:
            outlet_events[THROUGHPUT_ANOMALIES].extra = {"run_id": summary["run_id"], **uris}
        return {"run_id": summary["run_id"], **uris}

    @task(pool=WAREHOUSE_POOL)
    def send_alerts(params: dict, plan: dict, summary: dict) -> list:
        from theia_sf.airflow import runtime
        from theia_sf.airflow.alerting import build_sinks
        from theia_sf.services.tad import send_alerts

        outcomes = send_alerts(
            runtime.warehouse(warehouse_name=params["warehouse_name"]),
            runtime.sql_library(),
            summary["run_id"],
            build_sinks(plan["alert_connections"]),
        )
        return [o.to_record() for o in outcomes]

    plan = check_params()
    summary = detect_anomalies(plan=plan)
    publish_results(summary=summary)
    send_alerts(plan=plan, summary=summary)


theia_throughput_anomaly_detection()
