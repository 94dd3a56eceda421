"""Shared fixtures: an SQL library and a migrated DuckDB warehouse in a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Tests never talk to a real cloud by accident, and Airflow (where imported) stays local.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
os.environ.setdefault("THEIA_SQL_DIR", str(ROOT / "sql"))
# ARIMA fits tiny models: BLAS threads only compete with each other (and with the other
# tests on a shared machine), making each fit many times slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def sql():
    from theia_sf.sql import SqlLibrary

    return SqlLibrary(ROOT / "sql")


@pytest.fixture
def duckdb_warehouse(tmp_path, sql):
    """A DuckDB file with every migration applied."""
    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.migrations import migrate

    warehouse = DuckDBWarehouse(tmp_path / "theia.duckdb", lock_timeout=60)
    with warehouse.session() as session:
        migrate(session, sql)
    return warehouse


# Statements fakesnow does not implement and that do not change data: the adapter sets the
# session time zone and manages warehouses, which the emulator has no notion of.
FAKESNOW_NOPS = [
    r"^ALTER SESSION SET TIMEZONE",
    r"^(CREATE|DROP|USE) WAREHOUSE",
]


@pytest.fixture
def fakesnow_warehouse(sql):
    """A SnowflakeWarehouse on the fakesnow emulator, migrated, for the Snowflake-dialect path."""
    import fakesnow
    import snowflake.connector

    from theia_sf.adapters.snowflake import SnowflakeWarehouse
    from theia_sf.migrations import migrate

    with fakesnow.patch(nop_regexes=FAKESNOW_NOPS):
        warehouse = SnowflakeWarehouse(
            lambda: snowflake.connector.connect(database="THEIA_TEST", schema="THEIA"),
            database=None,
        )
        with warehouse.session() as session:
            migrate(session, sql)
        yield warehouse
