"""Fixtures for integration tests: rows inserted into FLOWS with bound values."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flowrows import flow_insert
from webhooks import WebhookServer

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
    with warehouse.session() as session:
        for row in rows:
            session.execute(flow_insert({**FLOW_DEFAULTS, **row}))


@pytest.fixture
def insert_flows():
    return insert_flow_rows


# --- drop-detection alerts: a real HTTP server on 127.0.0.1 that alert sinks post to ---------


@pytest.fixture
def webhook_server():
    server = WebhookServer()
    yield server
    server.close()


@pytest.fixture
def unused_port():
    """A local port with nothing listening on it (connections are refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def webhook(monkeypatch):
    """The sink an ``http`` alert connection gives (the http provider's HttpHook)."""
    pytest.importorskip("airflow")
    from theia_sf.airflow.alerting import build_sink

    def make(sink_id, url, **extra):
        monkeypatch.setenv(
            "AIRFLOW_CONN_" + sink_id.upper(),
            json.dumps({"conn_type": "http", "host": url, "extra": extra}),
        )
        return build_sink(sink_id)

    return make
