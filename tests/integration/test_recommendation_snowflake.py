"""The service on the Snowflake adapter (fakesnow): a temporary X-Small warehouse per session,
dropped even when the run fails."""

from __future__ import annotations

import datetime as dt

import pytest

from theia_sf.recommendation.model import Options
from theia_sf.recommendation.parameters import RecommendationRequest
from theia_sf.recommendation.runs import load_run
from theia_sf.services.recommendation import run_policy_recommendation
from theia_sf.timewindow import Window

pytestmark = pytest.mark.integration

WINDOW = Window(dt.datetime(2024, 5, 1, tzinfo=dt.UTC), dt.datetime(2024, 5, 2, tzinfo=dt.UTC))
NOPS = [r"^ALTER SESSION SET TIMEZONE", r"^(CREATE|DROP|USE) WAREHOUSE"]


class _Cursor:
    def __init__(self, cursor, log):
        self._cursor = cursor
        self._log = log

    def execute(self, text, *args, **kwargs):
        self._log.append(text)
        return self._cursor.execute(text, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._cursor, name)


class _Connection:
    def __init__(self, con, log):
        self._con = con
        self._log = log

    def cursor(self, *args, **kwargs):
        return _Cursor(self._con.cursor(*args, **kwargs), self._log)

    def __getattr__(self, name):
        return getattr(self._con, name)


@pytest.fixture
def recorded(sql):
    fakesnow = pytest.importorskip("fakesnow")
    import snowflake.connector

    from theia_sf.adapters.snowflake import SnowflakeWarehouse
    from theia_sf.migrations import migrate

    log: list[str] = []
    with fakesnow.patch(nop_regexes=NOPS):

        def connect():
            con = snowflake.connector.connect(database="THEIA_REC", schema="THEIA")
            return _Connection(con, log)

        setup = SnowflakeWarehouse(connect, database=None)
        with setup.session() as session:
            migrate(session, sql)
        log.clear()
        yield SnowflakeWarehouse(connect, database=None, temporary_warehouse=True), log


def _warehouse_statements(log):
    return [s.split()[0] + " " + s.split()[1] for s in log if "WAREHOUSE" in s.upper()]


def test_temporary_warehouse_is_created_and_dropped(recorded, sql):
    warehouse, log = recorded
    summary = run_policy_recommendation(
        warehouse, sql, RecommendationRequest(window=WINDOW, options=Options.create())
    )
    assert summary.status == "succeeded"
    created = [s for s in log if s.startswith("CREATE WAREHOUSE")]
    assert created
    assert "WAREHOUSE_SIZE = XSMALL" in created[0]
    assert "AUTO_SUSPEND = 60" in created[0]
    name = created[0].split()[5]
    assert f"DROP WAREHOUSE IF EXISTS {name}" in log
    assert log.index(f"DROP WAREHOUSE IF EXISTS {name}") > log.index(created[0])


def test_temporary_warehouse_is_dropped_when_the_run_fails(recorded, sql, monkeypatch):
    import theia_sf.services.recommendation as service

    warehouse, log = recorded

    def boom(*args, **kwargs):
        raise RuntimeError("warehouse query failed")

    monkeypatch.setattr(service, "shard_rows", boom)
    with pytest.raises(RuntimeError, match="warehouse query failed"):
        run_policy_recommendation(warehouse, sql, RecommendationRequest(window=WINDOW, options=Options.create()), run_id="22222222-2222-2222-2222-222222222222")  # fmt: skip
    statements = _warehouse_statements(log)
    assert statements[0] == "CREATE WAREHOUSE"
    assert statements[-1] == "DROP WAREHOUSE"
    with warehouse.session() as session:
        run = load_run(session, sql, "22222222-2222-2222-2222-222222222222")
    assert run["status"] == "failed"
    assert "warehouse query failed" in run["error"]


def test_numbers_leave_the_adapter_as_int_and_float(fakesnow_warehouse):
    """NUMBER(p, 0) is an int and NUMBER(p, s) a float, as on DuckDB (a Decimal is not JSON),
    also in a column whose first values are NULL and through fetch_batches."""
    import json

    from theia_sf.sql import Query

    with fakesnow_warehouse.session() as session:
        session.execute(Query("t", "CREATE TABLE N (a NUMBER(38,0), b NUMBER(10,2), c STRING)"))
        session.execute(Query("t", "INSERT INTO N VALUES (7, NULL, 'x'), (8, 2.50, 'y')"))
        rows = session.fetch(Query("t", "SELECT a, b, c FROM N ORDER BY a"))
        _, batches = session.fetch_batches(Query("t", "SELECT a, b FROM N ORDER BY a"), 1)
        batched = [row for batch in batches for row in batch]
    assert rows == [{"a": 7, "b": None, "c": "x"}, {"a": 8, "b": 2.5, "c": "y"}]
    assert [type(r["a"]) for r in rows] == [int, int] and type(rows[1]["b"]) is float
    assert batched == [(7, None), (8, 2.5)] and type(batched[0][0]) is int
    assert json.loads(json.dumps(rows)) == rows
