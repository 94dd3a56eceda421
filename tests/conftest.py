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
