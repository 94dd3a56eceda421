"""Flow ingestion for the embedded engine: every flow file's content is loaded exactly once.

A file is identified by its content, the SHA-256 of its bytes, as S3 identifies an object by
its etag. The listing's version tag (S3 ETag; size and modification time of a local file)
only spares reading a version already handled. A version seen for the first time is hashed:
content already loaded (a touched, renamed or copied file) is recorded as a duplicate and
loads nothing; new content under a key that was loaded before (a rewritten file) is
recorded as rejected with the reason, since flow files are written once; anything else
loads. A file's rows, its rejected lines and its ``LOAD_HISTORY`` row are written in one
transaction, so a crash or a retry mid-file never duplicates or loses rows.

Fast path: DuckDB's CSV reader loads the whole file in one statement. If the file has any
problem (wrong field count, broken quote, non-numeric value, a time out of range, labels
that are not a flat string map, an over-long line, truncated gzip), the statement fails,
the transaction rolls back, and the line-by-line path checks every line: good lines load
through the same statement, bad lines go to ``REJECTED_FLOW_RECORDS`` with file, line
number and reason.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import logging
import os
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from theia_sf.errors import ConfigurationError
from theia_sf.layouts import (
    AUTO,
    LABELS_PATTERN,
    TIME_RANGE,
    Kind,
    Layout,
    detect_layout,
    get_layout,
    labels_problem,
    split_fields,
)
from theia_sf.objectstore import LocalObjectStore, ObjectInfo, ObjectStore
from theia_sf.sql import SqlLibrary
from theia_sf.warehouse import Session, Warehouse

log = logging.getLogger(__name__)

FLOW_SUFFIXES = (".csv", ".csv.gz", ".gz")
MAX_STORED_REJECTS = 10_000  # per file; every rejected line is still counted
MAX_LINE_CHARS = 10_000
# DuckDB's default max_line_size: a flow record is a few kB at most. DuckDB refuses lines
# of this length or longer; the line check refuses the same ones.
MAX_LINE_BYTES = 2 * 1024 * 1024
MAX_REPORTED_PROBLEMS = 50  # in the XCom; the log has them all
_GLOB_CHARACTERS = frozenset("*?[")  # DuckDB expands these in a path


@dataclass(frozen=True, slots=True)
class FileResult:
    key: str
    layout: str
    rows_loaded: int
    rows_rejected: int
    seconds: float
    path: str  # "fast", "checked", or "none" (nothing read: a duplicate or a rewritten file)
    outcome: str = "loaded"  # "loaded", "duplicate" or "rejected" (LOAD_HISTORY.outcome)
    note: str = ""  # why a file was not loaded, or its first rejected line


@dataclass
class IngestReport:
    files_seen: int = 0
    files_loaded: int = 0
    files_skipped_loaded: int = 0
    files_skipped_expired: int = 0
    files_deferred: int = 0
    files_duplicate: int = 0  # same content as a loaded file (touched, renamed, copied)
    files_rejected: int = 0  # not loaded, for the reason in LOAD_HISTORY.note
    entries_skipped: int = 0  # left out: dangling symlinks, links outside, unreadable files
    rows_loaded: int = 0
    rows_rejected: int = 0
    seconds: float = 0.0
    files: list[FileResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what was rejected or left out, and why

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["files"] = [asdict(f) for f in self.files[:50]]  # keep XComs small
        record["problems"] = self.problems[:MAX_REPORTED_PROBLEMS]
        return record

    def summary(self) -> str:
        """One sentence on what was not loaded, for the task's log and skip message."""
        parts = [f"{n} {what}" for n, what in (
            (self.rows_rejected, "lines rejected"),
            (self.files_rejected, "files rejected"),
            (self.files_duplicate, "files with content already loaded"),
            (self.entries_skipped, "entries left out"),
            (self.files_deferred, "files deferred"),
        ) if n]
        return ", ".join(parts) if parts else "nothing rejected"


@dataclass(frozen=True, slots=True)
class BadLine:
    line_number: int
    reason: str
    text: str


