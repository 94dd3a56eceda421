"""Build adapters from Airflow connections at task run time (never at parse time).

Connections:
* ``theia_warehouse``: conn_type ``snowflake`` (the provider's ``SnowflakeHook``, every
  authentication method it supports) or ``duckdb`` (the DuckDB provider's connection type, so
  Admin > Connections shows and edits it: ``host``, labelled "Database path", is the database
  file; a ``memory_limit`` extra overrides THEIA_DUCKDB_MEMORY_LIMIT). Missing, or an empty
  host: the embedded DuckDB file under the data directory. :data:`ENGINES` is the one table
  from connection type to adapter.
* ``theia_aws``: conn_type ``aws`` (the Amazon provider's hooks; an ``endpoint_url`` extra
  points at an S3-compatible store). Missing: boto3's default credential chain.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from theia_sf.errors import ConfigurationError
from theia_sf.objectstore import ObjectStore, open_store
from theia_sf.settings import Settings
from theia_sf.sql import SqlLibrary
from theia_sf.warehouse import Warehouse

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "theia_warehouse"
AWS_CONN_ID = "theia_aws"


def settings() -> Settings:
    return Settings.from_env()


@cache
def sql_library() -> SqlLibrary:
    return SqlLibrary()


def get_connection(conn_id: str) -> Any | None:
    """The Airflow connection ``conn_id``, or None when it is not defined."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def require_connection(conn_id: str, purpose: str) -> Any:
    conn = get_connection(conn_id)
    if conn is None:
        raise ConfigurationError(
            f"Airflow connection {conn_id!r} ({purpose}) is not defined: create it in "
            "Admin > Connections or as AIRFLOW_CONN_" + conn_id.upper()
        )
    return conn


def _duckdb(
    conn: Any | None, warehouse_name: str | None, temporary: bool, login_timeout: float | None
) -> Warehouse:
    from theia_sf.adapters.duckdb import DuckDBWarehouse

    extra = conn.extra_dejson if conn is not None else {}
    memory_limit = extra.get("memory_limit") or settings().duckdb_memory_limit
    return DuckDBWarehouse(_duckdb_file(conn), memory_limit=memory_limit)


def _snowflake(
    conn: Any, warehouse_name: str | None, temporary: bool, login_timeout: float | None
) -> Warehouse:
    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

    from theia_sf.adapters.snowflake import SnowflakeWarehouse

    hook = SnowflakeHook(snowflake_conn_id=WAREHOUSE_CONN_ID)
    extra = conn.extra_dejson
    configured = warehouse_name or extra.get("warehouse")
    connect = hook.get_conn
    if login_timeout is not None:
        seconds = max(1, round(login_timeout))

        def connect() -> Any:
            from snowflake.connector import connect as snowflake_connect

            # The hook's parameters (every authentication method it supports) plus the
            # bounds; get_conn takes no connector arguments.
            con = snowflake_connect(
                **{**hook._get_conn_params(), "login_timeout": seconds,
                   "socket_timeout": seconds}
            )
            # Only the login is bounded this tightly: a query answers "in progress" after
            # about 45 s and is then polled, so queries keep the connector's default.
            con._socket_timeout = None
            return con

    return SnowflakeWarehouse(
        connect,
        database=extra.get("database") or None,
        schema="THEIA",
        warehouse_name=configured,
        temporary_warehouse=temporary and not configured,
    )


# (connection, warehouse_name, temporary, login_timeout) -> the engine's adapter
Builder = Callable[[Any, str | None, bool, float | None], Warehouse]

# Connection type of ``theia_warehouse`` -> (engine, adapter builder). ``duckdb`` is the type
# apache-airflow-providers-duckdb registers, ``snowflake`` the Snowflake provider's.
ENGINES: dict[str, tuple[str, Builder]] = {
    "duckdb": ("duckdb", _duckdb),
    "snowflake": ("snowflake", _snowflake),
}


def _engine_entry(conn: Any | None) -> tuple[str, Builder]:
    conn_type = (conn.conn_type or "") if conn is not None else ""
    try:
        return ENGINES[conn_type or "duckdb"]
    except KeyError:
        raise ConfigurationError(
            f"connection {WAREHOUSE_CONN_ID!r} has conn_type {conn_type!r}; "
            f"use one of {', '.join(ENGINES)}"
        ) from None


def engine() -> str:
    return _engine_entry(get_connection(WAREHOUSE_CONN_ID))[0]


def _duckdb_file(conn: Any | None) -> Path:
    if conn is not None and conn.conn_type == "duckdb" and (conn.host or "").strip():
        return Path(conn.host.strip())
    return settings().duckdb_path


def duckdb_path() -> Path:
    """The embedded database file: the ``duckdb`` connection's host, else THEIA_DUCKDB_PATH."""
    return _duckdb_file(get_connection(WAREHOUSE_CONN_ID))


def warehouse(
    *,
    warehouse_name: str | None = None,
    temporary: bool = True,
    login_timeout: float | None = None,
) -> Warehouse:
    """The warehouse behind ``theia_warehouse``.

    On Snowflake, ``warehouse_name`` selects the virtual warehouse; without it (and without
    one in the connection) a temporary X-Small warehouse lives for each session.
    ``login_timeout`` bounds connecting and logging in (seconds; the connector's default
    retries for minutes), for callers that answer a person waiting.
    """
    conn = get_connection(WAREHOUSE_CONN_ID)
    return _engine_entry(conn)[1](conn, warehouse_name, temporary, login_timeout)


def aws_client(service: str, *, region_name: str | None = None) -> Any:
    """A boto3 client for ``service`` with the ``theia_aws`` connection's credentials."""
    conn = get_connection(AWS_CONN_ID)
    if conn is None:
        import boto3

        return boto3.client(service, region_name=region_name)
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id=AWS_CONN_ID, client_type=service, region_name=region_name)
    return hook.get_conn()


def object_store(location: str, *, create: bool = False) -> ObjectStore:
    return open_store(location, lambda: aws_client("s3"), create=create)
