"""
### Theia abnormal traffic drop detection

Nightly (and on demand from the trigger form or the REST API): counts dropped or rejected flows
per endpoint, direction and UTC day in the warehouse, flags abnormal days, names the policy
rules and peers behind each one, records the run in `DROP_DETECTION_RUNS` / `DROP_ANOMALIES`
(re-running the same window and parameters replaces its results), publishes
`detection/runs/<run_id>/anomalies.json` (and `detection/latest/anomalies.json`) to the results
location, and alerts every connection in `alert_connections` once per new anomaly.

Methods: `baseline` (default) compares each day with the preceding days of the window
(`sigma`, `min_history_days`, `min_drops`; a lasting level shift is alerted once and becomes
the baseline after `shift_days`); `theia` reproduces theia-sf (mean ± 3 sample
standard deviations over all days with drops, at least 3 days).

Alert connections (by id): `http` webhook (JSON with Slack-compatible `text` and an
`anomalies` list), `aws` with a `topic_arn` extra (SNS with that connection's credentials),
`generic` with a `topic_arn` extra (SNS through `theia_aws`), `slackwebhook` or `slack` (with a
`channel` extra) through the Slack provider. An undefined connection fails the first task, before any warehouse work; a failed
delivery fails `send_alerts` (retries apply) and leaves the anomalies un-alerted.

Scheduled runs take their Params from the Airflow Variable `theia_drop_detection` (deployment
settings); a Param given in the run's conf wins. Logic: `theia_sf.services.detection`. This
file only wires it to Airflow.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

from theia_sf.airflow.defaults import WAREHOUSE_POOL, Timeouts, analysis_schedule, service_dag
from theia_sf.airflow.params import (
    alert_connections_param,
    cluster_uuid_param,
    enum_param,
    integer_param,
    number_param,
    warehouse_name_param,
    window_params,
)
from theia_sf.timewindow import MAX_WINDOW_DAYS

# Updated with every published anomaly list (the file lives in the results location).
DROP_ANOMALIES = Asset(
    name="theia_drop_anomalies",
    uri="x-theia://results/detection/latest/anomalies.json",
    group="theia",
)

TIMEOUTS = Timeouts("theia_drop_detection", run_minutes=180)

# The Params that make up a DetectionConfig (the others choose the window, sinks and warehouse).
CONFIG_PARAMS = (
    "method",
    "granularity",
    "sigma",
    "min_history_days",
    "min_drops",
    "shift_days",
    "cluster_uuid",
)


@dag(
    schedule=analysis_schedule("@daily"),
    **service_dag(TIMEOUTS),
    params={
        "method": enum_param(
            "baseline",
            {
                "baseline": "baseline: each day against the preceding days",
                "theia": "theia: theia-sf's mean ± 3 standard deviations",
            },
            section="Method",
            title="Method",
            description="baseline: each day against the preceding days; theia: theia-sf's "
            "mean ± 3 standard deviations over all days.",
        ),
        "sigma": number_param(
            3.0,
            exclusive_minimum=0,
            maximum=100,
            section="Method",
            title="Sigma",
            description="baseline: a day is abnormal above mean + sigma × spread (up to 100).",
        ),
        "min_history_days": integer_param(
            3,
            minimum=1,
            maximum=MAX_WINDOW_DAYS,
            section="Method",
            title="Minimum history (days)",
            description="baseline: days of history needed before a day is tested.",
        ),
        "min_drops": integer_param(
            10,
            minimum=0,
            maximum=1_000_000_000,
            section="Method",
            title="Minimum drops",
            description="baseline: an abnormal day has at least this many drops above the mean.",
        ),
        "shift_days": integer_param(
            3,
            minimum=1,
            maximum=MAX_WINDOW_DAYS,
            section="Method",
            title="Level-shift days",
            description="baseline: a level shift is alerted on its first day; after this many "
            "days at the new level it becomes the baseline.",
        ),
        **window_params(30, section="Window"),
        "cluster_uuid": cluster_uuid_param(section="Scope"),
        "granularity": enum_param(
            "workload",
            {"workload": "workload (pod name without its suffix)", "pod": "pod (ns/pod)"},
            section="Scope",
            title="Endpoint granularity",
            description="Endpoint: workload (pod name without its generated suffix, so history "
            "survives restarts) or pod (ns/pod as theia-sf). Non-pod endpoints are IPs.",
        ),
        "alert_connections": alert_connections_param(
            "Where new anomalies are sent: http (webhook), aws or generic with a topic_arn "
            "extra (SNS), slackwebhook or slack. Empty: no alerts.",
            section="Alerts",
        ),
        "warehouse_name": warehouse_name_param(section="Engine"),
    },
    tags=["theia", "detection"],
    doc_md=__doc__,
)
def theia_drop_detection() -> None:
    @task(retries=0, execution_timeout=TIMEOUTS.task("check_params", 5))
    def check_params(
        params: dict, dag=None, dag_run=None, data_interval_end: pendulum.DateTime | None = None
    ) -> dict:
        from theia_sf.airflow import analysis
        from theia_sf.detection import DetectionConfig

        return analysis.check_params(
            dag, params, dag_run, data_interval_end, DetectionConfig, CONFIG_PARAMS
        )

    @task(pool=WAREHOUSE_POOL, execution_timeout=TIMEOUTS.task("detect_drops", 90))
    def detect_drops(plan: dict) -> dict:
        from theia_sf.airflow import analysis
        from theia_sf.detection import DetectionConfig
        from theia_sf.services.detection import run_drop_detection

        return analysis.run_analysis(plan, DetectionConfig, run_drop_detection)

    @task(pool=WAREHOUSE_POOL, outlets=[DROP_ANOMALIES],
          execution_timeout=TIMEOUTS.task("publish_results", 30))  # fmt: skip
    def publish_results(plan: dict, summary: dict, outlet_events=None) -> dict:
        from theia_sf.airflow import analysis
        from theia_sf.services.detection import publish_results

        return analysis.publish_results(
            plan, summary, publish_results, DROP_ANOMALIES, outlet_events
        )

    # Outside the warehouse pool: a slow sink must not keep writers waiting. Its warehouse
    # sessions (read what is pending, record each delivery) are short and never span a call.
    @task(execution_timeout=TIMEOUTS.task("send_alerts", 30))
    def send_alerts(plan: dict, summary: dict) -> list:
        from theia_sf.airflow import analysis
        from theia_sf.services.detection import send_alerts

        return analysis.send_alerts(plan, summary, send_alerts)

    plan = check_params()
    summary = detect_drops(plan=plan)
    publish_results(plan=plan, summary=summary)
    send_alerts(plan=plan, summary=summary)


theia_drop_detection()
