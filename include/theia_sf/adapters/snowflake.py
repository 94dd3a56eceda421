"""Snowflake warehouse: the same SQL files, sent through a DB-API connection.

The Airflow glue builds the connection with the Snowflake provider's ``SnowflakeHook`` (so
every authentication method the provider supports works); tests hand in a connection from
``fakesnow``. ``:name`` placeholders are rewritten on the AST to the connector's default
``%(name)s`` paramstyle, and literal ``%`` signs are escaped.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp

from theia_sf.errors import WarehouseUnavailableError
from theia_sf.sql import Query, ident
from theia_sf.warehouse import IN_FLIGHT, column_length, row_binds, rows_as_dicts

INSERT_ROWS_BATCH = 50  # rows per executemany of SnowflakeSession.insert_rows

log = logging.getLogger(__name__)


def _rewrite_for_connector(node: exp.Expression) -> exp.Expression:
    if node.comments and any("%" in c for c in node.comments):  # kept in the text sent
        node.comments = [c.replace("%", "%%") for c in node.comments]
    if isinstance(node, exp.Placeholder) and node.name:
        return exp.var(f"%({node.name})s")
    if isinstance(node, exp.Literal) and node.is_string and "%" in node.this:
        return exp.Literal.string(node.this.replace("%", "%%"))
    return node


@lru_cache(maxsize=512)
def to_pyformat(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """Split ``text`` into statements in the connector's pyformat, with their bind names."""
    out = []
    for tree in sqlglot.parse(text, read="snowflake"):
        if tree is None:
            continue
        names = frozenset(p.name for p in tree.find_all(exp.Placeholder) if p.name)
        out.append((tree.transform(_rewrite_for_connector).sql("snowflake"), names))
    return tuple(out)


FIXED = 0  # the connector's type code of NUMBER columns


def number_columns(
    description: Sequence[Any], rows: Sequence[Sequence[Any]]
) -> list[tuple[int, type]]:
    """The NUMBER columns of ``rows`` whose values arrive as ``Decimal`` (the connector's
    choice for a scale above 0; an emulator's also for NUMBER(p, 0)), with the type they leave
    as: ``int`` for scale 0, else ``float``: what the DuckDB engine returns and JSON carries."""
    out = []
    for i, d in enumerate(description):
        if len(d) > 1 and d[1] == FIXED:  # a short description (a test double's) has no types
            value = next((r[i] for r in rows if r[i] is not None), None)
            if isinstance(value, Decimal):
                scale = d[5] if len(d) > 5 else None
                out.append((i, int if not scale else float))
    return out


def plain_numbers(
    rows: Iterable[Sequence[Any]], columns: Sequence[tuple[int, type]]
) -> list[tuple[Any, ...]]:
    if not columns:
        return [tuple(r) for r in rows]
    out = []
    for row in rows:
        values = list(row)
        for i, kind in columns:
            if values[i] is not None:
                values[i] = kind(values[i])
        out.append(tuple(values))
    return out


def temporary_warehouse_name() -> str:
    """A fresh name for a per-run warehouse (theia-sf used three random words)."""
    return "THEIA_TMP_" + secrets.token_hex(6).upper()


