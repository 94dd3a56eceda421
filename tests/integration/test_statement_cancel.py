"""A warehouse statement still running when its task is ended is cancelled in the engine.

Airflow ends a task past its execution_timeout with SIGALRM (``airflow.sdk.execution_time.
timeout``, used here as the task runner uses it) and a task marked failed with SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

import pytest

from theia_sf.adapters.duckdb import DuckDBWarehouse
from theia_sf.adapters.snowflake import SnowflakeWarehouse
from theia_sf.errors import StatementCancelled
from theia_sf.sql import Query
from theia_sf.warehouse import IN_FLIGHT

pytest.importorskip("airflow")

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120, method="thread")]

# Minutes of work for DuckDB on these machines: only a cancel ends it within the test timeout.
SLOW = Query("slow", "SELECT COUNT(*) AS n FROM range(1000000000000) t(i) WHERE i % 7 = 3", {},
              native_duckdb=True)  # fmt: skip
SLOW_SNOWFLAKE = Query(
    "slow", "SELECT COUNT(*) AS n FROM TABLE(GENERATOR(ROWCOUNT => 1000000000000))", {}
)


@pytest.fixture(scope="module", autouse=True)
def watcher():
    from theia_sf.airflow.cancel import cancel_statements_when_ended

    assert cancel_statements_when_ended()


def _chain(error):
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


def _interrupted_in_duckdb(error):
    import duckdb

    return any(isinstance(e, duckdb.InterruptException) or "interrupted" in str(e)
               for e in _chain(error) if isinstance(e, Exception))  # fmt: skip


def test_duckdb_statement_outliving_the_task_timeout_is_interrupted(tmp_path):
    from airflow.sdk.exceptions import AirflowTaskTimeout
    from airflow.sdk.execution_time.timeout import timeout

    warehouse = DuckDBWarehouse(tmp_path / "theia.duckdb")
    with warehouse.session() as session:
        # Whichever comes first, the watcher's interrupt or DuckDB's own signal check, the
        # statement (minutes of work) stops in the engine and the task fails with the timeout
        # or with our message naming the statement.
        with pytest.raises((AirflowTaskTimeout, StatementCancelled)) as raised, timeout(2):
            session.fetch(SLOW)
        assert _interrupted_in_duckdb(raised.value)
        if isinstance(raised.value, StatementCancelled):
            assert "slow was interrupted" in str(raised.value)
        assert session.fetch(Query("one", "SELECT 1 AS one", {})) == [{"one": 1}]
    assert IN_FLIGHT.cancel_all() == 0


@contextlib.contextmanager
def sigterm_after(seconds):
    """SIGTERM to this process after ``seconds``, handled as Airflow's task runner does (it
    calls the operator's on_kill and returns)."""
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        signal.signal(signal.SIGTERM, previous)


def test_duckdb_statement_of_a_task_marked_failed_is_interrupted(tmp_path):
    with DuckDBWarehouse(tmp_path / "theia.duckdb").session() as session, \
            sigterm_after(1.5), \
            pytest.raises(StatementCancelled, match="slow was interrupted"):  # fmt: skip
        session.fetch(SLOW)


class CancelError(Exception):
    """What the connector raises for a statement cancelled server-side (error 000604)."""


class SnowflakeDouble:
    """A connection whose long statement runs until the server is asked to cancel the
    session's queries, as Snowflake does; records every statement."""

    session_id = 4242

    def __init__(self):
        self.executed = []
        self.cancelled = threading.Event()

    def cursor(self):
        return _Cursor(self)

    def close(self):
        pass


class _Cursor:
    description = (("N",),)

    def __init__(self, con):
        self.con = con

    def execute(self, text, params=None):
        self.con.executed.append((text, params))
        if text.startswith("SELECT SYSTEM$CANCEL_ALL_QUERIES"):
            assert params == {"session_id": self.con.session_id}
            self.con.cancelled.set()
        elif "GENERATOR" in text.upper():
            # A real connector polls the server in Python code, where signals are handled.
            while not self.con.cancelled.wait(0.05):
                pass
            raise CancelError("000604 (57014): SQL execution canceled")
        return self

    def fetchall(self):
        return [(1,)]

    def close(self):
        pass


def test_snowflake_statement_outliving_the_task_timeout_is_cancelled_server_side():
    from airflow.sdk.exceptions import AirflowTaskTimeout
    from airflow.sdk.execution_time.timeout import timeout

    con = SnowflakeDouble()
    warehouse = SnowflakeWarehouse(lambda: con, database=None, schema=None)
    with warehouse.session() as session, pytest.raises(AirflowTaskTimeout), timeout(1):
        session.fetch(SLOW_SNOWFLAKE)
    cancels = [p for t, p in con.executed if t.startswith("SELECT SYSTEM$CANCEL_ALL_QUERIES")]
    assert cancels and all(p == {"session_id": 4242} for p in cancels)
    assert con.cancelled.is_set()


def test_snowflake_statement_of_a_task_marked_failed_is_cancelled_server_side():
    con = SnowflakeDouble()
    with SnowflakeWarehouse(lambda: con).session() as session, sigterm_after(1.0), \
            pytest.raises(CancelError, match="canceled"):  # fmt: skip
        session.fetch(SLOW_SNOWFLAKE)
    assert any(t.startswith("SELECT SYSTEM$CANCEL_ALL_QUERIES") for t, _ in con.executed)


def test_engine_errors_do_not_cancel(tmp_path):
    import duckdb

    with DuckDBWarehouse(tmp_path / "theia.duckdb").session() as session, \
            pytest.raises(duckdb.Error):  # fmt: skip
        session.fetch(Query("bad", "SELECT * FROM NO_SUCH_TABLE", {}))
    con = SnowflakeDouble()
    with SnowflakeWarehouse(lambda: con).session() as session:
        session.fetch(Query("one", "SELECT 1 AS n", {}))
    assert not any(t.startswith("SELECT SYSTEM$CANCEL") for t, _ in con.executed)


def test_duckdb_streamed_result_being_read_when_the_task_is_ended_is_interrupted(tmp_path):
    # Batches of a streamed result are computed as they are read: the first comes at once.
    query = Query("slow_stream", "SELECT i FROM range(1000000000000) t(i) WHERE i % 1000003 = 0",
                  {}, native_duckdb=True)  # fmt: skip
    with DuckDBWarehouse(tmp_path / "theia.duckdb").session(streaming=True) as session:
        _, batches = session.fetch_batches(query, 10)
        assert len(next(batches)) == 10
        with sigterm_after(1.5), pytest.raises(StatementCancelled, match="slow_stream"):
            list(batches)