class FileChangedError(Exception):
    """A local file changed while it was being loaded; it is left for the next run."""


def is_flow_file(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return not name.startswith(".") and name.endswith(FLOW_SUFFIXES)


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes as stored: the identity of a flow file."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True, slots=True)
class FileScan:
    """What one pass over a file tells before it is loaded."""

    digest: str  # content_hash
    lines: int | None  # lines to load or reject (None: a damaged gzip stream)
    last_line_bytes: int


def scan_file(path: Path) -> FileScan:
    """The file's identity, and what its fast load must account for.

    DuckDB's parallel CSV reader takes a last line longer than its buffer (about 32 MB)
    without a word (it drops it, or loads it unchecked), so the loader must know how long
    the last line is; the line count catches any other row the reader would lose."""
    sha = hashlib.sha256()
    newlines = 0
    current = 0  # bytes of the line in progress
    last = 0  # bytes of the last complete line
    try:
        for chunk in _decompressed_chunks(path, observe=sha.update):
            count = chunk.count(b"\n")
            if not count:
                current += len(chunk)
                continue
            newlines += count
            end = chunk.rfind(b"\n")
            start = chunk.rfind(b"\n", 0, end) if count > 1 else -1
            last = end - start - 1 if count > 1 else current + end
            current = len(chunk) - end - 1
    except DamagedFileError:
        return FileScan(content_hash(path), None, 0)
    if current:
        return FileScan(sha.hexdigest(), newlines + 1, current)
    return FileScan(sha.hexdigest(), newlines, last)


def _open_text(path: Path) -> Any:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="strict", newline="")
    return open(path, encoding="utf-8", errors="strict", newline="")


def read_sample(path: Path, lines: int = 20) -> list[str]:
    sample: list[str] = []
    try:
        with _open_text(path) as handle:
            while len(sample) < lines:
                # Bounded reads: a file of one huge line must not be read whole to detect.
                line = handle.readline(MAX_LINE_BYTES)
                if not line:
                    break
                sample.append(line)
    except (OSError, EOFError, UnicodeDecodeError, zlib.error):
        pass  # a damaged file: detection works on what could be read
    return sample


def check_line(line: str, layout: Layout) -> str | None:
    """Why ``line`` cannot be loaded with ``layout``, or None when it can.

    Refuses exactly what the loading statement refuses, so that the good lines of a file
    with bad ones load in full."""
    try:
        fields = split_fields(line)
    except ValueError as error:
        return f"malformed quoting: {error}"
    if len(fields) != len(layout.fields):
        return f"expected {len(layout.fields)} fields for layout {layout.name}, found {len(fields)}"
    for value, column in zip(fields, layout.columns, strict=True):
        if column.kind in (Kind.INT, Kind.TIME):
            digits = value[1:] if value[:1] == "-" else value
            if value and not (digits.isascii() and digits.isdigit()):
                return f"{column.name} is not an integer: {value[:40]!r}"
            if value and abs(int(value)) >= 2**63:
                return f"{column.name} is out of range: {value[:40]!r}"
            if value and column.kind is Kind.TIME and not TIME_RANGE[0] <= int(value) <= TIME_RANGE[1]:
                return (f"{column.name} is out of range: {value[:40]!r} (Unix seconds from "
                        f"{TIME_RANGE[0]} to {TIME_RANGE[1]})")
        elif column.kind is Kind.LABELS and (problem := labels_problem(value)):
            return f"{column.name} {problem}"
    return None


class DamagedFileError(Exception):
    """The file ends before its compressed stream does, or the stream is corrupt."""