class SnowflakeSession:
    engine = "snowflake"

    def __init__(self, con: Any) -> None:
        self.con = con
        self._in_tx = False

    def cancel_running(self) -> None:
        """Cancel, server-side, whatever this session runs (callable from another thread:
        the connector's connections may be shared between threads)."""
        session_id = getattr(self.con, "session_id", None)
        if session_id is None:
            log.warning("the Snowflake connection has no session id; nothing to cancel")
            return
        cursor = self.con.cursor()
        try:
            cursor.execute("SELECT SYSTEM$CANCEL_ALL_QUERIES(%(session_id)s)",
                           {"session_id": session_id})  # fmt: skip
        finally:
            cursor.close()

    def _run(self, query: Query) -> Any:
        if query.native_duckdb:
            raise ValueError(f"{query.name} is a DuckDB-only statement")
        cursor = self.con.cursor()
        with IN_FLIGHT.statement(query.name, self.cancel_running, self.con):
            for text, names in to_pyformat(query.text):
                params = {k: v for k, v in query.binds.items() if k in names}
                if params:
                    cursor.execute(text, params)
                else:
                    # No binds: the text must not be %-formatted by the connector.
                    cursor.execute(text.replace("%%", "%"))
        return cursor

    def execute(self, query: Query) -> None:
        self._run(query).close()

    def fetch_rows(self, query: Query) -> tuple[list[str], list[tuple[Any, ...]]]:
        cursor = self._run(query)
        try:
            description = cursor.description or []
            rows = cursor.fetchall()
            numbers = number_columns(description, rows)
            return [d[0].lower() for d in description], plain_numbers(rows, numbers)
        finally:
            cursor.close()

    def fetch_batches(
        self, query: Query, size: int
    ) -> tuple[list[str], Iterator[list[tuple[Any, ...]]]]:
        cursor = self._run(query)
        try:
            description = cursor.description or []
        except BaseException:
            cursor.close()
            raise

        def batches() -> Iterator[list[tuple[Any, ...]]]:
            try:
                while rows := cursor.fetchmany(size):
                    yield plain_numbers(rows, number_columns(description, rows))
            finally:
                cursor.close()

        return [d[0].lower() for d in description], batches()

    def fetch(self, query: Query) -> list[dict[str, Any]]:
        return rows_as_dicts(*self.fetch_rows(query))

    def insert_rows(self, query: Query, rows: Iterable[Mapping[str, Any]]) -> int:
        # The connector turns executemany of an INSERT into one multi-row INSERT per call.
        if query.native_duckdb:
            raise ValueError(f"{query.name} is a DuckDB-only statement")
        statements = to_pyformat(query.text)
        if len(statements) != 1:
            raise ValueError(f"{query.name}: insert_rows takes one statement")
        text, names = statements[0]
        ordered = sorted(names)
        remaining = iter(rows)
        count = 0
        cursor = self.con.cursor()
        try:
            while batch := list(itertools.islice(remaining, INSERT_ROWS_BATCH)):
                with IN_FLIGHT.statement(query.name, self.cancel_running, self.con):
                    cursor.executemany(
                        text,
                        [dict(zip(ordered, row_binds(query, row, ordered), strict=True))
                         for row in batch],
                    )
                count += len(batch)
        finally:
            cursor.close()
        return count

    def insert_columns(self, query: Query, columns: Mapping[str, Sequence[Any]]) -> int:
        # Rows for the connector's multi-row INSERT (insert_rows), made batch by batch.
        column_length(query, columns)
        names = list(columns)
        return self.insert_rows(
            query,
            (dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)),
        )

    def _plain(self, text: str) -> None:
        cursor = self.con.cursor()
        try:
            cursor.execute(text)
        finally:
            cursor.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_tx:
            yield
            return
        self._plain("BEGIN")
        self._in_tx = True
        try:
            yield
        except BaseException:
            self._plain("ROLLBACK")
            raise
        else:
            self._plain("COMMIT")
        finally:
            self._in_tx = False


class SnowflakeWarehouse:
    """Snowflake through a connection factory (normally ``SnowflakeHook.get_conn``).

    ``warehouse_name`` selects a virtual warehouse; when ``temporary_warehouse`` is true an
    X-Small warehouse is created for the session and dropped when it ends, even on failure.
    """

    engine = "snowflake"

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        database: str | None = None,
        schema: str | None = "THEIA",
        warehouse_name: str | None = None,
        temporary_warehouse: bool = False,
    ) -> None:
        self._connect = connect
        self.database = ident(database) if database else None
        self.schema = ident(schema) if schema else None
        self.warehouse_name = ident(warehouse_name) if warehouse_name else None
        self.temporary_warehouse = temporary_warehouse

    @contextmanager
    def session(
        self, *, read_only: bool = False, bulk_text: bool = False, streaming: bool = False
    ) -> Iterator[SnowflakeSession]:
        try:
            con = self._connect()
        except Exception as error:  # the connector raises its own errors, and OSError
            raise WarehouseUnavailableError(
                f"cannot connect to Snowflake: {error}; check the theia_warehouse connection "
                "(account, host, credentials) and the network"
            ) from error
        session = SnowflakeSession(con)
        temp: str | None = None
        try:
            # Snowflake's default session time zone is America/Los_Angeles; ours is UTC.
            session._plain("ALTER SESSION SET TIMEZONE = 'UTC'")
            if self.database:
                session._plain("USE DATABASE " + self.database)
            if self.schema and self.database:
                session._plain("USE SCHEMA " + self.schema)
            if self.temporary_warehouse and not self.warehouse_name:
                temp = temporary_warehouse_name()
                log.info("creating temporary warehouse %s (X-Small, auto-suspend 60 s)", temp)
                session._plain(
                    "CREATE WAREHOUSE IF NOT EXISTS " + temp + " WITH WAREHOUSE_SIZE = XSMALL"
                    " AUTO_SUSPEND = 60 INITIALLY_SUSPENDED = TRUE"
                )
                session._plain("USE WAREHOUSE " + temp)
            elif self.warehouse_name:
                session._plain("USE WAREHOUSE " + self.warehouse_name)
            yield session
        finally:
            try:
                if temp:
                    log.info("dropping temporary warehouse %s", temp)
                    session._plain("DROP WAREHOUSE IF EXISTS " + temp)
            finally:
                IN_FLIGHT.release(con)
                con.close()
