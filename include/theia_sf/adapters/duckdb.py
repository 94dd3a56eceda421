"""The embedded engine: one DuckDB file, Snowflake-dialect SQL transpiled with sqlglot.

DuckDB allows one read-write process per file. Sessions are short, and opening one retries
with backoff while another process holds the lock, so concurrent DAG runs queue instead of
failing (the Airflow pool ``theia_warehouse`` keeps the queue short).
"""

from __future__ import annotations

import itertools
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from theia_sf.errors import StatementCancelled, WarehouseBusyError
from theia_sf.sql import Query
from theia_sf.warehouse import IN_FLIGHT, column_length, row_binds, rows_as_dicts

log = logging.getLogger(__name__)

# --- fix-ups: one named function per gap between sqlglot's output and what DuckDB runs ---


def fix_placeholders(node: exp.Expression) -> exp.Expression:
    """``:name`` binds become ``$name``, which DuckDB binds from a dict."""
    if isinstance(node, exp.Placeholder) and node.name:
        return exp.Parameter(this=exp.var(node.name))
    return node


def fix_timestamp_tz_default(node: exp.Expression) -> exp.Expression:
    """``DEFAULT CURRENT_TIMESTAMP()`` is rendered as a call DuckDB accepts."""
    if isinstance(node, exp.CurrentTimestamp):
        return exp.CurrentTimestamp()
    return node


def fix_string_length(node: exp.Expression) -> exp.Expression:
    """``STRING(256)``/``VARCHAR(n)`` lengths mean nothing to DuckDB; drop them."""
    if isinstance(node, exp.DataType) and node.this in (
        exp.DataType.Type.VARCHAR,
        exp.DataType.Type.TEXT,
    ):
        return exp.DataType.build("VARCHAR")
    return node


def fix_number_scale_zero(node: exp.Expression) -> exp.Expression:
    """``NUMBER(p,0)`` becomes ``BIGINT`` (DuckDB DECIMAL caps precision at 38 and is slower)."""
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.DECIMAL:
        params = node.expressions
        if len(params) == 2 and params[1].name == "0":
            return exp.DataType.build("BIGINT")
    return node


FIXUPS: tuple[Callable[[exp.Expression], exp.Expression], ...] = (
    fix_placeholders,
    fix_timestamp_tz_default,
    fix_string_length,
    fix_number_scale_zero,
)


