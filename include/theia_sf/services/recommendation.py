"""NetworkPolicy recommendation service: reduce in the warehouse, build, self-check, persist, publish.

``run_policy_recommendation`` does the analysis and records the run (``RECOMMENDATION_RUNS``,
``RECOMMENDED_POLICIES``), including the diff against the previous succeeded run with the same
parameters. ``publish_recommendation`` writes the multi-document YAML and a JSON report to the
results location (``recommendation/runs/<run_id>/`` and ``recommendation/latest/``).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import gc
import hashlib
import heapq
import json
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from theia_sf.errors import ConfigurationError, TheiaError
from theia_sf.objectstore import ObjectStore
from theia_sf.policyeval import (
    CompiledPolicy,
    PolicySet,
    Verdict,
    compile_memo,
    compile_policy,
    forget_compiled,
)
from theia_sf.publish import publish_artifacts
from theia_sf.recommendation.building import (
    DST_NS,
    SRC_NS,
    Collected,
    collect,
    label_strip_patterns,
)
from theia_sf.recommendation.diff import PolicyDiff, diff_policies
from theia_sf.recommendation.model import TUPLE_COLUMNS, Options, RecommendedPolicy, to_datetime
from theia_sf.recommendation.render import Renderer, render_documents
from theia_sf.sql import Query, SqlLibrary
from theia_sf.timewindow import Window
from theia_sf.warehouse import Session, Warehouse

log = logging.getLogger(__name__)

JOB_TYPE = "initial"
AREA = "recommendation"
YAML_NAME = "policies.yaml"
REPORT_NAME = "report.json"


class SelfCheckError(TheiaError):
    """The recommended policies would block observed flows: a bug, never published."""


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    status: str
    tuple_count: int
    flow_count: int
    policy_count: int
    skipped: Mapping[str, Mapping[str, int]]
    warnings: tuple[str, ...]
    diff: Mapping[str, Any]
    seconds: float

    def to_record(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "tuple_count": self.tuple_count,
            "flow_count": self.flow_count,
            "policy_count": self.policy_count,
            "skipped": {k: dict(v) for k, v in self.skipped.items()},
            "warnings_count": len(self.warnings),
            "diff": {
                "previous_run_id": self.diff.get("previous_run_id"),
                "added": len(self.diff.get("added", ())),
                "removed": len(self.diff.get("removed", ())),
                "changed": len(self.diff.get("changed", ())),
            },
            "seconds": round(self.seconds, 3),
        }


def validate_cluster_uuid(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ConfigurationError(f"cluster_uuid={value!r} is not a UUID") from None


def validate_limit(value: int | None) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"limit={value!r} must be an integer >= 0 (0 means no limit)")
    return value


def parameters_record(options: Options, cluster_uuid: str | None, limit: int) -> dict[str, Any]:
    """The options that shape the output; equal records make runs comparable."""
    return {
        "job_type": JOB_TYPE,
        **options.to_record(),
        "cluster_uuid": cluster_uuid,
        "limit": limit,
    }


def parameters_hash(record: Mapping[str, Any]) -> str:
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


COMMIT_BYTES = 32 * 2**20  # policy text per commit when storing a run
FETCH_BATCH = 50_000  # rows per fetch: the rows of a large run are never all in memory
ROUTE_BATCH = 10_000  # rows per message to a partition worker (small: the workers overlap)
WORKERS = 2  # partitions of a run, each in its own process (at most one per usable core)
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


def default_workers() -> int:
    """Partitions a run uses here: one per usable core, at most :data:`WORKERS`, and one
    where processes cannot be forked."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(WORKERS, cores))


