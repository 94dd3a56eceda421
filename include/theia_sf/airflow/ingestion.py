"""Task bodies of the ingestion and retention DAGs (run at task time only)."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk.exceptions import AirflowSkipException

from theia_sf.airflow import runtime

log = logging.getLogger(__name__)


def load_new_flow_files(layout: str | None) -> dict[str, Any]:
    from theia_sf.ingest import ingest_flows
    from theia_sf.migrations import migrate

    cfg = runtime.settings()
    if runtime.engine() != "duckdb":
        raise AirflowSkipException(
            "theia_warehouse is Snowflake: Snowpipe loads the flows, nothing to do here"
        )
    warehouse = runtime.warehouse()
    sql = runtime.sql_library()
    with warehouse.session() as session:
        migrate(session, sql)  # the embedded schema follows the installed version
    store = runtime.object_store(cfg.flows_location)
    report = ingest_flows(
        warehouse, sql, store,
        layout=layout or cfg.flow_layout,
        retention_days=cfg.flow_retention_days,
        max_files=cfg.ingest_batch_files,
    )
    if report.files_loaded == 0:
        raise AirflowSkipException(
            f"no new flow files under {store.location} ({report.files_seen} seen, "
            f"{report.files_skipped_loaded} already handled; {report.summary()})"
        )
    log.info("loaded %d files, %d rows; %s", report.files_loaded, report.rows_loaded,
             report.summary())
    return report.to_record()


def delete_stale_flows(retention_days: int | None) -> dict[str, Any]:
    from theia_sf.ingest import apply_retention

    cfg = runtime.settings()
    if runtime.engine() != "duckdb":
        raise AirflowSkipException(
            "theia_warehouse is Snowflake: its DELETE_STALE_FLOWS task applies retention"
        )
    return apply_retention(
        runtime.warehouse(), runtime.sql_library(),
        days=retention_days or cfg.flow_retention_days,
    )