def _decompressed_chunks(
    path: Path, size: int = 1 << 20, observe: Callable[[bytes], Any] | None = None
) -> Iterator[bytes]:
    """The file's bytes, gunzipped when it ends in .gz, keeping everything before damage.

    ``observe`` sees every byte read from the file as stored."""
    with open(path, "rb") as raw:
        if path.suffix != ".gz":
            while chunk := raw.read(size):
                if observe is not None:
                    observe(chunk)
                yield chunk
            return
        inflater = zlib.decompressobj(wbits=31)
        while True:
            data = raw.read(size)
            if data and observe is not None:
                observe(data)
            if not data:
                if not inflater.eof:
                    raise DamagedFileError("compressed stream ends early")
                return
            while data:
                try:
                    out = inflater.decompress(data)
                except zlib.error as error:
                    raise DamagedFileError(str(error)) from None
                if out:
                    yield out
                if not inflater.eof:
                    break
                # concatenated gzip members: start the next one
                data = inflater.unused_data
                inflater = zlib.decompressobj(wbits=31)
                if not data:
                    data = raw.read(size)
                    if not data:
                        return
                    if observe is not None:
                        observe(data)


def split_good_and_bad(path: Path, layout: Layout, good_out: Path) -> tuple[int, list[BadLine], int]:
    """Check every line of ``path``; write good lines to ``good_out``.

    Returns (good line count, stored bad lines, total bad line count). A line of
    ``MAX_LINE_BYTES`` or more is rejected without being held in memory whole.
    """
    good = 0
    bad: list[BadLine] = []
    bad_total = 0
    line_number = 0
    parts: list[bytes] = []  # the current line so far, when it spans chunks
    length = 0  # its length in bytes

    def reject(reason: str, text: str) -> None:
        nonlocal bad_total
        bad_total += 1
        if len(bad) < MAX_STORED_REJECTS:
            bad.append(BadLine(line_number, reason, text[:MAX_LINE_CHARS]))

    def add(part: bytes) -> None:
        nonlocal length
        if length < MAX_LINE_BYTES:  # past the limit, only the length is kept
            parts.append(part)
        length += len(part)

    def end_line() -> None:
        nonlocal good, line_number, length
        line_number += 1
        raw_line = b"".join(parts)
        parts.clear()
        size, length = length, 0
        if size >= MAX_LINE_BYTES:
            reject(f"line is {size} bytes long, the limit is {MAX_LINE_BYTES - 1}",
                   raw_line[:MAX_LINE_CHARS].decode("utf-8", "replace"))
            return
        try:
            text = raw_line.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            reject("not valid UTF-8", raw_line.decode("utf-8", "replace"))
            return
        if not text:
            return  # blank lines carry no record
        reason = check_line(text, layout)
        if reason:
            reject(reason, text)
        else:
            out.write(text + "\n")
            good += 1

    with open(good_out, "w", encoding="utf-8", newline="") as out:
        try:
            for chunk in _decompressed_chunks(path):
                *complete, rest = chunk.split(b"\n")
                for piece in complete:
                    add(piece)
                    end_line()
                if rest:
                    add(rest)
        except DamagedFileError as error:
            what = "incomplete last line" if length else "no further lines"
            line_number += 1
            reject(f"file is truncated or corrupt after line {line_number - 1} ({error}); {what}",
                   b"".join(parts)[:MAX_LINE_CHARS].decode("utf-8", "replace"))
            parts.clear()
            length = 0
        if length:
            end_line()  # a last line without a newline
    return good, bad, bad_total


class _Seen:
    """This exact file version is in LOAD_HISTORY already (another run handled it)."""


_SEEN = _Seen()