def reduction_query(
    sql: SqlLibrary,
    window: Window,
    cluster_uuid: str | None,
    limit: int,
    label_ignore_list: Iterable[str] = (),
) -> Query:
    """The reduction (a GROUP BY in the warehouse): distinct tuples with evidence in
    FlowTuple order. Labels in ``label_ignore_list`` are dropped from the label texts the
    warehouse can rewrite exactly (see :func:`label_strip_patterns`), so tuples that differ
    only in them arrive as one."""
    binds: dict[str, Any] = {"start_ts": window.start, "end_ts": window.end}
    if cluster_uuid:
        binds["cluster_uuid"] = cluster_uuid
    if limit:
        binds["limit"] = limit
    patterns = label_strip_patterns(label_ignore_list)
    if patterns:
        binds["label_text_pattern"], binds["ignored_label_pattern"] = patterns
    return sql.render(
        "recommendation/select_flow_tuples.sql",
        binds=binds,
        cluster_uuid=bool(cluster_uuid),
        limit=bool(limit),
        strip_labels=bool(patterns),
    )


def iter_batches(session: Session, query: Query) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of :func:`reduction_query` as lists of plain tuples, read batch by batch (a
    large result is never all in memory). Consume before the next statement."""
    columns, batches = session.fetch_batches(query, FETCH_BATCH)
    if columns != list(TUPLE_COLUMNS):
        raise RuntimeError(f"select_flow_tuples.sql returned columns {columns}")
    yield from batches


def fetch_tuples(
    session: Session,
    sql: SqlLibrary,
    window: Window,
    cluster_uuid: str | None,
    limit: int,
    label_ignore_list: Iterable[str] = (),
) -> list[tuple[Any, ...]]:
    """All rows of :func:`reduction_query` at once."""
    query = reduction_query(sql, window, cluster_uuid, limit, label_ignore_list)
    return [row for batch in iter_batches(session, query) for row in batch]


def _describe(verdict: Verdict) -> str:
    f = verdict.flow

    def ep(e: Any) -> str:
        if e.namespace:
            return f"{e.namespace}/{{{','.join(f'{k}={v}' for k, v in e.labels)}}}"
        return e.ip or "?"

    blocked = "egress" if not verdict.egress.allowed else "ingress"
    decision = verdict.egress if not verdict.egress.allowed else verdict.ingress
    return (
        f"{ep(f.source)} -> {ep(f.destination)} {f.port}/{f.protocol}: {blocked} denied "
        f"({decision.reason} {decision.policy or ''})"
    )


def _policy_row(policy: RecommendedPolicy, text: str, digest: str) -> tuple:
    """The stored row of one policy, in :data:`_ROW_KEYS` order after the position."""
    return (
        policy.kind,
        policy.api_version,
        policy.namespace,
        policy.name,
        text,
        digest,
        policy.rule_count,
        policy.flow_count,
        policy.bytes,
        to_datetime(policy.first_seen),
        to_datetime(policy.last_seen),
        policy.evidence_json,
    )


_ROW_KEYS = (
    "position", "kind", "api_version", "namespace", "name", "yaml", "yaml_sha256",
    "rule_count", "flow_count", "bytes", "first_seen", "last_seen", "evidence",
)  # fmt: skip


class _Spool:
    """Policy rows written to a temporary file as they are made, read back to be stored once
    the self-check passed: a large run's YAML and evidence are never all in memory. A
    partition worker writes to the spool it inherited; the parent reads it afterwards."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self.count = 0

    def write(self, row: tuple) -> None:
        pickle.dump(row, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1

    def flush(self) -> None:
        self._file.flush()

    def rows(self) -> Iterator[tuple]:
        self._file.seek(0)
        for _ in range(self.count):
            yield pickle.load(self._file)

    def close(self) -> None:
        self._file.close()


@dataclass(slots=True)
class _PartResult:
    """What one partition of a run made and found (sent back by a partition worker)."""

    policies: int
    digests: dict[str, str]
    warnings: list[tuple[Any, str]]
    skipped: dict[str, dict[str, int]]
    tuple_count: int
    flow_count: int
    replayed: int
    violations: int
    shown: list[str]
    ignored_keys: list[str]
    unconfined: list[str]  # group policies that may apply outside their namespace (first 10)
    unconfined_count: int
    seconds: dict[str, float]  # make (build, compile, render, spool) and check
    finished: float  # time.monotonic() at the end (the same clock in every process)


def _make_and_check(collected: Collected, spool: _Spool) -> _PartResult:
    """Make, compile, render and spool every policy of a partition one at a time, and replay
    its flows through them (the self-check) one namespace at a time: a namespace's flows are
    replayed against the static policies and the policies of that namespace as soon as those
    are made, and both are then let go. Logs nothing: it may run in a worker.

    That is the verdict the whole set gives only while no policy made for a namespace applies
    to pods of another one, so every policy is checked for that (``unconfined``)."""
    began = time.monotonic()
    renderer = Renderer(collected.shared)
    # Only fragments several policies hold are kept for sharing; the rest go with their policy.
    memo = compile_memo(collected.shared)

    def forget(ids: list[int]) -> None:  # shared fragments no policy still to come holds
        renderer.forget(ids)
        forget_compiled(memo, ids)

    digests: dict[str, str] = {}
    unconfined: list[str] = []
    static: list[CompiledPolicy] = []
    ignore = frozenset(collected.options.label_ignore_list)
    ignored: set[str] = set()
    violations: list[Verdict] = []
    replayed = 0
    checking = 0.0  # seconds spent replaying

    def check(ns: str, policies: list[CompiledPolicy]) -> None:
        nonlocal replayed, checking
        started = time.monotonic()
        egress, ingress = collected.take_checks(ns)
        policy_set = PolicySet.from_compiled([*static, *policies])
        # The replayed flows carry pod labels minus the ignore list (tuples that differ only
        # in ignored labels are replayed once). That gives every flow its true verdict only
        # while no selector reads an ignored key, so this is checked first.
        keys = policy_set.pod_label_keys() & ignore
        ignored.update(keys)
        if not keys and not unconfined:
            violations.extend(policy_set.violations(egress, ingress=False))
            violations.extend(policy_set.violations(ingress, egress=False))
            replayed += len(egress) + len(ingress)
        checking += time.monotonic() - started

    namespace: str | None = None
    own: list[CompiledPolicy] = []  # the compiled policies of ``namespace``
    for order, policy in collected.keyed_policies():
        # The self-check compiles the manifest exactly as it is rendered and stored.
        made_policy = compile_policy(policy.manifest, memo)
        text = renderer.render(policy.manifest)
        digest = hashlib.sha256(text.encode()).hexdigest()
        digests[policy.key] = digest
        spool.write((order, _policy_row(policy, text, digest)))
        collected.retire(forget)
        if order[0] == 0:  # a static policy: in every namespace's set
            static.append(made_policy)
            continue
        if made_policy.applied_namespace() != order[1]:
            unconfined.append(made_policy.ident)
        if order[1] != namespace:
            if namespace is not None:
                check(namespace, own)
            namespace, own = order[1], []
        own.append(made_policy)
    if namespace is not None:
        check(namespace, own)
    del own
    # Namespaces with flows but no policy of their own (allow-listed ones, say).
    for ns in collected.check_namespaces():
        check(ns, [])
    spool.flush()
    seconds = time.monotonic() - began
    return _PartResult(
        spool.count,
        digests,
        list(collected.keyed_warnings),
        collected.skipped,
        collected.tuple_count,
        collected.flow_count,
        replayed,
        len(violations),
        [_describe(v) for v in violations[:10]],
        sorted(ignored),
        unconfined[:10],
        len(unconfined),
        {"make": round(seconds - checking, 3), "check": round(checking, 3)},
        time.monotonic(),
    )


class _Router:
    """Gives each namespace to a partition and splits tuples between partitions: a tuple goes
    to the owners of its source and destination namespaces (see
    :class:`theia_sf.recommendation.building._Builder`).

    The namespaces of the first batch are placed largest first on the partition with the
    least work so far, by their number of tuple ends in that batch; later namespaces go to the
    partition with the least work at the time. Partition 0 gets an even share: its reading
    and routing weigh about as much as the workers' receiving (measured at 1M tuples, the
    partitions finished within 0.1-0.6 s of each other; a smaller share for partition 0 left
    the worker 0.7-1.0 s behind)."""

    def __init__(self, parts: int) -> None:
        self.owners: dict[str, int] = {}
        self.loads = [0] * parts  # work per partition, in tuple ends
        self._planned = False
        self._unsent: dict[str, int] = {}  # placed, not yet told to the workers

    def plan(self, rows: list[tuple[Any, ...]]) -> None:
        """Place the namespaces of ``rows`` (the first batch); once, before any split."""
        if self._planned:
            return
        self._planned = True
        ends: Counter[str] = Counter()
        for row in rows:
            if row[SRC_NS]:
                ends[row[SRC_NS]] += 1
            if row[DST_NS]:
                ends[row[DST_NS]] += 1
        loads = self.loads
        for ns, count in sorted(ends.items(), key=lambda item: (-item[1], item[0])):
            part = loads.index(min(loads))
            self.owners[ns] = self._unsent[ns] = part
            loads[part] += count

    def split(
        self, rows: list[tuple[Any, ...]]
    ) -> tuple[list[list[tuple[Any, ...]]], dict[str, int]]:
        """Each partition's rows, and the namespaces placed since the last split."""
        if not self._planned:
            self.plan(rows)
        new = self._unsent
        self._unsent = {}
        owners = self.owners
        loads = self.loads
        out: list[list[tuple[Any, ...]]] = [[] for _ in loads]
        for row in rows:
            src = row[SRC_NS]
            dst = row[DST_NS]
            src_owner = dst_owner = None
            if src:
                src_owner = owners.get(src)
                if src_owner is None:
                    src_owner = owners[src] = new[src] = loads.index(min(loads))
                loads[src_owner] += 1
            if dst:
                dst_owner = owners.get(dst)
                if dst_owner is None:
                    dst_owner = owners[dst] = new[dst] = loads.index(min(loads))
                loads[dst_owner] += 1
            owner = src_owner if src_owner is not None else dst_owner or 0
            out[owner].append(row)
            if dst_owner is not None and dst_owner != owner:
                out[dst_owner].append(row)
        return out, new


def _trim_heap() -> None:
    """Give the free pages of the C heap back to the system (glibc's ``malloc_trim``). The
    heap keeps what the making of policies freed until something at its top is freed too, so
    the storing would otherwise begin on top of it; elsewhere this does nothing."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim.argtypes = [ctypes.c_size_t]
    trim(0)


def _end_with_parent() -> None:  # pragma: no cover (runs in a forked worker)
    """Ask Linux to stop this worker with SIGTERM when the process that forked it dies (a
    killed task must not leave a worker computing for nothing); elsewhere, a worker notices
    when it next reads from or writes to its pipe."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before prctl
        os._exit(1)


def _worker_main(
    conn: Connection, part: int, options: Options, spool: _Spool
) -> None:  # pragma: no cover (runs in a forked worker; its results are checked by the tests)
    """A partition worker: receive its tuples, then make, check and spool its policies."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the task runner's inherited handler
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    _end_with_parent()
    try:
        owners: dict[str, int] = {}

        def received() -> Iterator[tuple[Any, ...]]:
            while (data := conn.recv_bytes()) != b"":
                new, rows = pickle.loads(data)
                owners.update(new)  # before the rows that need them
                yield from rows

        collected = collect(received(), options, part=part, owners=owners)
        conn.send(("done", _make_and_check(collected, spool)))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


class _Partitions:
    """A run split over ``count`` partitions: partition 0 in this process, the others in
    forked worker processes that get their tuples through pipes (a sender thread writes
    them, so this process keeps working while a worker reads)."""

    def __init__(self, options: Options, count: int) -> None:
        self.router = _Router(count) if count > 1 else None
        self.spools = [_Spool() for _ in range(count)]
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        self._queue: queue.Queue[tuple[Connection, bytes] | None] = queue.Queue(maxsize=8)
        self._sender: threading.Thread | None = None
        if count == 1:
            return
        context = multiprocessing.get_context("fork")
        try:
            for part in range(1, count):
                ours, theirs = context.Pipe()
                proc = context.Process(
                    target=_worker_main,
                    args=(theirs, part, options, self.spools[part]),
                    name=f"theia-recommendation-part-{part}",
                )
                self._conns.append(ours)
                proc.start()
                theirs.close()
                self._procs.append(proc)
        except BaseException:  # e.g. no memory for another process: stop the ones started
            self.close()
            raise
        self._sender = threading.Thread(target=self._send, name="theia-partition-sender")
        self._sender.start()

    @property
    def owners(self) -> dict[str, int] | None:
        return self.router.owners if self.router is not None else None

    def _send(self) -> None:
        while (item := self._queue.get()) is not None:
            conn, data = item
            with contextlib.suppress(OSError):  # the worker is gone; results() says why
                conn.send_bytes(data)

    def route(self, batches: Iterable[list[tuple[Any, ...]]]) -> Iterator[tuple[Any, ...]]:
        """Partition 0's tuples; the others' are sent to their workers on the way."""
        if self.router is None:
            for batch in batches:
                yield from batch
            return
        for batch in batches:
            self.router.plan(batch)  # the whole first batch: a better sample than a slice
            for start in range(0, len(batch), ROUTE_BATCH):
                parts, new = self.router.split(batch[start : start + ROUTE_BATCH])
                for conn, rows in zip(self._conns, parts[1:], strict=True):
                    if rows or new:
                        message = pickle.dumps((new, rows), protocol=pickle.HIGHEST_PROTOCOL)
                        self._queue.put((conn, message))
                yield from parts[0]

    def finish_sending(self) -> None:
        for conn in self._conns:
            self._queue.put((conn, b""))
        self._stop_sender()

    def _stop_sender(self) -> None:
        if self._sender is not None:
            self._queue.put(None)
            self._sender.join()
            self._sender = None

    def results(self) -> list[_PartResult]:
        """The workers' results, in partition order (waits for each one to finish)."""
        out = []
        for part, (conn, proc) in enumerate(zip(self._conns, self._procs, strict=True), 1):
            try:
                status, value = conn.recv()
            except EOFError:
                proc.join()
                raise RuntimeError(
                    f"recommendation partition {part} stopped without a result "
                    f"(exit code {proc.exitcode})"
                ) from None
            if status != "done":
                raise RuntimeError(f"recommendation partition {part} failed:\n{value}")
            self.spools[part].count = value.policies
            proc.join()
            out.append(value)
        return out

    def close(self) -> None:
        """Stop the workers (if still running) and drop the spools."""
        for proc in self._procs:  # first: a sender blocked on a worker's pipe then fails
            if proc.is_alive():
                proc.terminate()
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()
        while self._sender is not None:
            with contextlib.suppress(queue.Empty):  # room for the stop: drop unsent rows
                while True:
                    self._queue.get_nowait()
            self._stop_sender()
        for conn in self._conns:
            conn.close()
        for spool in self.spools:
            spool.close()

    def merged_rows(self) -> Iterator[tuple]:
        """Every partition's spooled rows in the run's order, with positions; the static
        policies, which every partition made, once."""
        previous = None
        position = 0
        for order, row in heapq.merge(*(s.rows() for s in self.spools), key=lambda r: r[0]):
            if order == previous:
                if order[0] == 0:
                    continue
                raise RuntimeError(f"two partitions made the policies of {order}")
            previous = order
            yield (position, *row)
            position += 1


def _store_policies(
    session: Session,
    sql: SqlLibrary,
    run_id: str,
    rows: Iterable[tuple],
    finish: Callable[[int], None],
) -> int:
    """Store the rows (in :data:`_ROW_KEYS` order) in commits of about :data:`COMMIT_BYTES`
    of text, the last one with ``finish(count)``; returns how many rows.

    A run's policies can be hundreds of megabytes: one commit would make the engine hold (and
    compress) all of them at once. Until the last commit the run reads ``running``; a run that
    fails removes what it stored (see :func:`_record_failure`)."""
    query = sql.render(
        "recommendation/insert_recommended_policies.sql",
        binds={"run_id": run_id},
        row_binds=_ROW_KEYS,
    )
    count = 0
    chunk: list[dict[str, Any]] = []
    size = 0
    for row in rows:
        chunk.append(dict(zip(_ROW_KEYS, row, strict=True)))
        size += len(row[5]) + len(row[12])  # the YAML and the evidence
        if size >= COMMIT_BYTES:
            with session.transaction():
                count += session.insert_rows(query, chunk)
            chunk.clear()
            size = 0
    with session.transaction():
        count += session.insert_rows(query, chunk)
        finish(count)
    return count


def _record_failure(warehouse: Warehouse, sql: SqlLibrary, run_id: str, error: BaseException) -> None:
    with warehouse.session() as session, session.transaction():
        session.execute(
            sql.render("recommendation/delete_run_policies.sql", binds={"run_id": run_id})
        )
        _finish(session, sql, run_id, "failed", error=f"{type(error).__name__}: {error}"[:10000])


def _previous_digests(
    session: Session, sql: SqlLibrary, run_id: str, params_hash: str
) -> tuple[str | None, dict[str, str] | None]:
    found = session.fetch(
        sql.render(
            "recommendation/select_previous_run.sql",
            binds={"parameters_hash": params_hash, "run_id": run_id},
        )
    )
    if not found:
        return None, None
    previous = found[0]["run_id"]
    rows = session.fetch(
        sql.render("recommendation/select_policy_digests.sql", binds={"run_id": previous})
    )
    return previous, {
        f"{r['kind']}/{r['namespace'] or ''}/{r['name']}": r["yaml_sha256"] for r in rows
    }


def _finish(session: Session, sql: SqlLibrary, run_id: str, status: str, **values: Any) -> None:
    binds = {
        "run_id": run_id,
        "status": status,
        "finished_at": dt.datetime.now(dt.UTC),
        "tuple_count": None,
        "flow_count": None,
        "policy_count": None,
        "skipped_tuples": None,
        "skipped_flows": None,
        "warnings": None,
        "previous_run_id": None,
        "diff": None,
        "error": None,
    }
    binds.update(values)
    session.execute(sql.render("recommendation/finish_recommendation_run.sql", binds=binds))


@dataclass(slots=True)
class _Outcome:
    """The partitions' results put together."""

    tuple_count: int
    flow_count: int
    skipped: dict[str, dict[str, int]]
    warnings: list[str]
    digests: dict[str, str]

    @property
    def skipped_tuples(self) -> int:
        return sum(v["tuples"] for v in self.skipped.values())


def _combine(results: list[_PartResult]) -> _Outcome:
    skipped: dict[str, dict[str, int]] = {}
    for r in results:
        for reason, counts in r.skipped.items():
            total = skipped.setdefault(reason, {"tuples": 0, "flows": 0})
            total["tuples"] += counts["tuples"]
            total["flows"] += counts["flows"]
    digests: dict[str, str] = {}
    for r in results:
        digests.update(r.digests)
    return _Outcome(
        sum(r.tuple_count for r in results),
        sum(r.flow_count for r in results),
        dict(sorted(skipped.items())),
        [text for _, text in heapq.merge(*(r.warnings for r in results), key=lambda w: w[0])],
        digests,
    )


def run_policy_recommendation(
    warehouse: Warehouse,
    sql: SqlLibrary,
    *,
    window: Window,
    options: Options,
    cluster_uuid: str | None = None,
    limit: int = 0,
    run_id: str | None = None,
    workers: int | None = None,
) -> RunSummary:
    """Recommend policies for the unprotected flows in ``window``; persist and return the run.

    ``workers``: partitions of the run, each in its own process (default: one per usable
    core, at most :data:`WORKERS`). The output does not depend on it.

    Raises :class:`SelfCheckError` (after recording the run as failed) when the policies would
    block an observed flow.
    """
    began = time.monotonic()
    cluster_uuid = validate_cluster_uuid(cluster_uuid)
    limit = validate_limit(limit)
    if workers is None:
        workers = default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigurationError(f"workers={workers!r} must be an integer >= 1")
    run_id = run_id or str(uuid.uuid4())
    params = parameters_record(options, cluster_uuid, limit)
    params_hash = parameters_hash(params)
    inserted = False
    partitions: _Partitions | None = None
    # The run allocates millions of long-lived objects (rules, flows, compiled policies) and
    # frees few of them before the end: the cyclic collector would rescan them over and over,
    # so it pauses for the whole run.
    collecting = gc.isenabled()
    gc.disable()
    try:
        # The workers are forked first, before this process opens the engine.
        partitions = _Partitions(options, workers)
        # First session: record the run, then stream the reduction into the builders (the
        # fetched rows are never all in memory). The engine is released before the policies
        # are made and checked.
        with warehouse.session(streaming=True) as session:
            session.execute(
                sql.render(
                    "recommendation/insert_recommendation_run.sql",
                    binds={
                        "run_id": run_id,
                        "job_type": JOB_TYPE,
                        "policy_type": options.policy_type.value,
                        "parameters": json.dumps(params, sort_keys=True),
                        "parameters_hash": params_hash,
                        "window_start": window.start,
                        "window_end": window.end,
                        "cluster_uuid": cluster_uuid,
                        "engine": session.engine,
                        "started_at": dt.datetime.now(dt.UTC),
                    },
                )
            )
            inserted = True
            query = reduction_query(sql, window, cluster_uuid, limit, options.label_ignore_list)
            batches = iter_batches(session, query)
            collected = collect(
                partitions.route(batches), options, owners=partitions.owners
            )
            partitions.finish_sending()
        log.info(
            "run %s: distinct flow tuples in [%s, %s)%s reduced to rules in %d partitions "
            "(%.1f s)", run_id, window.start.isoformat(), window.end.isoformat(),
            f" for cluster {cluster_uuid}" if cluster_uuid else "", workers,
            time.monotonic() - began,
        )  # fmt: skip
        own = _make_and_check(collected, partitions.spools[0])
        del collected
        _trim_heap()
        log.info(
            "run %s: %d policies made, rendered and compiled here, flows replayed (%.1f s)",
            run_id, own.policies, time.monotonic() - began,
        )  # fmt: skip
        results = [own, *partitions.results()]
        for part, result in enumerate(results):
            log.info(
                "run %s: partition %d: %d policies, %d flow directions replayed, seconds %s, "
                "done at %.1f s", run_id, part, result.policies, result.replayed, result.seconds,
                result.finished - began,
            )  # fmt: skip
        outcome = _combine(results)
        _log_outcome(run_id, options, outcome)
        _check(results)
        log.info(
            "run %s: self-check replayed %d flow directions, all allowed (%.1f s)",
            run_id, sum(r.replayed for r in results), time.monotonic() - began,
        )  # fmt: skip
        # Second session: store the policies, then the run's outcome with the last commit.
        with warehouse.session(bulk_text=True) as session:
            return _persist(session, sql, run_id, params_hash, outcome, partitions, began)
    except BaseException as error:
        if inserted:
            try:
                _record_failure(warehouse, sql, run_id, error)
            except Exception:  # the original error matters more than the bookkeeping
                log.exception("could not record run %s as failed", run_id)
        raise
    finally:
        if partitions is not None:
            partitions.close()
        if collecting:
            gc.enable()


def _log_outcome(run_id: str, options: Options, outcome: _Outcome) -> None:
    log.info("run %s: %d distinct flow tuples", run_id, outcome.tuple_count)
    if outcome.tuple_count == 0:
        log.info(
            "run %s: no unprotected flows in the window; only the static policies of %s",
            run_id, options.policy_type.value,
        )  # fmt: skip
    for reason, counts in outcome.skipped.items():
        log.info(
            "run %s: skipped %d tuples (%d flows): %s",
            run_id, counts["tuples"], counts["flows"], reason,
        )  # fmt: skip
    for warning in outcome.warnings[:20]:
        log.warning("run %s: %s", run_id, warning)
    if len(outcome.warnings) > 20:
        log.warning(
            "run %s: %d more warnings in the run report", run_id, len(outcome.warnings) - 20
        )


def _check(results: list[_PartResult]) -> None:
    """Raise :class:`SelfCheckError` when any partition's self-check failed."""
    ignored = sorted({key for r in results for key in r.ignored_keys})
    if ignored:
        raise SelfCheckError(
            f"self-check failed: the recommended policies select pods by ignored label keys "
            f"{ignored}; nothing was published"
        )
    failures = (
        (
            sum(r.unconfined_count for r in results),
            "{} recommended policies may apply to pods outside the namespace they were made "
            "for ({})",
            ", ".join([name for r in results for name in r.unconfined][:10]),
        ),
        (
            sum(r.violations for r in results),
            "{} directions of observed flows would be denied by the recommended policies "
            "(first: {})",
            "; ".join([text for r in results for text in r.shown][:10]),
        ),
    )
    for count, text, shown in failures:
        if count:
            raise SelfCheckError(
                "self-check failed: " + text.format(count, shown) + "; nothing was published"
            )


def _persist(
    session: Session,
    sql: SqlLibrary,
    run_id: str,
    params_hash: str,
    outcome: _Outcome,
    partitions: _Partitions,
    began: float,
) -> RunSummary:
    previous_id, previous = _previous_digests(session, sql, run_id, params_hash)
    diff: PolicyDiff = diff_policies(previous, outcome.digests, previous_id)

    def finish(count: int) -> None:
        _finish(
            session,
            sql,
            run_id,
            "succeeded",
            tuple_count=outcome.tuple_count,
            flow_count=outcome.flow_count,
            policy_count=count,
            skipped_tuples=outcome.skipped_tuples,
            skipped_flows=json.dumps(outcome.skipped, sort_keys=True),
            warnings=json.dumps(outcome.warnings),
            previous_run_id=previous_id,
            diff=json.dumps(diff.to_record()),
        )

    count = _store_policies(session, sql, run_id, partitions.merged_rows(), finish)
    seconds = time.monotonic() - began
    log.info(
        "run %s succeeded: %d policies (%d added, %d removed, %d changed since %s) in %.1f s",
        run_id, count, len(diff.added), len(diff.removed),
        len(diff.changed), previous_id or "no previous run", seconds,
    )  # fmt: skip
    return RunSummary(
        run_id,
        "succeeded",
        outcome.tuple_count,
        outcome.flow_count,
        count,
        outcome.skipped,
        tuple(outcome.warnings),
        diff.to_record(),
        seconds,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return (
            (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).isoformat()
        )
    return value


def load_run(session: Session, sql: SqlLibrary, run_id: str) -> dict[str, Any]:
    rows = session.fetch(
        sql.render("recommendation/select_recommendation_run.sql", binds={"run_id": run_id})
    )
    if not rows:
        raise ConfigurationError(f"recommendation run {run_id!r} does not exist")
    run = {k: _jsonable(v) for k, v in rows[0].items()}
    for key in ("parameters", "skipped_flows", "warnings", "diff"):
        if run.get(key):
            run[key] = json.loads(run[key])
    return run


def publish_recommendation(
    warehouse: Warehouse, sql: SqlLibrary, store: ObjectStore, run_id: str
) -> dict[str, str]:
    """Publish a succeeded run's YAML and JSON report; return ``{"yaml": uri, "report": uri}``."""
    with warehouse.session() as session:
        run = load_run(session, sql, run_id)
        if run["status"] != "succeeded":
            raise TheiaError(
                f"run {run_id} has status {run['status']!r}; only succeeded runs are published"
            )
        _, rows = session.fetch_rows(
            sql.render("recommendation/select_run_policies.sql", binds={"run_id": run_id})
        )
        yaml_text = render_documents(r[4] for r in rows)
        report = {
            **run,
            "policies": [{"kind": r[1], "namespace": r[2], "name": r[3]} for r in rows],
        }
        uris = publish_artifacts(
            store,
            AREA,
            run_id,
            {
                YAML_NAME: yaml_text.encode(),
                REPORT_NAME: json.dumps(report, indent=2, sort_keys=True).encode(),
            },
        )
        session.execute(
            sql.render(
                "recommendation/update_run_published.sql",
                binds={
                    "run_id": run_id,
                    "yaml_uri": uris[YAML_NAME],
                    "report_uri": uris[REPORT_NAME],
                    "published_at": dt.datetime.now(dt.UTC),
                },
            )
        )
    log.info("run %s published: %s and %s", run_id, uris[YAML_NAME], uris[REPORT_NAME])
    return {"yaml": uris[YAML_NAME], "report": uris[REPORT_NAME]}


__all__ = [
    "Options",
    "RunSummary",
    "SelfCheckError",
    "Window",
    "load_run",
    "publish_recommendation",
    "run_policy_recommendation",
    "to_datetime",
]
