"""Build adapters from Airflow connections at task run time (never at parse time).

Connections:
* ``theia_warehouse``: conn_type ``snowflake`` (the provider's ``SnowflakeHook``, every
  authentication method it supports) or ``duckdb`` (``host`` = path of the database file).
  Missing: the embedded DuckDB file under the data directory.
* ``theia_aws``: conn_type ``aws`` (the Amazon provider's hooks; an ``endpoint_url`` extra
  points at an S3-compatible store). Missing: boto3's default credential chain.
"""

from __future__ import annotations

import logging
from functools import cache
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


def engine() -> str:
    conn = get_connection(WAREHOUSE_CONN_ID)
    if conn is None or conn.conn_type in ("duckdb", None, ""):
        return "duckdb"
    if conn.conn_type == "snowflake":
        return "snowflake"
    raise ConfigurationError(
        f"connection {WAREHOUSE_CONN_ID!r} has conn_type {conn.conn_type!r}; "
        "use 'snowflake' or 'duckdb'"
    )


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
    cfg = settings()
    if conn is None or conn.conn_type in ("duckdb", None, ""):
        from theia_sf.adapters.duckdb import DuckDBWarehouse

        path = (conn.host if conn is not None and conn.host else None) or cfg.duckdb_path
        return DuckDBWarehouse(path, memory_limit=cfg.duckdb_memory_limit)
    if conn.conn_type == "snowflake":
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
    raise ConfigurationError(
        f"connection {WAREHOUSE_CONN_ID!r} has conn_type {conn.conn_type!r}; "
        "use 'snowflake' or 'duckdb'"
    )


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