class FlowLoader:
    """Loads single files into FLOWS inside a caller-owned transaction."""

    def __init__(self, sql: SqlLibrary, layout: str = AUTO) -> None:
        self.sql = sql
        self.layout_name = layout
        if layout != AUTO:
            get_layout(layout)  # fail early on an unknown name

    def layout_for(self, path: Path) -> Layout:
        if self.layout_name != AUTO:
            return get_layout(self.layout_name)
        sample = read_sample(path)
        try:
            return detect_layout(sample)
        except ValueError:
            # Nothing recognisable: fall back to the newest layout; every line is rejected
            # with its field count, which tells the user what the file holds.
            return get_layout("v2.7")

    def _insert(self, session: Session, path: Path, layout: Layout) -> int:
        """Insert the file's rows; DuckDB answers an INSERT with the number of rows."""
        if _GLOB_CHARACTERS.intersection(str(path)):
            # The loader names the files it hands DuckDB; only the temporary directory
            # could bring a pattern character in.
            raise ConfigurationError(
                f"the temporary directory {path.parent.parent} has a glob character in its "
                "path, which DuckDB would expand: set TMPDIR to a plain path"
            )
        _, rows = session.fetch_rows(
            self.sql.render(
                "ingest/insert_flows_from_csv.duckdb.sql",
                binds={"paths": [str(path)], "labels_pattern": LABELS_PATTERN,
                       "time_min": TIME_RANGE[0], "time_max": TIME_RANGE[1],
                       "max_line_bytes": MAX_LINE_BYTES},
                fields=layout.columns,
            )
        )
        return int(rows[0][0])

    def load(
        self,
        session: Session,
        obj: ObjectInfo,
        path: Path,
        scratch: Path,
        scan: FileScan,
        unchanged: Callable[[], bool] | None = None,
    ) -> FileResult | None:
        """Load one file version exactly once; ``scan`` is ``scan_file(path)``.

        ``unchanged()`` tells whether the source still is the listed version; it is asked
        before each commit. Returns None if another run handled this version meanwhile."""
        started = time.monotonic()
        layout = self.layout_for(path)
        digest = scan.digest
        if scan.lines is None or scan.last_line_bytes >= MAX_LINE_BYTES:
            return self._load_checked(session, obj, path, scratch, digest, layout, started,
                                      unchanged)
        try:
            with session.transaction():
                settled = self._settle(session, obj, digest, started)
                if settled is not None:
                    return None if settled is _SEEN else settled
                loaded = self._insert(session, path, layout)
                if loaded != scan.lines:  # blank lines, or lines the reader lost
                    raise _CountMismatch(f"{scan.lines} lines but {loaded} rows loaded")
                _check_unchanged(obj, unchanged)
                self._record(session, obj, digest, layout.name, loaded, 0, "loaded", None)
        except Exception as error:
            if not (_is_data_error(error) or isinstance(error, _CountMismatch)):
                raise
            log.info("%s: fast load failed (%s); checking line by line", obj.key, _short(error))
            return self._load_checked(session, obj, path, scratch, digest, layout, started,
                                      unchanged)
        return FileResult(obj.key, layout.name, loaded, 0, _since(started), "fast")

    def _load_checked(
        self, session: Session, obj: ObjectInfo, path: Path, scratch: Path, digest: str,
        layout: Layout, started: float, unchanged: Callable[[], bool] | None,
    ) -> FileResult | None:
        good_path = scratch / "good.csv"
        good, bad, bad_total = split_good_and_bad(path, layout, good_path)
        try:
            with session.transaction():
                settled = self._settle(session, obj, digest, started)
                if settled is not None:
                    return None if settled is _SEEN else settled
                loaded = self._insert(session, good_path, layout) if good else 0
                if loaded != good:
                    raise _CountMismatch(f"{good} lines passed the checks but {loaded} rows loaded")
                _check_unchanged(obj, unchanged)
                for b in bad:
                    session.execute(
                        self.sql.render(
                            "ingest/insert_rejected_flow_record.sql",
                            binds={"file_key": obj.key, "etag": obj.etag,
                                   "line_number": b.line_number, "reason": b.reason,
                                   "line": b.text},
                        )
                    )
                self._record(session, obj, digest, layout.name, loaded, bad_total, "loaded", None)
        except Exception as error:
            if not (_is_data_error(error) or isinstance(error, _CountMismatch)):
                raise
            # The engine refused lines the checks passed. Rejecting this file with the
            # engine's reason keeps every later file loading instead of failing each run.
            note = f"lines that passed the checks did not load: {_short(error)}"
            log.error("%s: %s; the file is rejected whole", obj.key, note)
            with session.transaction():
                settled = self._settle(session, obj, digest, started)
                if settled is not None:
                    return None if settled is _SEEN else settled
                self._record(session, obj, digest, layout.name, 0, good + bad_total, "rejected",
                             note)
            return FileResult(obj.key, layout.name, 0, good + bad_total, _since(started),
                              "checked", "rejected", note)
        finally:
            good_path.unlink(missing_ok=True)
        first = f"line {bad[0].line_number}: {bad[0].reason}" if bad else ""
        return FileResult(obj.key, layout.name, loaded, bad_total, _since(started), "checked",
                          note=first)

    def _settle(self, session: Session, obj: ObjectInfo, digest: str,
                started: float) -> FileResult | _Seen | None:
        """Inside the load transaction: is this version to be loaded (None), handled already
        (``_SEEN``), or a duplicate or a rewritten file (recorded here, result returned)?"""
        rows = session.fetch(
            self.sql.render(
                "ingest/select_load_history_entry.sql",
                binds={"file_key": obj.key, "content_hash": digest},
            )
        )
        if any(r["filekey"] == obj.key and r["etag"] == obj.etag for r in rows):
            return _SEEN
        # Content that a 'rejected' row carries was never loaded; every other row's was.
        same = [r for r in rows if r["contenthash"] == digest and r["outcome"] != "rejected"]
        earlier = [r for r in rows if r["filekey"] == obj.key]
        if same:
            outcome = "duplicate"
            if same[0]["filekey"] == obj.key:
                note = "content unchanged since it was loaded (only its time or name changed)"
            else:
                note = (f"same content as {same[0]['filekey']}, loaded "
                        f"{_when(same[0]['loadedat'])}")
        elif earlier:
            outcome = "rejected"
            if all(r["contenthash"] is None for r in earlier):
                note = (f"listed with a new size or time since it was loaded {_when(earlier[0]['loadedat'])}"
                        ", by a version that recorded no content hash; not loaded again")
            else:
                note = (f"content changed after it was loaded {_when(earlier[0]['loadedat'])}; "
                        "flow files are written once, so none of its rows are loaded again "
                        "(write new records to a new file)")
        else:
            return None
        self._record(session, obj, digest, None, 0, 0, outcome, note)
        return FileResult(obj.key, "", 0, 0, _since(started), "none", outcome, note)

    def _record(self, session: Session, obj: ObjectInfo, digest: str, layout: str | None,
                loaded: int, rejected: int, outcome: str, note: str | None) -> None:
        session.execute(
            self.sql.render(
                "ingest/insert_load_history.sql",
                binds={"file_key": obj.key, "etag": obj.etag, "content_hash": digest,
                       "size_bytes": obj.size, "last_modified": obj.last_modified,
                       "layout": layout, "rows_loaded": loaded, "rows_rejected": rejected,
                       "outcome": outcome, "note": note},
            )
        )


