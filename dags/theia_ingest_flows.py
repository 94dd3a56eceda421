"""
### Theia flow ingestion (embedded DuckDB engine)

Every five minutes, lists the flows location (`THEIA_FLOWS_LOCATION`: a directory, or
`s3://bucket/prefix` through the `theia_aws` connection) and loads each new Flow Aggregator
file into `FLOWS` exactly once. Malformed lines go to `REJECTED_FLOW_RECORDS` with their file,
line number and reason. When rows land, the `theia_flows` asset is updated; a run that finds
nothing new ends *skipped*.

On the Snowflake engine Snowpipe loads the flows and this DAG skips.
Logic: `theia_sf.ingest.ingest_flows`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from theia_sf.airflow.assets import FLOWS
from theia_sf.airflow.defaults import DEFAULT_ARGS, START_DATE, WAREHOUSE_POOL
from theia_sf.airflow.params import enum_param
from theia_sf.layouts import LAYOUT_NAMES


@dag(
    schedule="*/5 * * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
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
    @task(pool=WAREHOUSE_POOL, outlets=[FLOWS])
    def load_new_flow_files(params: dict) -> dict:
        from theia_sf.airflow.ingestion import load_new_flow_files

        return load_new_flow_files(params["layout"])

    load_new_flow_files()


theia_ingest_flows()
