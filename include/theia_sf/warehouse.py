"""The warehouse port: what the services need from a SQL engine.

Two adapters implement it: :mod:`theia_sf.adapters.duckdb` (embedded default) and
:mod:`theia_sf.adapters.snowflake`. Both run the same files from :class:`SqlLibrary`.
Result column names are lower-cased, since Snowflake upper-cases unquoted identifiers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from theia_sf.sql import Query

log = logging.getLogger(__name__)


class Session(Protocol):
    """One open connection, in UTC."""

    engine: str

    def execute(self, query: Query) -> None: ...

    def fetch(self, query: Query) -> list[dict[str, Any]]: ...

    def fetch_rows(self, query: Query) -> tuple[list[str], list[tuple[Any, ...]]]: ...

    def fetch_batches(
        self, query: Query, size: int
    ) -> tuple[list[str], Iterator[list[tuple[Any, ...]]]]:
        """Column names, and the rows in lists of at most ``size``: a large result is read
        as it is consumed instead of all at once. Consume it before the next statement."""
        ...

    def insert_rows(self, query: Query, rows: Iterable[Mapping[str, Any]]) -> int:
        """Run ``query``, one ``INSERT ... VALUES (...)`` row whose binds all sit in that row,
        for every mapping in ``rows`` (each row's binds, over ``query.binds``), in as few
        statements as the engine takes; returns the number of rows."""
        ...

    def transaction(self) -> AbstractContextManager[None]: ...


class Warehouse(Protocol):
    """A factory of sessions. Sessions are short-lived: open, work, close."""

    engine: str

    def session(
        self, *, read_only: bool = False, bulk_text: bool = False, streaming: bool = False
    ) -> AbstractContextManager[Session]:
        """``bulk_text``: the session stores large text values (policy documents); an engine
        may pick a storage setting that suits them. ``streaming``: the caller reads a large
        result batch by batch while it builds its own structures in this process; an
        embedded engine may keep its working memory small (spilling to disk) so both fit."""
        ...


def rows_as_dicts(columns: list[str], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


def iter_statements(query: Query) -> Iterator[str]:
    """Split a multi-statement file into statements with the SQL parser (never ``split(';')``)."""
    for tree in query.statements():
        yield tree.sql("snowflake")


def row_binds(query: Query, row: Mapping[str, Any], names: Iterable[str]) -> list[Any]:
    """The values of ``names`` for one row of :meth:`Session.insert_rows`, in order."""
    out = []
    for name in names:
        if name in row:
            out.append(row[name])
        elif name in query.binds:
            out.append(query.binds[name])
        else:
            raise KeyError(f"{query.name}: no value for :{name}")
    return out


class InFlight:
    """The statements this process is running, each with the call that cancels it, so that
    whatever ends a task (its timeout, a kill) can stop them instead of leaving them running
    in the engine (see ``theia_sf.airflow.cancel``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancels: dict[int, tuple[str, Callable[[], None]]] = {}
        self._next = 0

    @contextmanager
    def statement(self, label: str, cancel: Callable[[], None]) -> Iterator[None]:
        with self._lock:
            self._next += 1
            token = self._next
            self._cancels[token] = (label, cancel)
        try:
            yield
        finally:
            with self._lock:
                del self._cancels[token]

    def cancel_all(self) -> int:
        """Cancel every running statement (from any thread); returns how many were asked."""
        with self._lock:
            running = list(self._cancels.values())
        for label, cancel in running:
            log.warning("cancelling the running statement %s", label)
            try:
                cancel()
            except Exception:  # one failed cancel must not keep the others running
                log.exception("could not cancel %s", label)
        return len(running)


IN_FLIGHT = InFlight()