class _CountMismatch(Exception):
    """The engine loaded another number of rows than the checks passed."""


def _check_unchanged(obj: ObjectInfo, unchanged: Callable[[], bool] | None) -> None:
    if unchanged is not None and not unchanged():
        raise FileChangedError(f"{obj.key} changed while it was being loaded")


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "earlier"


def _short(error: BaseException) -> str:
    return str(error).splitlines()[0][:300] if str(error) else type(error).__name__


def _is_data_error(error: BaseException) -> bool:
    """Errors caused by the file's content (as opposed to the engine or the disk)."""
    try:
        import duckdb
    except ImportError:  # pragma: no cover - the loader only runs on DuckDB
        return False
    return isinstance(
        error,
        duckdb.InvalidInputException | duckdb.ConversionException | duckdb.IOException
        | duckdb.OutOfRangeException | duckdb.NotImplementedException | UnicodeDecodeError,
    ) and not isinstance(error, duckdb.OutOfMemoryException)


def pending_files(
    store: ObjectStore, seen: set[tuple[str, str]], cutoff: dt.datetime, report: IngestReport
) -> Iterator[ObjectInfo]:
    """Flow files whose listed version (key, etag) has not been handled yet."""

    def left_out(key: str, reason: str) -> None:
        if is_flow_file(key):
            report.entries_skipped += 1
            report.problems.append(f"{key}: left out: {reason}")

    for obj in store.list(on_skip=left_out):
        if not is_flow_file(obj.key):
            continue
        report.files_seen += 1
        if (obj.key, obj.etag) in seen:
            report.files_skipped_loaded += 1
        elif obj.last_modified < cutoff:
            report.files_skipped_expired += 1  # its rows would be past retention anyway
        else:
            yield obj


