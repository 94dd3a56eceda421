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
from airflow.sdk import Asset, dag, task

from theia_sf.airflow.defaults import WAREHOUSE_POOL, Timeouts, analysis_schedule, service_dag
from theia_sf.airflow.params import (
    MAX_LIST_ITEMS,
    alert_connections_param,
    cluster_uuid_param,
    enum_param,
    list_param,
    text_param,
    warehouse_name_param,
    window_params,
)
from theia_sf.identifiers import NAMESPACE_PATTERN
from theia_sf.tad.model import (
    EXTERNAL_IP_PATTERN,
    POD_LABEL_PATTERN,
    POD_NAME_PATTERN,
    SERVICE_PORT_NAME_PATTERN,
)

# Updated with every published list of anomalous points (in the results location).
THROUGHPUT_ANOMALIES = Asset(
    name="theia_throughput_anomalies",
    uri="x-theia://results/tad/latest/anomalies.json",
    group="theia",
)

TIMEOUTS = Timeouts("theia_throughput_anomaly_detection", run_minutes=360)

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


@dag(
    schedule=analysis_schedule("@daily"),
    **service_dag(TIMEOUTS),
    params={
        "algorithm": enum_param(
            "EWMA",
            {
                "EWMA": "EWMA: |x − EWMA| > stddev",
                "ARIMA": "ARIMA: |x − ARIMA(1,1,1) forecast| > stddev (one fit per point)",
                "DBSCAN": "DBSCAN: noise at eps 2.5e8, 4 points",
            },
            section="Algorithm",
            title="Algorithm",
            description="EWMA, ARIMA or DBSCAN with standard Theia's definitions and "
            "thresholds (ARIMA is slow: one model fit per point).",
        ),
        "variant": enum_param(
            "theia",
            {"theia": "theia: standard Theia's definitions", "corrected": "corrected"},
            section="Algorithm",
            title="Variant",
            description="theia: standard Theia's definitions; corrected: EWMA starts at the "
            "first value, thresholds leave out the points they flag, DBSCAN does not flag "
            "series shorter than 4 points.",
        ),
        "agg_flow": enum_param(
            "none",
            {
                "none": "none: per connection",
                "external": "external: per destination IP outside the cluster",
                "pod": "pod: per pod and direction",
                "svc": "svc: per service port",
            },
            section="Series",
            title="Series",
            description="none: per connection; external: per destination IP of flows to "
            "outside the cluster; pod: per pod (labels, or name) and direction; svc: per "
            "service port.",
        ),
        "pod_label": text_param(
            None,
            pattern=POD_LABEL_PATTERN,
            nullable=True,
            section="Series",
            title="Pod label",
            description="agg_flow=pod: only pods whose labels JSON contains this text "
            '(case-insensitive, up to 256 characters), e.g. "app":"web".',
        ),
        "pod_name": text_param(
            None,
            pattern=POD_NAME_PATTERN,
            nullable=True,
            section="Series",
            title="Pod name",
            description="agg_flow=pod: only this pod, e.g. web-7c9f8b6d5-b8c9d.",
        ),
        "pod_namespace": text_param(
            None,
            pattern=NAMESPACE_PATTERN,
            nullable=True,
            section="Series",
            title="Pod namespace",
            description="agg_flow=pod, with pod_label or pod_name: only pods of this "
            "namespace, e.g. shop.",
        ),
        "external_ip": text_param(
            None,
            pattern=EXTERNAL_IP_PATTERN,
            nullable=True,
            section="Series",
            title="External IP",
            description="agg_flow=external: only this destination IP, e.g. 203.0.113.9.",
        ),
        "svc_port_name": text_param(
            None,
            pattern=SERVICE_PORT_NAME_PATTERN,
            nullable=True,
            section="Series",
            title="Service port",
            description="agg_flow=svc: only this service port, as <namespace>/<service>:<port "
            "name>, e.g. shop/web:http.",
        ),
        **window_params(1, section="Window"),
        "cluster_uuid": cluster_uuid_param(section="Scope"),
        "ns_ignore_list": list_param(
            [],
            item_pattern=NAMESPACE_PATTERN,
            max_items=MAX_LIST_ITEMS,
            section="Scope",
            title="Ignored namespaces",
            description="Leave out flows from or to these namespaces: a JSON list of at most "
            f'{MAX_LIST_ITEMS} namespaces, e.g. ["kube-system", "flow-visibility"].',
        ),
        "alert_connections": alert_connections_param(
            "Where new anomalous points are sent: http (webhook), aws or generic with a "
            "topic_arn extra (SNS), slackwebhook or slack. Empty: no alerts.",
            section="Alerts",
        ),
        "warehouse_name": warehouse_name_param(section="Engine"),
    },
    tags=["theia", "detection"],
    doc_md=__doc__,
)
def theia_throughput_anomaly_detection() -> None:
    @task(retries=0, execution_timeout=TIMEOUTS.task("check_params", 5))
    def check_params(
        params: dict, dag=None, dag_run=None, data_interval_end: pendulum.DateTime | None = None
    ) -> dict:
        from theia_sf.airflow import analysis
        from theia_sf.tad.model import TadConfig

        return analysis.check_params(
            dag, params, dag_run, data_interval_end, TadConfig, CONFIG_PARAMS
        )

    @task(pool=WAREHOUSE_POOL, execution_timeout=TIMEOUTS.task("detect_anomalies", 300))
    def detect_anomalies(plan: dict) -> dict:
        from theia_sf.airflow import analysis
        from theia_sf.services.tad import run_throughput_anomaly_detection
        from theia_sf.tad.model import TadConfig

        return analysis.run_analysis(plan, TadConfig, run_throughput_anomaly_detection)

    @task(pool=WAREHOUSE_POOL, outlets=[THROUGHPUT_ANOMALIES],
          execution_timeout=TIMEOUTS.task("publish_results", 30))  # fmt: skip
    def publish_results(plan: dict, summary: dict, outlet_events=None) -> dict:
        from theia_sf.airflow import analysis
        from theia_sf.services.tad import publish_results

        return analysis.publish_results(
            plan, summary, publish_results, THROUGHPUT_ANOMALIES, outlet_events
        )

    # Outside the warehouse pool: a slow sink must not keep writers waiting.
    @task(execution_timeout=TIMEOUTS.task("send_alerts", 30))
    def send_alerts(plan: dict, summary: dict) -> list:
        from theia_sf.airflow import analysis
        from theia_sf.services.tad import send_alerts

        return analysis.send_alerts(plan, summary, send_alerts)

    plan = check_params()
    summary = detect_anomalies(plan=plan)
    publish_results(plan=plan, summary=summary)
    send_alerts(plan=plan, summary=summary)


theia_throughput_anomaly_detection()
