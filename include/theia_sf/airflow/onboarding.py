"""Airflow glue for the onboarding DAGs: Params, and connections turned into ports.

Cheap to import at DAG parse time (only ``airflow.sdk`` and light core modules at top level);
everything heavy (boto3, DuckDB, the Snowflake connector, sqlglot) is imported inside the
functions that tasks call.

* ``theia_warehouse``: the Snowflake side (conn_type ``snowflake``) or the DuckDB file
  (conn_type ``duckdb``, host = path; missing: ``THEIA_DUCKDB_PATH`` / the data directory).
* ``theia_aws``: every AWS client, built by the Amazon provider's hooks.

Run notes: Airflow 3.3's task execution API can read a DAG run but offers no call to change
its note (only ``trigger_dag_run`` takes one), and tasks have no metadata-database access.
The result table goes to the task log and to XCom (``return_value``); it becomes the run's
note only through the public REST API, when the optional ``theia_airflow_api`` connection
is defined (:func:`set_run_note`).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import Param

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

ENGINES = ["auto", "duckdb", "snowflake"]
DEFAULT_REGION = "us-west-2"


def _nullable(pattern: str, title: str, description: str) -> Param:
    return Param(
        None, type=["null", "string"], pattern=pattern, title=title, description=description
    )


def stack_params(*, destructive: bool = False) -> dict[str, Param]:
    """Params shared by theia_onboard and theia_offboard (theia-sf's onboard flags)."""
    params: dict[str, Param] = {
        "engine": Param(
            "auto",
            type="string",
            enum=ENGINES,
            title="Engine",
            description="duckdb (embedded), snowflake, or auto: the kind of the "
            "theia_warehouse connection.",
        ),
        "stack_name": Param(
            "default",
            type="string",
            pattern=STACK_NAME_PATTERN,
            title="Stack name",
            description="Names one deployment; several "
            "stacks can share an account and a state bucket.",
        ),
        "region": Param(
            DEFAULT_REGION,
            type="string",
            pattern=REGION_PATTERN,
            title="AWS region",
            description="Region of every AWS resource of the stack.",
        ),
        "state_bucket": _nullable(
            BUCKET_PATTERN,
            "State bucket",
            "Existing bucket for the state record (theia_create_bucket). "
            "Required for snowflake; for duckdb, empty keeps the state "
            "as a JSON file under the data directory.",
        ),
        "state_prefix": Param(
            "antrea-flows-infra",
            type="string",
            pattern=PREFIX_PATTERN,
            title="State prefix",
            description="Key prefix of state records.",
        ),
        "state_bucket_region": _nullable(
            REGION_PATTERN, "State bucket region", "Empty: the stack's region."
        ),
        "kms_key_id": _nullable(
            KMS_KEY_PATTERN,
            "KMS key",
            "Key id, ARN or alias for SSE-KMS of the state record "
            "(theia_create_kms_key). Empty: SSE-S3.",
        ),
        "kms_key_region": _nullable(REGION_PATTERN, "KMS key region", "Empty: the region."),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Print the plan (resources and statements); touch nothing.",
        ),
    }
    if destructive:
        params["confirm"] = Param(
            "",
            type="string",
            title="Confirm",
            description="Type the stack name to confirm the deletion.",
        )
        params["remove_orphans"] = Param(
            False,
            type="boolean",
            title="Remove orphans",
            description="Also delete resources tagged with the stack that its state does not list.",
        )
    return params