def ingest_flows(
    warehouse: Warehouse,
    sql: SqlLibrary,
    store: ObjectStore,
    *,
    layout: str = AUTO,
    retention_days: int = 30,
    max_files: int = 500,
    workers: int = 2,
    now: dt.datetime | None = None,
) -> IngestReport:
    """Load every new flow file of ``store`` into FLOWS; return counts for the log and XCom.

    A bad file never stops the others: its bad lines are rejected, a rewritten file is
    recorded as rejected, an unreadable entry is left out; ``report.problems`` says which
    and why. Only engine or store failures fail the run."""
    if warehouse.engine != "duckdb":
        raise ConfigurationError(
            "flow ingestion by Airflow is for the embedded DuckDB engine; on Snowflake, "
            "Snowpipe loads flows (see the theia_onboard DAG)"
        )
    loader = FlowLoader(sql, layout)
    started = time.monotonic()
    report = IngestReport()
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=retention_days)
    with warehouse.session() as session:
        _, rows = session.fetch_rows(sql.render("ingest/select_load_history.sql"))
    seen = {(r[0], r[1]) for r in rows}
    todo = list(pending_files(store, seen, cutoff, report))
    todo.sort(key=lambda o: (o.last_modified, o.key))
    if len(todo) > max_files:
        report.files_deferred = len(todo) - max_files
        todo = todo[:max_files]
    log.info("flows location %s: %d files, %d new, %d already handled, %d past retention",
             store.location, report.files_seen, len(todo), report.files_skipped_loaded,
             report.files_skipped_expired)
    if not todo:
        report.seconds = _since(started)
        _log_problems(report)
        return report

    lock = threading.Lock()
    stop = threading.Event()  # set by the first failure: no new file starts after it
    # Files of equal content in one run: the first loads, the others wait for it and are
    # then recorded as its duplicates (their transactions would not see each other).
    claims: dict[str, threading.Event] = {}
    with warehouse.session() as session, tempfile.TemporaryDirectory(prefix="theia-ingest-") as tmp:
        con = getattr(session, "con", None)

        def work(index: int, obj: ObjectInfo) -> None:
            if stop.is_set():
                return
            try:
                load_one(index, obj)
            except BaseException:
                stop.set()
                raise

        def problem(text: str) -> None:
            log.warning("%s", text)
            with lock:
                report.problems.append(text)

        def load_one(index: int, obj: ObjectInfo) -> None:
            scratch = Path(tmp) / str(index)
            scratch.mkdir()
            # DuckDB reads a name made here, never the file's own: a name is a glob pattern
            # to DuckDB, and a flow file may be called `p-?.csv`.
            path = scratch / ("flows.csv.gz" if obj.key.endswith(".gz") else "flows.csv")
            unchanged: Callable[[], bool] | None = None
            try:
                if isinstance(store, LocalObjectStore):
                    source = store.local_path(obj.key)
                    path.symlink_to(source)
                    unchanged = lambda: _stat_etag(store, obj.key) == obj.etag  # noqa: E731
                else:
                    store.download(obj.key, path)
                scan = scan_file(path)
            except (OSError, ValueError) as error:  # gone, unreadable, or now a link outside
                with lock:
                    report.entries_skipped += 1
                problem(f"{obj.key}: left out: cannot be read ({_short(error)})")
                return
            with lock:
                earlier = claims.get(scan.digest)
                own = None if earlier else claims.setdefault(scan.digest, threading.Event())
            if earlier is not None:
                earlier.wait()
                if stop.is_set():
                    return
            # Each worker has its own cursor (its own transaction) on the same database.
            from theia_sf.adapters.duckdb import DuckDBSession

            worker = DuckDBSession(con.cursor()) if con is not None else session
            try:
                result = loader.load(worker, obj, path, scratch, scan, unchanged)
            except FileChangedError as error:
                with lock:
                    report.files_deferred += 1
                problem(f"{error}; left for the next run")
                return
            finally:
                if own is not None:
                    own.set()
                if worker is not session:
                    worker.con.close()
                path.unlink(missing_ok=True)
            with lock:
                tally(obj, result)

        def tally(obj: ObjectInfo, result: FileResult | None) -> None:
            if result is None:
                report.files_skipped_loaded += 1
                return
            report.files.append(result)
            if result.outcome == "duplicate":
                report.files_duplicate += 1
                log.info("not loading %s: %s", obj.key, result.note)
                return
            if result.outcome == "rejected":
                report.files_rejected += 1
                report.rows_rejected += result.rows_rejected
                report.problems.append(f"{obj.key}: rejected: {result.note}")
                log.warning("rejected %s: %s", obj.key, result.note)
                return
            report.files_loaded += 1
            report.rows_loaded += result.rows_loaded
            report.rows_rejected += result.rows_rejected
            if result.rows_rejected:
                report.problems.append(
                    f"{obj.key}: {result.rows_rejected} lines rejected (first: {result.note}); "
                    "see REJECTED_FLOW_RECORDS"
                )
            elapsed = time.monotonic() - started
            log.info(
                "loaded %s (%s, %s path): %d rows, %d rejected in %.2f s | "
                "progress %d/%d files, %d rows, %.0f rows/s",
                obj.key, result.layout, result.path, result.rows_loaded,
                result.rows_rejected, result.seconds, report.files_loaded, len(todo),
                report.rows_loaded, report.rows_loaded / max(elapsed, 1e-6),
            )

        n = max(1, min(workers, len(todo), os.cpu_count() or 1)) if con is not None else 1
        if con is not None and n > 1:
            # A gzip file is read by one thread; with one DuckDB thread per statement, the
            # workers' statements run side by side instead of competing for the same cores
            # (measured: 2 files on 2 cores, 1.9x faster than two 2-thread statements).
            con.execute("SET threads = 1")
        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="ingest") as pool:
            futures = [pool.submit(work, i, o) for i, o in enumerate(todo)]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                # Stop starting new files; files already committed stay loaded.
                for future in futures:
                    future.cancel()
                raise
    report.seconds = _since(started)
    log.info("ingestion done: %d files, %d rows, %d rejected lines in %.1f s",
             report.files_loaded, report.rows_loaded, report.rows_rejected, report.seconds)
    _log_problems(report)
    return report


