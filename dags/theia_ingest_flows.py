"""
### Theia flow ingestion (embedded DuckDB engine)

Every five minutes, lists the flows location (`THEIA_FLOWS_LOCATION`: a directory, or
`s3://bucket/prefix` through the `theia_aws` connection) and loads the content of each new
Flow Aggregator file into `FLOWS` exactly once (files are identified by a hash of their
bytes: a touched, renamed or copied file loads nothing; a rewritten one is rejected with the
reason in `LOAD_HISTORY`). Malformed lines go to `REJECTED_FLOW_RECORDS` with their file,
line number and reason; a bad file never stops the others, and the task's result lists what
was rejected. When rows land, the `theia_flows` asset is updated; a run that finds nothing
new ends *skipped*.

On the Snowflake engine Snowpipe loads the flows and this DAG skips.
Logic: `theia_sf.ingest.ingest_flows`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from theia_sf.airflow.assets import FLOWS
from theia_sf.airflow.defaults import WAREHOUSE_POOL, Timeouts, service_dag
from theia_sf.airflow.params import enum_param
from theia_sf.layouts import LAYOUT_NAMES

TIMEOUTS = Timeouts("theia_ingest_flows", run_minutes=60)


@dag(
    schedule="*/5 * * * *",
    **service_dag(TIMEOUTS),
    params={
        "layout": enum_param(
            None,
            {None: "the THEIA_FLOW_LAYOUT setting", **{name: name for name in LAYOUT_NAMES}},
            title="Flow-record layout",
            description="Flow-record layout of the files (Antrea version); empty: the "
            "THEIA_FLOW_LAYOUT setting (default auto, detected per file).",
        ),
    },
    tags=["theia", "ingestion"],
    doc_md=__doc__,
)
def theia_ingest_flows() -> None:
    @task(pool=WAREHOUSE_POOL, outlets=[FLOWS],
          execution_timeout=TIMEOUTS.task("load_new_flow_files", 45))  # fmt: skip
    def load_new_flow_files(params: dict, dag=None, dag_run=None, outlet_events=None) -> dict:
        from theia_sf.airflow.ingestion import load_new_flow_files
        from theia_sf.airflow.settings import resolve_run

        report = load_new_flow_files(resolve_run(dag, params, dag_run).values["layout"])
        if outlet_events is not None:  # downstream DAGs see what this run loaded
            outlet_events[FLOWS].extra = {k: v for k, v in report.items() if k != "files"}
        return report

    load_new_flow_files()


theia_ingest_flows()