def onboard_params() -> dict[str, Param]:
    params = stack_params()
    params.update(
        {
            "warehouse_name": _nullable(
                WAREHOUSE_PATTERN,
                "Snowflake warehouse",
                "Runs the migrations. Empty: a temporary X-Small warehouse, dropped afterwards.",
            ),
            "flow_retention_days": Param(
                30,
                type="integer",
                minimum=1,
                maximum=3650,
                title="Flow retention (days)",
                description="Rows of FLOWS older than this are deleted daily (Snowflake task).",
            ),
            "file_retention_days": Param(
                7,
                type="integer",
                minimum=1,
                maximum=3650,
                title="File retention (days)",
                description="Raw flow files expire from the bucket.",
            ),
            "flow_layout": Param(
                "v2.7",
                type="string",
                enum=list(LAYOUTS),
                title="Flow-record layout",
                description="Antrea version of the "
                "Flow Aggregator (the Snowpipe COPY maps fields by position).",
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


def duckdb_path() -> Any:
    from pathlib import Path

    from theia_sf.airflow import runtime

    conn = runtime.get_connection(runtime.WAREHOUSE_CONN_ID)
    if conn is not None and conn.conn_type == "duckdb" and conn.host:
        return Path(conn.host)
    return runtime.settings().duckdb_path


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
            path = duckdb_path()
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

CONNECTION_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,250}$"


def bucket_params(*, destructive: bool) -> dict[str, Param]:
    params: dict[str, Param] = {
        "region": Param(DEFAULT_REGION, type="string", pattern=REGION_PATTERN, title="AWS region"),
        "name": Param(
            None if not destructive else "",
            type=["null", "string"] if not destructive else "string",
            pattern=BUCKET_PATTERN,
            title="Bucket name",
            description="Exact bucket name."
            + ("" if destructive else " Empty: <prefix>-<random>."),
        ),
        "dry_run": Param(False, type="boolean", title="Dry run"),
    }
    if destructive:
        params["force"] = Param(
            False,
            type="boolean",
            title="Force",
            description="Delete every object version first (all pages).",
        )
        params["confirm"] = Param(
            "", type="string", title="Confirm", description="Type the bucket name to confirm."
        )
    else:
        params["prefix"] = Param(
            "antrea",
            type="string",
            pattern=r"^[a-z0-9][a-z0-9-]{0,40}$",
            title="Name prefix",
            description="Used when name is empty.",
        )
    return params


def key_params(*, destructive: bool) -> dict[str, Param]:
    params: dict[str, Param] = {
        "region": Param(
            DEFAULT_REGION,
            type="string",
            pattern=REGION_PATTERN,
            title="AWS region",
            description="Region of the key.",
        ),
        "dry_run": Param(False, type="boolean", title="Dry run"),
    }
    if destructive:
        params["key_id"] = Param(
            "",
            type="string",
            pattern=KMS_KEY_PATTERN,
            title="Key id",
            description="Key id, ARN or alias.",
        )
        params["pending_window_days"] = Param(
            30,
            type="integer",
            minimum=7,
            maximum=30,
            title="Pending window (days)",
            description="AWS deletes the key after this.",
        )
        params["confirm"] = Param(
            "", type="string", title="Confirm", description="Type the key id to confirm."
        )
    else:
        params["alias"] = Param(
            "alias/theia-sf-state",
            type="string",
            pattern=KMS_ALIAS_PATTERN,
            title="Alias",
            description="Re-runs reuse the key behind it.",
        )
    return params


def health_params() -> dict[str, Param]:
    return {
        "stack_name": Param(
            "default", type="string", pattern=STACK_NAME_PATTERN, title="Stack name"
        ),
        "region": Param(DEFAULT_REGION, type="string", pattern=REGION_PATTERN, title="AWS region"),
        "state_bucket": _nullable(
            BUCKET_PATTERN,
            "State bucket",
            "Where the stack's state record is. Empty: nothing to check "
            "(embedded engine), the run is skipped.",
        ),
        "state_prefix": Param(
            "antrea-flows-infra", type="string", pattern=PREFIX_PATTERN, title="State prefix"
        ),
        "state_bucket_region": _nullable(
            REGION_PATTERN, "State bucket region", "Empty: the region."
        ),
        "warehouse_name": _nullable(
            WAREHOUSE_PATTERN,
            "Snowflake warehouse",
            "Reads the copy history. Empty: a temporary warehouse.",
        ),
        "alert_connections": Param(
            [],
            type="array",
            items={"type": "string", "pattern": CONNECTION_ID_PATTERN},
            uniqueItems=True,
            title="Alert connections",
            description="Connection ids to alert (http webhook, aws "
            "with topic_arn, slackwebhook, slack). Empty: log only.",
        ),
        "max_messages": Param(
            100, type="integer", minimum=1, maximum=10000, title="Max SQS messages per run"
        ),
        "max_lag_minutes": Param(30, type="integer", minimum=1, title="Max pipe lag (minutes)"),
        "lookback_hours": Param(
            24, type="integer", minimum=1, maximum=336, title="Copy history lookback (hours)"
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
    """Put ``note`` on the DAG run through the public REST API, when it is reachable.

    A task cannot set its run's note through the task execution API (Airflow 3.3 has no such
    call), so this uses the REST API v2 (``PATCH .../dagRuns/{run_id}``) with the optional
    ``theia_airflow_api`` connection: host = the API base URL (e.g. http://127.0.0.1:8080),
    login/password of a user allowed to edit DAG runs. Without it the note stays empty and
    the outputs are in the task log and XCom. Failures are logged, never raised.
    """
    import json
    import urllib.parse
    import urllib.request

    from theia_sf.airflow import runtime

    conn = runtime.get_connection(API_CONN_ID)
    if conn is None or not conn.host:
        log.info("connection %s not defined: the run note is not set", API_CONN_ID)
        return False
    base = conn.host.rstrip("/")
    if "://" not in base:
        base = f"{conn.schema or 'http'}://{base}" + (f":{conn.port}" if conn.port else "")

    def call(method: str, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            base + path, data=json.dumps(body).encode(), headers=headers, method=method
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            return json.loads(response.read() or b"null")

    try:
        token = call("POST", "/auth/token", {"username": conn.login, "password": conn.password})
        path = (
            f"/api/v2/dags/{urllib.parse.quote(dag_id, safe='')}/dagRuns/"
            f"{urllib.parse.quote(run_id, safe='')}?update_mask=note"
        )
        call("PATCH", path, {"note": note[:1000]}, token["access_token"])
    except Exception as error:  # a note is a convenience: never fail the run for it
        log.warning("could not set the run note through %s: %s", API_CONN_ID, error)
        return False
    return True