def _stat_etag(store: LocalObjectStore, key: str) -> str | None:
    try:
        return store.stat(key).etag
    except OSError:
        return None


def _log_problems(report: IngestReport) -> None:
    if report.problems:
        log.warning("not loaded: %s", report.summary())


def apply_retention(warehouse: Warehouse, sql: SqlLibrary, *, days: int,
                    now: dt.datetime | None = None) -> dict[str, Any]:
    """Delete flow rows (and load history / rejects) older than ``days``."""
    if days < 1:
        raise ConfigurationError(f"flow retention must be at least 1 day, got {days}")
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)
    with warehouse.session() as session, session.transaction():
        before = session.fetch(sql.render("ingest/select_flow_count.sql"))[0]["n"]
        session.execute(sql.render("retention/delete_stale_flows.sql", binds={"cutoff": cutoff}))
        after = session.fetch(sql.render("ingest/select_flow_count.sql"))[0]["n"]
        session.execute(sql.render("retention/delete_stale_load_history.sql", binds={"cutoff": cutoff}))
        session.execute(
            sql.render("retention/delete_stale_rejected_flow_records.sql", binds={"cutoff": cutoff})
        )
    deleted = int(before) - int(after)
    log.info("retention: deleted %d flow rows inserted before %s", deleted, cutoff.isoformat())
    return {"cutoff": cutoff.isoformat(), "rows_deleted": deleted, "rows_kept": int(after)}
