"""Fixtures for integration tests: rows inserted into FLOWS with bound values."""

from __future__ import annotations

import datetime as dt

import pytest

# Defaults for a flow record: an unprotected TCP flow, inside the window the tests use.
FLOW_DEFAULTS = {
    "flowStartSeconds": dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC),
    "flowEndSeconds": dt.datetime(2024, 5, 1, 10, 1, tzinfo=dt.UTC),
    "protocolIdentifier": 6,
    "flowType": 1,
    "octetDeltaCount": 100,
    "reverseOctetDeltaCount": 50,
}


def insert_flow_rows(warehouse, rows):
    """Insert ``rows`` (dicts of FLOWS column -> value, merged over FLOW_DEFAULTS)."""
    from theia_sf.sql import Query

    with warehouse.session() as session:
        for row in rows:
            values = {**FLOW_DEFAULTS, **row}
            columns = sorted(values)
            text = (
                "INSERT INTO FLOWS ("
                + ", ".join(columns)
                + ") VALUES ("
                + ", ".join(f":v{i}" for i in range(len(columns)))
                + ")"
            )
            binds = {f"v{i}": values[c] for i, c in enumerate(columns)}
            session.execute(Query("test/insert_flow.sql", text, binds))


@pytest.fixture
def insert_flows():
    return insert_flow_rows