@lru_cache(maxsize=512)
def transpile(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """Snowflake-dialect text to DuckDB statements (with their bind names), fix-ups applied."""
    out = []
    for tree in sqlglot.parse(text, read="snowflake"):
        if tree is None:
            continue
        names = frozenset(p.name for p in tree.find_all(exp.Placeholder) if p.name)
        for fix in FIXUPS:
            tree = tree.transform(fix)
        out.append((tree.sql("duckdb"), names))
    return tuple(out)


@lru_cache(maxsize=64)
def _native(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    out = []
    for tree in sqlglot.parse(text, read="duckdb"):
        if tree is None:
            continue
        names = {p.name for p in tree.find_all(exp.Parameter)}
        names |= {p.name for p in tree.find_all(exp.Placeholder) if p.name}
        out.append((tree.sql("duckdb"), frozenset(names)))
    return tuple(out)


@lru_cache(maxsize=64)
def columns_template(text: str) -> tuple[str, tuple[str, ...]]:
    """A one-row ``INSERT ... VALUES`` in DuckDB's dialect, rewritten to insert many rows at
    once: ``INSERT ... SELECT <the row> FROM (SELECT UNNEST(?) AS _b0, ...)``, with one list
    parameter per bind (a column of values); returns the text and the bind names in order.

    DuckDB binds a few lists much faster than many scalars: 6,000 policies (100 MB of text)
    took 0.8 s this way against 1.9 s as 50-row VALUES statements."""
    trees = [t for t in sqlglot.parse(text, read="snowflake") if t is not None]
    tree = trees[0] if len(trees) == 1 else None
    values = tree.expression if isinstance(tree, exp.Insert) else None
    if not isinstance(values, exp.Values) or len(values.expressions) != 1:
        raise ValueError("insert_rows takes one INSERT ... VALUES statement with one row")
    row = values.expressions[0]
    placeholders = list(row.find_all(exp.Placeholder, bfs=False))
    names = tuple(p.name for p in placeholders)
    if (
        not names
        or "?" in names
        or len(names) != len(list(tree.find_all(exp.Placeholder)))
    ):
        raise ValueError("insert_rows needs named binds, all of them in the VALUES row")
    # Each bind becomes a column of the derived table (one per occurrence, in order).
    occurrence = {id(p): f"_b{i}" for i, p in enumerate(placeholders)}
    row = row.transform(
        lambda node: exp.column(occurrence[id(node)])
        if isinstance(node, exp.Placeholder)
        else node,
        copy=False,
    )
    columns = ", ".join(f"UNNEST(?) AS _b{i}" for i in range(len(names)))
    select = exp.select(*row.expressions).from_(
        sqlglot.parse_one(f"SELECT {columns}", read="duckdb").subquery()
    )
    tree.set("expression", select)
    for fix in FIXUPS:
        if fix is not fix_placeholders:
            tree = tree.transform(fix)
    return tree.sql("duckdb"), names


def duckdb_statements(query: Query) -> tuple[tuple[str, frozenset[str]], ...]:
    return _native(query.text) if query.native_duckdb else transpile(query.text)


_MEMORY = re.compile(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)")
_UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}  # fmt: skip
# Working memory of a session that stores large documents: DuckDB otherwise buffers several
# times the text it is given (about 500 MB for 100 MB of policy YAML and evidence) until the
# checkpoint; with this budget it writes out earlier, at no measurable cost in time (measured
# for 100 MB: 256MB held 110 MB more at the same speed; 64MB made the checkpoint 2 s slower).
# The run's finish also sums the evidence in such a session: at high cardinality 10M (1.03M
# tuples joined to their rule peers) 128MB could not pin the join's blocks, 256MB ran it in
# 2.7 s; this leaves room for twice that run.
BULK_TEXT_MEMORY = "512MB"
# Working memory of a session whose caller streams a large result while building its own
# structures in the same process (the recommendation's GROUP BY): DuckDB then spills part of
# the aggregate to its temporary directory instead of holding all of it until the last row is
# read. Measured on the high-cardinality 10M bench (1.03M groups read batch by batch): 2GB held
# 685-700 MiB at 5.8 s, 300MB 415 MiB at 4.7-5.2 s, 200MB 339 MiB at 7.5 s.
STREAMING_MEMORY = "300MB"
COLUMNS_BATCH = 10_000  # rows per statement of DuckDBSession.insert_rows and insert_columns


def memory_bytes(limit: str) -> float:
    """Bytes of a DuckDB memory limit such as ``2GB`` or ``512 MiB``."""
    match = _MEMORY.fullmatch(limit)
    if not match:
        raise ValueError(f"invalid DuckDB memory limit {limit!r} (expected e.g. '2GB')")
    return float(limit[: match.start(2)].strip()) * _UNITS[match.group(2)]


def _is_lock_conflict(error: Exception) -> bool:
    text = str(error)
    return "Could not set lock" in text or "Conflicting lock" in text


class _Interruptible:
    """Run a statement that ``IN_FLIGHT.cancel_all`` can interrupt. DuckDB also stops on a
    signal whose Python handler raised (Airflow's timeout), and reports either as a bare
    "interrupted": say why instead. A class, not a generator: a signal handler may raise
    while the context exits."""

    def __init__(self, label: str, con: duckdb.DuckDBPyConnection) -> None:
        self.label = label
        self.running = IN_FLIGHT.statement(label, con.interrupt, con)

    def __enter__(self) -> None:
        self.running.__enter__()

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        self.running.__exit__(kind, error, tb)
        interrupted = isinstance(error, duckdb.InterruptException) or (
            isinstance(error, RuntimeError) and "interrupted" in str(error)
        )
        if interrupted:
            raise StatementCancelled(
                f"{self.label} was interrupted in DuckDB: its task was ended (the "
                "execution_timeout passed, or the task was marked failed or stopped)"
            ) from error


class DuckDBSession:
    engine = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._in_tx = False

    def _run(self, query: Query) -> duckdb.DuckDBPyConnection:
        cursor = self.con
        # interrupt() stops the statement from any thread; the connection stays usable.
        with _Interruptible(query.name, self.con):
            for text, names in duckdb_statements(query):
                params = {k: v for k, v in query.binds.items() if k in names}
                cursor = self.con.execute(text, params) if params else self.con.execute(text)
        return cursor

    def execute(self, query: Query) -> None:
        self._run(query)

    def fetch_rows(self, query: Query) -> tuple[list[str], list[tuple[Any, ...]]]:
        cursor = self._run(query)
        columns = [d[0].lower() for d in cursor.description or []]
        return columns, cursor.fetchall()

    def fetch_batches(
        self, query: Query, size: int
    ) -> tuple[list[str], Iterator[list[tuple[Any, ...]]]]:
        cursor = self._run(query)
        columns = [d[0].lower() for d in cursor.description or []]

        def batches() -> Iterator[list[tuple[Any, ...]]]:
            while True:
                # A streamed result is still being computed while it is read.
                with _Interruptible(query.name, self.con):
                    rows = cursor.fetchmany(size)
                if not rows:
                    return
                yield rows

        return columns, batches()

    def fetch(self, query: Query) -> list[dict[str, Any]]:
        return rows_as_dicts(*self.fetch_rows(query))

    def insert_rows(self, query: Query, rows: Iterable[Mapping[str, Any]]) -> int:
        # One statement per batch, each bind a list of the batch's values (see columns_template).
        text, names = self._columns_template(query)
        remaining = iter(rows)
        count = 0
        while batch := list(itertools.islice(remaining, COLUMNS_BATCH)):
            values = [row_binds(query, row, names) for row in batch]
            self._insert(query, text, [list(column) for column in zip(*values, strict=True)])
            count += len(batch)
        return count

    def insert_columns(self, query: Query, columns: Mapping[str, Sequence[Any]]) -> int:
        text, names = self._columns_template(query)
        count = column_length(query, columns)
        for name in names:
            if name not in columns and name not in query.binds:
                raise KeyError(f"{query.name}: no value for :{name}")
        for start in range(0, count, COLUMNS_BATCH):
            end = min(start + COLUMNS_BATCH, count)
            self._insert(
                query,
                text,
                [
                    list(columns[name][start:end])
                    if name in columns
                    else [query.binds[name]] * (end - start)
                    for name in names
                ],
            )
        return count

    @staticmethod
    def _columns_template(query: Query) -> tuple[str, tuple[str, ...]]:
        if query.native_duckdb:
            raise ValueError(f"{query.name}: insert_rows takes Snowflake-dialect statements")
        return columns_template(query.text)

    def _insert(self, query: Query, text: str, columns: list[list[Any]]) -> None:
        with _Interruptible(query.name, self.con):
            self.con.execute(text, columns)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_tx:
            yield
            return
        self.con.execute("BEGIN TRANSACTION")
        self._in_tx = True
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")
        finally:
            self._in_tx = False


class DuckDBWarehouse:
    """The embedded warehouse: a DuckDB file (or ``:memory:`` in tests)."""

    engine = "duckdb"

    def __init__(
        self,
        path: str | Path,
        *,
        lock_timeout: float = 900.0,
        memory_limit: str = "2GB",
        threads: int | None = None,
    ) -> None:
        if not _MEMORY.fullmatch(memory_limit):
            raise ValueError(f"invalid DuckDB memory limit {memory_limit!r} (expected e.g. '2GB')")
        self.path = str(path)
        self.lock_timeout = lock_timeout
        self.memory_limit = memory_limit
        self.threads = threads
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.05
        waited = False
        while True:
            try:
                con = duckdb.connect(self.path, read_only=read_only and self.path != ":memory:")
                break
            except duckdb.IOException as error:
                if not _is_lock_conflict(error):
                    raise
                if time.monotonic() >= deadline:
                    raise WarehouseBusyError(
                        f"the DuckDB file {self.path} stayed locked by another process for "
                        f"{self.lock_timeout:.0f} s; another run is still writing to it"
                    ) from error
                if not waited:
                    log.info("DuckDB file %s is locked by another process; waiting", self.path)
                    waited = True
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 2.0)
        con.execute("SET TimeZone = 'UTC'")
        # Every statement that needs an order says ORDER BY; without this promise to keep,
        # large aggregates run about 7% faster (the recommendation's GROUP BY over 10M flows).
        con.execute("SET preserve_insertion_order = false")
        # SET takes no bind parameters; both values are validated in __init__.
        con.execute("SET memory_limit = '" + self.memory_limit + "'")
        if self.threads:
            con.execute("SET threads = " + str(int(self.threads)))
        return con

    @contextmanager
    def session(
        self, *, read_only: bool = False, bulk_text: bool = False, streaming: bool = False
    ) -> Iterator[DuckDBSession]:
        con = self._connect(read_only)
        if streaming and memory_bytes(STREAMING_MEMORY) < memory_bytes(self.memory_limit):
            con.execute("SET memory_limit = '" + STREAMING_MEMORY + "'")
        if bulk_text:
            # Large documents (megabytes of policy YAML and evidence): DuckDB's automatic
            # choice tries every string compression at checkpoint, which took seconds per
            # 100 MB; ZSTD alone is fast and compresses such text well. Other types keep
            # their usual compression. Both settings live as long as this connection.
            con.execute("SET force_compression = 'zstd'")
            if memory_bytes(BULK_TEXT_MEMORY) < memory_bytes(self.memory_limit):
                con.execute("SET memory_limit = '" + BULK_TEXT_MEMORY + "'")
        try:
            yield DuckDBSession(con)
        finally:
            IN_FLIGHT.release(con)
            con.close()
