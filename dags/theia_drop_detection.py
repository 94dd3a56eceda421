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
        from airflow.sdk.exceptions import AirflowFailException

        from theia_sf.airflow.alerting import check_alert_connections
        from theia_sf.airflow.settings import resolve_run
        from theia_sf.detection import DetectionConfig
        from theia_sf.errors import ConfigurationError
        from theia_sf.timewindow import TimeSpecError, Window

        # The deployment settings fill what the run was not given; then cross-field checks
        # and connection look-ups, before any warehouse work.
        effective = resolve_run(dag, params, dag_run)
        params = effective.values
        try:
            config = DetectionConfig(
                method=params["method"],
                granularity=params["granularity"],
                sigma=params["sigma"],
                min_history_days=params["min_history_days"],
                min_drops=params["min_drops"],
                shift_days=params["shift_days"],
                cluster_uuid=params["cluster_uuid"],
            )
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
            "params": params,
            "sources": effective.sources,
        }

    @task(pool=WAREHOUSE_POOL, execution_timeout=TIMEOUTS.task("detect_drops", 90))
    def detect_drops(plan: dict) -> dict:
        import datetime as dt

        from theia_sf.airflow import runtime
        from theia_sf.detection import DetectionConfig
        from theia_sf.migrations import migrate
        from theia_sf.services.detection import run_drop_detection
        from theia_sf.timewindow import Window

        warehouse = runtime.warehouse(warehouse_name=plan["params"]["warehouse_name"])
        sql = runtime.sql_library()
        if warehouse.engine == "duckdb":
            with warehouse.session() as session:
                migrate(session, sql)
        window = Window(*(dt.datetime.fromisoformat(plan["window"][k]) for k in ("start", "end")))
        result = run_drop_detection(warehouse, sql, DetectionConfig(**plan["config"]), window)
        return result.to_record()

    @task(pool=WAREHOUSE_POOL, outlets=[DROP_ANOMALIES],
          execution_timeout=TIMEOUTS.task("publish_results", 30))  # fmt: skip
    def publish_results(plan: dict, summary: dict, outlet_events=None) -> dict:
        from theia_sf.airflow import runtime
        from theia_sf.services.detection import publish_results

        uris = publish_results(
            runtime.warehouse(warehouse_name=plan["params"]["warehouse_name"]),
            runtime.sql_library(),
            runtime.object_store(runtime.settings().results_location, create=True),
            summary["run_id"],
        )
        if outlet_events is not None:
            outlet_events[DROP_ANOMALIES].extra = {"run_id": summary["run_id"], **uris}
        return {"run_id": summary["run_id"], **uris}

    # Outside the warehouse pool: a slow sink must not keep writers waiting. Its warehouse
    # sessions (read what is pending, record each delivery) are short and never span a call.
    @task(execution_timeout=TIMEOUTS.task("send_alerts", 30))
    def send_alerts(plan: dict, summary: dict) -> list:
        from theia_sf.airflow import runtime
        from theia_sf.airflow.alerting import build_sinks
        from theia_sf.services.detection import send_alerts

        outcomes = send_alerts(
            runtime.warehouse(warehouse_name=plan["params"]["warehouse_name"]),
            runtime.sql_library(),
            summary["run_id"],
            build_sinks(plan["alert_connections"]),
        )
        return [o.to_record() for o in outcomes]

    plan = check_params()
    summary = detect_drops(plan=plan)
    publish_results(plan=plan, summary=summary)
    send_alerts(plan=plan, summary=summary)


theia_drop_detection()
