"""Test helpers for flows: bound INSERT INTO FLOWS statements (a dict of FLOWS column -> value
per row), migrated DuckDB files, and label texts that probe the reduction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from theia_sf.sql import Query, ident

_H = "pod-template-hash"
# Pod label texts around every edge of the reduction's label rewrite (see
# theia_sf.recommendation.building.label_strip_patterns): ignored pairs first, last, alone,
# repeated and next to each other; values and keys the builder rejects; keys that merely
# contain an ignored key; forms the Flow Aggregator does not write but the builder reads
# (spaces, single quotes, escapes).
TRICKY_LABEL_TEXTS = [
    None, "", "{}", "null", "[1]", '"app"', "{not json", '{"app":"a",}',
    '{"app":"web"}',
    f'{{"{_H}":"h1"}}',
    f'{{"{_H}":"h1","app":"web"}}',
    f'{{"app":"web","{_H}":"h2"}}',
    f'{{"app":"web","{_H}":"h3","tier":"db"}}',
    f'{{"{_H}":"h1","controller-revision-hash":"r1"}}',
    f'{{"app":"web","{_H}":"h1","controller-revision-hash":"r1"}}',
    f'{{"{_H}":"h1","app":"web","{_H}":"h2"}}',
    f'{{"{_H}":"-bad","app":"web","{_H}":"h2"}}',
    f'{{"{_H}":"h1","app":"web","{_H}":"-bad"}}',
    f'{{"app":"web","{_H}":"-bad"}}',
    f'{{"app":"web","{_H}":""}}',
    f'{{"app":"web","{_H}":5}}',
    f'{{"app":"web","{_H}":{{"x":"y"}}}}',
    f'{{"app":"web","{_H}":"{"x" * 64}"}}',
    f'{{"app":"web","x{_H}":"h1"}}',
    f'{{"app":"web","{_H}x":"h1"}}',
    f'{{"-app":"web","{_H}":"h1"}}',
    f'{{"app":"web","app":"db","{_H}":"h1"}}',
    f'{{"app.kubernetes.io/name":"web","{_H}":"h1"}}',
    f'{{"app": "web", "{_H}": "h1"}}',
    f"{{'app':'web','{_H}':'h1'}}",
    f'\'{{"app":"web","{_H}":"h1"}}\'',
    f'{{"app":"w\\u0065b","{_H}":"h1"}}',
    f'{{"app":"web","{_H}":"h\\"1"}}',
    f' {{"app":"web","{_H}":"h1"}}',
]  # fmt: skip


def row_insert(table: str, row: Mapping[str, Any], name: str = "test/insert_row.sql") -> Query:
    """The statement that inserts ``row`` into ``table``; every value is bound, table and
    column names come from tests (through ``ident``)."""
    columns = sorted(row)
    text = "INSERT INTO {} ({}) VALUES ({})".format(
        ident(table),
        ", ".join(ident(c) for c in columns),
        ", ".join(f":v{i}" for i in range(len(columns))),
    )
    return Query(name, text, {f"v{i}": row[c] for i, c in enumerate(columns)})


def flow_insert(row: Mapping[str, Any]) -> Query:
    """The statement that inserts ``row`` into FLOWS."""
    return row_insert("FLOWS", row, "test/insert_flow.sql")


def insert_rows(warehouse: Any, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert rows (dicts of column -> value) into ``table``, one statement each, one commit."""
    with warehouse.session() as session, session.transaction():
        for row in rows:
            session.execute(row_insert(table, row))


def insert_flows_in_one_transaction(warehouse: Any, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert flow rows (dicts of FLOWS column -> value) with one statement each, one commit."""
    insert_rows(warehouse, "FLOWS", rows)


def migrated_duckdb_file(path: Path, sql: Any) -> Any:
    """A DuckDBWarehouse on a new file at ``path`` with every migration applied (module-scoped
    fixtures build one and let tests copy it)."""
    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.migrations import migrate

    warehouse = DuckDBWarehouse(path, lock_timeout=60)
    with warehouse.session() as session:
        migrate(session, sql)
    return warehouse
