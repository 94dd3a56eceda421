"""The warehouse port: what the services need from a SQL engine.

Two adapters implement it: :mod:`theia_sf.adapters.duckdb` (embedded default) and
:mod:`theia_sf.adapters.snowflake`. Both run the same files from :class:`SqlLibrary`.
Result column names are lower-cased, since Snowflake upper-cases unquoted identifiers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
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

    def insert_columns(self, query: Query, columns: Mapping[str, Sequence[Any]]) -> int:
        """:meth:`insert_rows` with the rows' binds given as columns (``columns[name][i]``:
        row ``i``'s value of ``:name``; sequences of equal length), so a large insert makes no
        object per row; returns the number of rows."""
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


def column_length(query: Query, columns: Mapping[str, Sequence[Any]]) -> int:
    """The common length of the columns of :meth:`Session.insert_columns`."""
    lengths = {len(column) for column in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"{query.name}: columns of different lengths {sorted(lengths)}")
    return lengths.pop() if lengths else 0


class InFlight:
    """The statements this process is running, each with the call that cancels it, so that
    whatever ends a task (its timeout, a kill) can stop them instead of leaving them running
    in the engine (see ``theia_sf.airflow.cancel``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancels: dict[int, tuple[str, Callable[[], None], object]] = {}
        self._next = 0

    def statement(self, label: str, cancel: Callable[[], None], owner: object) -> _Running:
        """Context of one statement of ``owner`` (its connection)."""
        return _Running(self, label, cancel, owner)

    def release(self, owner: object) -> None:
        """Forget every statement of ``owner`` (when its connection closes: a signal handler
        raising at the wrong moment can skip a statement's own exit)."""
        with self._lock:
            for token in [t for t, entry in self._cancels.items() if entry[2] is owner]:
                del self._cancels[token]

    def _add(self, label: str, cancel: Callable[[], None], owner: object) -> int:
        with self._lock:
            self._next += 1
            self._cancels[self._next] = (label, cancel, owner)
            return self._next

    def _remove(self, token: int) -> None:
        with self._lock:
            self._cancels.pop(token, None)

    @staticmethod
    def _cancel(label: str, cancel: Callable[[], None]) -> None:
        log.warning("cancelling the running statement %s", label)
        try:
            cancel()
        except Exception:  # a failed cancel must not hide why the task is ending
            log.exception("could not cancel %s", label)

    def cancel_all(self) -> int:
        """Cancel every running statement (from any thread); returns how many were asked."""
        with self._lock:
            running = list(self._cancels.values())
        for label, cancel, _owner in running:
            self._cancel(label, cancel)
        return len(running)


class _Running:
    """One statement in :class:`InFlight` (a plain class, not a generator: a signal handler
    may raise in ``__exit__``, and the entry must be gone first)."""

    def __init__(
        self, registry: InFlight, label: str, cancel: Callable[[], None], owner: object
    ) -> None:
        self.registry, self.label, self.cancel, self.owner = registry, label, cancel, owner
        self.token = 0

    def __enter__(self) -> None:
        self.token = self.registry._add(self.label, self.cancel, self.owner)

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        self.registry._remove(self.token)
        # Not an engine error: a timeout, an interrupt or an exit left the statement running
        # in the engine (e.g. Snowflake still executing it); stop it there.
        if error is not None and not isinstance(error, (Exception, GeneratorExit)):
            self.registry._cancel(self.label, self.cancel)


IN_FLIGHT = InFlight()
