"""Airflow glue for the onboarding DAGs: Params, and connections turned into ports.

Cheap to import at DAG parse time (only ``airflow.sdk`` and light core modules at top level);
everything heavy (boto3, DuckDB, the Snowflake connector, sqlglot) is imported inside the
functions that tasks call.

* ``theia_warehouse``: the Snowflake side (conn_type ``snowflake``) or the DuckDB file
  (the DuckDB provider's conn_type ``duckdb``, host = path; see ``runtime``).
* ``theia_aws``: every AWS client, built by the Amazon provider's hooks.

Run notes: Airflow 3.3's task execution API can read a DAG run but offers no call to change
its note (only ``trigger_dag_run`` takes one), and tasks have no metadata-database access.
The result table goes to the task log and to XCom (``return_value``); it becomes the run's
note only through the public REST API (Airflow's own API client), when the optional
``theia_airflow_api`` connection is defined (:func:`set_run_note`).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import Param

from theia_sf.airflow.params import (
    MAX_RETENTION_DAYS,
    alert_connections_param,
    boolean_param,
    enum_param,
    integer_param,
    text_param,
)
from theia_sf.errors import ConfigurationError
from theia_sf.layouts import LAYOUTS
from theia_sf.onboarding.names import (
    BUCKET_PATTERN,
    KMS_ALIAS_PATTERN,
    KMS_KEY_PATTERN,
    PREFIX_PATTERN,
    REGION_PATTERN,
    STACK_NAME_PATTERN,
    WAREHOUSE_PATTERN,
)

log = logging.getLogger(__name__)

DEFAULT_REGION = "us-west-2"


_EXAMPLES = {
    "stack": "e.g. default or prod-east",
    "region": "e.g. us-west-2",
    "bucket": "an S3 bucket name, e.g. antrea-state-1a2b",
    "prefix": "a key prefix, e.g. antrea-flows-infra",
    "kms_key": "a key id, key ARN or alias, e.g. alias/theia-sf-state",
}


def _engine_param() -> Param:
    return enum_param(
        "auto",
        {
            "auto": "auto: the kind of the theia_warehouse connection",
            "duckdb": "duckdb (embedded)",
            "snowflake": "snowflake",
        },
        section="Stack",
        title="Engine",
        description="duckdb (embedded), snowflake, or auto: the kind of the "
        "theia_warehouse connection.",
    )


def _stack_name_param() -> Param:
    return text_param(
        "default",
        pattern=STACK_NAME_PATTERN,
        section="Stack",
        title="Stack name",
        description="Names one deployment (lower-case letters, digits and -, up to 32, "
        f"{_EXAMPLES['stack']}); several stacks can share an account and a state bucket.",
    )


def _region_param(description: str, section: str | None = "Stack") -> Param:
    return text_param(
        DEFAULT_REGION,
        pattern=REGION_PATTERN,
        section=section,
        title="AWS region",
        description=f"{description} An AWS region, {_EXAMPLES['region']}.",
    )


def _state_params(bucket_description: str) -> dict[str, Param]:
    return {
        "state_bucket": text_param(
            None,
            pattern=BUCKET_PATTERN,
            nullable=True,
            section="State record",
            title="State bucket",
            description=f"{bucket_description} Format: {_EXAMPLES['bucket']}.",
        ),
        "state_prefix": text_param(
            "antrea-flows-infra",
            pattern=PREFIX_PATTERN,
            section="State record",
            title="State prefix",
            description=f"Key prefix of state records: {_EXAMPLES['prefix']}.",
        ),
        "state_bucket_region": text_param(
            None,
            pattern=REGION_PATTERN,
            nullable=True,
            section="State record",
            title="State bucket region",
            description=f"An AWS region, {_EXAMPLES['region']}. Empty: the stack's region.",
        ),
    }


def _dry_run_param(
    description: str = "Print the plan (resources and statements); touch nothing.",
    section: str | None = None,
) -> Param:
    return boolean_param(False, title="Dry run", description=description, section=section)


def _confirm_param(what: str, section: str | None = None) -> Param:
    schema: dict[str, Any] = {"type": "string", "maxLength": 2048, "title": "Confirm"}
    if section:
        schema["section"] = section
    return Param("", description=f"Type the {what} to confirm.", **schema)


def stack_params(*, destructive: bool = False) -> dict[str, Param]:
    """Params shared by theia_onboard and theia_offboard (theia-sf's onboard flags)."""
    params: dict[str, Param] = {
        "engine": _engine_param(),
        "stack_name": _stack_name_param(),
        "region": _region_param("Region of every AWS resource of the stack."),
        **_state_params(
            "Existing bucket for the state record (theia_create_bucket). Required for "
            "snowflake; for duckdb, empty keeps the state as a JSON file under the data "
            "directory."
        ),
        "kms_key_id": text_param(
            None,
            pattern=KMS_KEY_PATTERN,
            nullable=True,
            section="State record",
            title="KMS key",
            description="Key for SSE-KMS of the state record (theia_create_kms_key): "
            f"{_EXAMPLES['kms_key']}. Empty: SSE-S3.",
        ),
        "kms_key_region": text_param(
            None,
            pattern=REGION_PATTERN,
            nullable=True,
            section="State record",
            title="KMS key region",
            description=f"An AWS region, {_EXAMPLES['region']}. Empty: the region.",
        ),
        "dry_run": _dry_run_param(section="Run"),
    }
    if destructive:
        params["confirm"] = _confirm_param("stack name", section="Run")
        params["remove_orphans"] = boolean_param(
            False,
            section="Run",
            title="Remove orphans",
            description="Also delete resources tagged with the stack that its state does not list.",
        )
    return params


def onboard_params() -> dict[str, Param]:
    params = stack_params()
    params.update(
        {
            "warehouse_name": text_param(
                None,
                pattern=WAREHOUSE_PATTERN,
                nullable=True,
                section="Snowflake",
                title="Snowflake warehouse",
                description="Runs the migrations: an unquoted identifier, e.g. THEIA_WH. "
                "Empty: a temporary X-Small warehouse, dropped afterwards.",
            ),
            "flow_retention_days": integer_param(
                30,
                minimum=1,
                maximum=MAX_RETENTION_DAYS,
                section="Snowflake",
                title="Flow retention (days)",
                description="Rows of FLOWS older than this are deleted daily (Snowflake task).",
            ),
            "file_retention_days": integer_param(
                7,
                minimum=1,
                maximum=MAX_RETENTION_DAYS,
                section="Snowflake",
                title="File retention (days)",
                description="Raw flow files expire from the bucket.",
            ),
            "flow_layout": enum_param(
                "v2.7",
                {name: f"Antrea {name}" for name in LAYOUTS},
                section="Snowflake",
                title="Flow-record layout",
                description="Antrea version of the Flow Aggregator (the Snowpipe COPY maps "
                "fields by position).",
            ),
        }
    )
    return params


# --- ports from connections ------------------------------------------------------------------


def resolve_engine(engine: str) -> str:
    from theia_sf.airflow import runtime

    return runtime.engine() if engine == "auto" else engine


def aws_port(region: str) -> Any:
    from theia_sf.adapters.aws import BotoAws
    from theia_sf.airflow import runtime

    return BotoAws(lambda service, r: runtime.aws_client(service, region_name=r), region)


def snowflake_factory() -> Any:
    """(database, warehouse) -> SnowflakeWarehouse over the provider's SnowflakeHook."""
    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

    from theia_sf.adapters.snowflake import SnowflakeWarehouse
    from theia_sf.airflow import runtime

    conn = runtime.require_connection(runtime.WAREHOUSE_CONN_ID, "Snowflake for onboarding")
    if conn.conn_type != "snowflake":
        raise ConfigurationError(
            f"engine snowflake needs connection {runtime.WAREHOUSE_CONN_ID!r} of type "
            f"snowflake, not {conn.conn_type!r}"
        )
    hook = SnowflakeHook(snowflake_conn_id=runtime.WAREHOUSE_CONN_ID)

    def make(database: str | None, warehouse: str | None) -> Any:
        return SnowflakeWarehouse(
            hook.get_conn,
            database=database,
            schema="THEIA" if database else None,
            warehouse_name=warehouse,
            temporary_warehouse=False,
        )

    return make


def state_store(params: dict[str, Any], engine: str) -> Any:
    from theia_sf.adapters.aws import S3StateStore
    from theia_sf.airflow import runtime
    from theia_sf.onboarding.state import FileStateStore

    bucket = params.get("state_bucket")
    if bucket:
        region = params.get("state_bucket_region") or params["region"]
        client = runtime.aws_client("s3", region_name=region)
        return S3StateStore(
            client, bucket, params.get("state_prefix") or "", params.get("kms_key_id")
        )
    if engine == "snowflake":
        raise ConfigurationError("Param state_bucket is required for engine snowflake")
    return FileStateStore(runtime.settings().data_dir / "onboarding")


def _fail_fast(error: Exception) -> None:
    """User-fixable errors fail the task without retries."""
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException(str(error)) from error


# --- what the tasks call -----------------------------------------------------------------------


def onboard(params: dict[str, Any]) -> dict[str, Any]:
    from theia_sf.airflow import runtime
    from theia_sf.services import onboarding as service

    try:
        engine = resolve_engine(params["engine"])
        store = state_store(params, engine)
        if engine == "duckdb":
            from theia_sf.adapters.duckdb import DuckDBWarehouse
            from theia_sf.onboarding.embedded import EmbeddedRequest

            cfg = runtime.settings()
            path = runtime.duckdb_path()
            request = EmbeddedRequest(
                stack_name=params["stack_name"],
                duckdb_path=path,
                flows_location=cfg.flows_location,
                results_location=cfg.results_location,
                region=params["region"],
            )
            return service.onboard_embedded_stack(
                request,
                warehouse=lambda: DuckDBWarehouse(path, memory_limit=cfg.duckdb_memory_limit),
                sql=runtime.sql_library(),
                state_store=store,
                aws=lambda: aws_port(params["region"]),
                dry_run=params["dry_run"],
            )
        from theia_sf.onboarding.cloud import CloudRequest

        request = CloudRequest(
            stack_name=params["stack_name"],
            region=params["region"],
            state_bucket=params["state_bucket"] or "",
            state_prefix=params["state_prefix"],
            state_bucket_region=params.get("state_bucket_region"),
            kms_key_id=params.get("kms_key_id"),
            kms_key_region=params.get("kms_key_region"),
            warehouse_name=params.get("warehouse_name"),
            flow_retention_days=params["flow_retention_days"],
            file_retention_days=params["file_retention_days"],
            flow_layout=params["flow_layout"],
        )
        if params["dry_run"]:
            return service.onboard_cloud_stack(
                request,
                aws=None,
                snowflake=None,
                sql=runtime.sql_library(),
                state_store=store,
                dry_run=True,
            )
        return service.onboard_cloud_stack(
            request,
            aws=aws_port(params["region"]),
            snowflake=snowflake_factory(),
            sql=runtime.sql_library(),
            state_store=store,
        )
    except ConfigurationError as error:
        _fail_fast(error)
        raise


def offboard(params: dict[str, Any]) -> dict[str, Any]:
    from theia_sf.airflow import runtime
    from theia_sf.services import onboarding as service

    try:
        engine = resolve_engine(params["engine"])
        store = state_store(params, engine)
        if engine == "duckdb":
            return service.offboard_embedded_stack(
                params["stack_name"],
                confirm=params["confirm"],
                state_store=store,
                aws=lambda: aws_port(params["region"]),
                dry_run=params["dry_run"],
            )
        state = store.load(params["stack_name"])
        region = (state.request.get("region") if state else None) or params["region"]
        return service.offboard_cloud_stack(
            params["stack_name"],
            confirm=params["confirm"],
            aws=aws_port(region),
            snowflake=snowflake_factory(),
            sql=runtime.sql_library(),
            state_store=store,
            remove_orphans=params["remove_orphans"],
            dry_run=params["dry_run"],
        )
    except ConfigurationError as error:
        _fail_fast(error)
        raise


def report(result: dict[str, Any]) -> dict[str, Any]:
    """Log the outcome (table, Helm values or plan) and return the small part for XCom."""
    if result.get("dry_run"):
        for item in result.get("plan", []) or result.get("would_remove", []):
            log.info("plan: %s", item)
            for statement in item.get("statements", []) if isinstance(item, dict) else []:
                log.info("  %s", statement)
        return {"dry_run": True, "stack": result["stack"], "engine": result["engine"]}
    if "table" in result:
        log.info("stack %s (%s) is ready:\n%s", result["stack"], result["engine"], result["table"])
        if result.get("helm_values"):
            log.info("Flow Aggregator Helm values:\n%s", "\n".join(result["helm_set"]))
        log.info("Run theia_onboard again to update the stack; theia_offboard removes it.")
        return {
            "stack": result["stack"],
            "engine": result["engine"],
            "outputs": result["outputs"]["table"],
            "helm_values": result["helm_values"],
            "note": result["note"],
        }
    for line in result.get("removed", []):
        log.info("%s", line)
    if result.get("orphans"):
        log.warning(
            "left in place (tagged with the stack, not in its state): %s", result["orphans"]
        )
    return {k: result.get(k) for k in ("stack", "engine", "removed", "orphans", "message")}


def create_bucket(params: dict[str, Any]) -> dict[str, Any]:
    from theia_sf.services import onboarding as service

    try:
        return service.create_state_bucket(
            aws_port(params["region"]),
            region=params["region"],
            name=params["name"],
            prefix=params["prefix"],
            dry_run=params["dry_run"],
        )
    except ConfigurationError as error:
        _fail_fast(error)
        raise


def delete_bucket(params: dict[str, Any]) -> dict[str, Any]:
    from theia_sf.services import onboarding as service

    try:
        return service.delete_bucket(
            aws_port(params["region"]),
            name=params["name"],
            force=params["force"],
            confirm=params["confirm"],
            dry_run=params["dry_run"],
        )
    except ConfigurationError as error:
        _fail_fast(error)
        raise


def create_kms_key(params: dict[str, Any]) -> dict[str, Any]:
    from theia_sf.services import onboarding as service

    try:
        return service.create_kms_key(
            aws_port(params["region"]),
            region=params["region"],
            alias=params["alias"],
            dry_run=params["dry_run"],
        )
    except ConfigurationError as error:
        _fail_fast(error)
        raise


def delete_kms_key(params: dict[str, Any]) -> dict[str, Any]:
    from theia_sf.services import onboarding as service

    try:
        return service.delete_kms_key(
            aws_port(params["region"]),
            key_id=params["key_id"],
            region=params["region"],
            pending_window_days=params["pending_window_days"],
            confirm=params["confirm"],
            dry_run=params["dry_run"],
        )
    except ConfigurationError as error:
        _fail_fast(error)
        raise


# --- bucket, key and ingestion-health DAGs ------------------------------------------------------


def bucket_params(*, destructive: bool) -> dict[str, Param]:
    params: dict[str, Param] = {
        "region": _region_param("Region of the bucket.", section=None),
        "name": text_param(
            None if not destructive else "",
            pattern=BUCKET_PATTERN,
            nullable=not destructive,
            title="Bucket name",
            description=f"Exact bucket name, {_EXAMPLES['bucket']}."
            + ("" if destructive else " Empty: <prefix>-<random>."),
        ),
        "dry_run": _dry_run_param("Print what would be done; touch nothing."),
    }
    if destructive:
        params["force"] = boolean_param(
            False, title="Force", description="Delete every object version first (all pages)."
        )
        params["confirm"] = _confirm_param("bucket name")
    else:
        params["prefix"] = text_param(
            "antrea",
            pattern=r"^[a-z0-9][a-z0-9-]{0,40}$",
            title="Name prefix",
            description="Used when name is empty: lower-case letters, digits and -, e.g. antrea.",
        )
    return params


def key_params(*, destructive: bool) -> dict[str, Param]:
    params: dict[str, Param] = {
        "region": _region_param("Region of the key.", section=None),
        "dry_run": _dry_run_param("Print what would be done; touch nothing."),
    }
    if destructive:
        params["key_id"] = text_param(
            "",
            pattern=KMS_KEY_PATTERN,
            title="Key id",
            description=f"The key to delete: {_EXAMPLES['kms_key']}.",
        )
        params["pending_window_days"] = integer_param(
            30,
            minimum=7,
            maximum=30,
            title="Pending window (days)",
            description="AWS deletes the key after this (7 to 30 days).",
        )
        params["confirm"] = _confirm_param("key id")
    else:
        params["alias"] = text_param(
            "alias/theia-sf-state",
            pattern=KMS_ALIAS_PATTERN,
            title="Alias",
            description="Re-runs reuse the key behind it: alias/<name>, e.g. alias/theia-sf-state.",
        )
    return params


def health_params() -> dict[str, Param]:
    return {
        "stack_name": _stack_name_param(),
        "region": _region_param("Region of the stack."),
        **_state_params(
            "Where the stack's state record is. Empty: nothing to check (embedded engine), "
            "the run is skipped."
        ),
        "warehouse_name": text_param(
            None,
            pattern=WAREHOUSE_PATTERN,
            nullable=True,
            section="Checks",
            title="Snowflake warehouse",
            description="Reads the copy history: an unquoted identifier, e.g. THEIA_WH. "
            "Empty: a temporary warehouse.",
        ),
        "max_messages": integer_param(
            100,
            minimum=1,
            maximum=10000,
            section="Checks",
            title="Max SQS messages per run",
            description="Error notifications read from the queue per run (1 to 10000).",
        ),
        "max_lag_minutes": integer_param(
            30,
            minimum=1,
            maximum=10080,
            section="Checks",
            title="Max pipe lag (minutes)",
            description="A pipe with older pending files is reported (1 minute to a week).",
        ),
        "lookback_hours": integer_param(
            24,
            minimum=1,
            maximum=336,
            section="Checks",
            title="Copy history lookback (hours)",
            description="Failed loads this recent are reported (1 to 336 hours).",
        ),
        "alert_connections": alert_connections_param(
            "Where problems are sent: http (webhook), aws with topic_arn, slackwebhook or "
            "slack. Empty: log only.",
            section="Alerts",
        ),
    }


def ingestion_health(params: dict[str, Any]) -> dict[str, Any]:
    import datetime as dt

    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook
    from airflow.sdk.exceptions import AirflowSkipException

    from theia_sf.adapters.snowflake import SnowflakeWarehouse
    from theia_sf.airflow import runtime
    from theia_sf.airflow.alerting import build_sinks
    from theia_sf.onboarding.names import StackNames
    from theia_sf.services import onboarding as service

    if not params.get("state_bucket") or runtime.engine() != "snowflake":
        raise AirflowSkipException(
            "no Snowflake stack configured (Param state_bucket, "
            "connection theia_warehouse): nothing to check"
        )
    try:
        sinks = build_sinks(params["alert_connections"])
        store = state_store(params, "snowflake")
        state = store.load(params["stack_name"])
        if state is None or not state.suffix:
            raise ConfigurationError(
                f"no state record for stack {params['stack_name']!r} in "
                f"{store.location} (Params stack_name, state_bucket)"
            )
        names = StackNames(state.stack, state.suffix)
        hook = SnowflakeHook(snowflake_conn_id=runtime.WAREHOUSE_CONN_ID)
        warehouse = SnowflakeWarehouse(
            hook.get_conn,
            database=names.database,
            schema="THEIA",
            warehouse_name=params.get("warehouse_name"),
            temporary_warehouse=not params.get("warehouse_name"),
        )
        region = state.request.get("region") or params["region"]
        return service.check_ingestion_health(
            params["stack_name"],
            state_store=store,
            aws=aws_port(region),
            warehouse=warehouse,
            sql=runtime.sql_library(),
            sinks=sinks,
            max_messages=params["max_messages"],
            max_lag=dt.timedelta(minutes=params["max_lag_minutes"]),
            lookback=dt.timedelta(hours=params["lookback_hours"]),
        )
    except ConfigurationError as error:
        _fail_fast(error)
        raise


# --- DAG-run note ---------------------------------------------------------------------------

API_CONN_ID = "theia_airflow_api"


def set_run_note(dag_id: str, run_id: str, note: str) -> bool:
    """Put ``note`` on the DAG run through Airflow's REST API, when it is configured.

    A task cannot set its run's note through the task execution API (Airflow 3.3 has no such
    call), so this uses Airflow's own API client (``apache-airflow-client``, REST API v2:
    ``PATCH .../dagRuns/{run_id}`` with ``update_mask=note``) and the optional
    ``theia_airflow_api`` connection of type ``http``: host = the API base URL (e.g.
    http://airflow-apiserver:8080), login/password of a user allowed to edit DAG runs. The
    JWT comes from the auth manager's ``POST /auth/token`` (the simple and FAB auth managers
    offer it), asked through the http provider's ``HttpHook``. Without the connection the
    note stays empty and the outputs are in the task log and XCom. Failures are logged,
    never raised.
    """
    from theia_sf.airflow import runtime

    conn = runtime.get_connection(API_CONN_ID)
    if conn is None or not (conn.host or "").strip():
        log.info("connection %s not defined: the run note is not set", API_CONN_ID)
        return False
    try:
        from airflow.providers.http.hooks.http import HttpHook
        from airflow_client import client

        hook = HttpHook(method="POST", http_conn_id=API_CONN_ID)
        answer = hook.run(
            endpoint="/auth/token",
            json={"username": conn.login, "password": conn.password},
            extra_options={"timeout": 20},
        )
        config = client.Configuration(
            host=hook.url_from_endpoint(None).rstrip("/"),
            access_token=answer.json()["access_token"],
        )
        with client.ApiClient(config) as api:
            # The raw answer: a newer server's DAG-run fields need not match this client's model.
            response = client.DagRunApi(api).patch_dag_run_without_preload_content(
                dag_id,
                run_id,
                client.DAGRunPatchBody(note=note[:1000]),
                update_mask=["note"],
                _request_timeout=20,
            )
            if not 200 <= response.status < 300:
                raise RuntimeError(f"HTTP {response.status}: {response.data[:300]!r}")
    except Exception as error:  # a note is a convenience: never fail the run for it
        log.warning("could not set the run note through %s: %s", API_CONN_ID, error)
        return False
    return True
