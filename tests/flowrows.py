"""Test helper: one bound INSERT INTO FLOWS per row (a dict of FLOWS column -> value)."""

from __future__ import annotations

from collections.abc import Mapping
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
