"""Test helper: one bound INSERT INTO FLOWS per row (a dict of FLOWS column -> value)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from theia_sf.sql import Query


def flow_insert(row: Mapping[str, Any]) -> Query:
    """The statement that inserts ``row``; every value is bound, column names come from tests."""
    columns = sorted(row)
    text = (
        "INSERT INTO FLOWS ("
        + ", ".join(columns)
        + ") VALUES ("
        + ", ".join(f":v{i}" for i in range(len(columns)))
        + ")"
    )
    return Query("test/insert_flow.sql", text, {f"v{i}": row[c] for i, c in enumerate(columns)})


def insert_flows_in_one_transaction(warehouse: Any, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert flow rows (dicts of FLOWS column -> value) with one statement each, one commit."""
    with warehouse.session() as session, session.transaction():
        for row in rows:
            session.execute(flow_insert(row))


def migrated_duckdb_file(path: Path, sql: Any) -> Any:
    """A DuckDBWarehouse on a new file at ``path`` with every migration applied (module-scoped
    fixtures build one and let tests copy it)."""
    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.migrations import migrate

    warehouse = DuckDBWarehouse(path, lock_timeout=60)
    with warehouse.session() as session:
        migrate(session, sql)
    return warehouse
