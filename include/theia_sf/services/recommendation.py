"""NetworkPolicy recommendation service: reduce in the warehouse, build, self-check, persist, publish.

``run_policy_recommendation`` does the analysis and records the run (``RECOMMENDATION_RUNS``,
``RECOMMENDED_POLICIES``), including the diff against the previous succeeded run with the same
parameters. ``publish_recommendation`` writes the multi-document YAML and a JSON report to the
results location (``recommendation/runs/<run_id>/`` and ``recommendation/latest/``).
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import itertools
import json
import logging
import pickle
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from theia_sf.errors import ConfigurationError, TheiaError
from theia_sf.objectstore import ObjectStore
from theia_sf.policyeval import PolicySet, Verdict, compile_policy
from theia_sf.publish import publish_artifacts
from theia_sf.recommendation.building import Collected, collect
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
INSERT_BATCH = 50  # policies per INSERT statement (parsing a long VALUES list costs more)


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


FETCH_BATCH = 50_000  # rows per fetch: the rows of a large run are never all in memory


def iter_tuples(
    session: Session, sql: SqlLibrary, window: Window, cluster_uuid: str | None, limit: int
) -> Iterator[tuple[Any, ...]]:
    """The reduction (a GROUP BY in the warehouse): distinct tuples with evidence, as plain
    tuples in FlowTuple order, read batch by batch. Consume before the next statement."""
    binds: dict[str, Any] = {"start_ts": window.start, "end_ts": window.end}
    if cluster_uuid:
        binds["cluster_uuid"] = cluster_uuid
    if limit:
        binds["limit"] = limit
    query = sql.render(
        "recommendation/select_flow_tuples.sql",
        binds=binds,
        cluster_uuid=bool(cluster_uuid),
        limit=bool(limit),
    )
    columns, batches = session.fetch_batches(query, FETCH_BATCH)
    if columns != list(TUPLE_COLUMNS):
        raise RuntimeError(f"select_flow_tuples.sql returned columns {columns}")
    for batch in batches:
        yield from batch


def fetch_tuples(
    session: Session, sql: SqlLibrary, window: Window, cluster_uuid: str | None, limit: int
) -> list[tuple[Any, ...]]:
    """All of :func:`iter_tuples` at once."""
    return list(iter_tuples(session, sql, window, cluster_uuid, limit))


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


def _policy_row(position: int, policy: RecommendedPolicy, text: str, digest: str) -> tuple:
    """The stored row of one policy, in :data:`_ROW_KEYS` order."""
    return (
        position,
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
    the self-check passed: a large run's YAML and evidence are never all in memory."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self.count = 0

    def write(self, row: tuple) -> None:
        pickle.dump(row, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1

    def rows(self) -> Iterator[tuple]:
        self._file.seek(0)
        for _ in range(self.count):
            yield pickle.load(self._file)

    def close(self) -> None:
        self._file.close()


def _insert_policies(session: Session, sql: SqlLibrary, run_id: str, rows: Iterable[tuple]) -> None:
    name = "recommendation/insert_recommended_policies.sql"
    statements: dict[int, Query] = {}
    remaining = iter(rows)
    while batch := list(itertools.islice(remaining, INSERT_BATCH)):
        binds: dict[str, Any] = {"run_id": run_id}
        for i, row in enumerate(batch):
            for key, value in zip(_ROW_KEYS, row, strict=True):
                binds[f"{key}_{i}"] = value
        # Render (and check) each batch size once; parsing a large VALUES list is not free.
        template = statements.get(len(batch))
        if template is None:
            template = statements[len(batch)] = sql.render(name, binds=binds, rows=len(batch))
        session.execute(Query(template.name, template.text, binds, template.native_duckdb))


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


def run_policy_recommendation(
    warehouse: Warehouse,
    sql: SqlLibrary,
    *,
    window: Window,
    options: Options,
    cluster_uuid: str | None = None,
    limit: int = 0,
    run_id: str | None = None,
) -> RunSummary:
    """Recommend policies for the unprotected flows in ``window``; persist and return the run.

    Raises :class:`SelfCheckError` (after recording the run as failed) when the policies would
    block an observed flow.
    """
    began = time.monotonic()
    cluster_uuid = validate_cluster_uuid(cluster_uuid)
    limit = validate_limit(limit)
    run_id = run_id or str(uuid.uuid4())
    params = parameters_record(options, cluster_uuid, limit)
    params_hash = parameters_hash(params)
    inserted = False
    spool: _Spool | None = None
    # The run allocates millions of long-lived objects (rules, flows, compiled policies) and
    # frees few of them before the end: the cyclic collector would rescan them over and over,
    # so it pauses for the whole run.
    collecting = gc.isenabled()
    gc.disable()
    try:
        # First session: record the run, then stream the reduction into the builder (the
        # fetched rows are never all in memory). The engine is released before the policies
        # are made and checked.
        with warehouse.session() as session:
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
            collected = collect(iter_tuples(session, sql, window, cluster_uuid, limit), options)
        log.info(
            "run %s: %d distinct flow tuples in [%s, %s)%s reduced to rules (%.1f s)",
            run_id, collected.tuple_count, window.start.isoformat(), window.end.isoformat(),
            f" for cluster {cluster_uuid}" if cluster_uuid else "", time.monotonic() - began,
        )  # fmt: skip
        _log_collected(run_id, collected)
        spool = _Spool()
        digests = _emit_and_check(run_id, collected, spool, began)
        # Second session: store the policies and the run's outcome in one transaction.
        with warehouse.session(bulk_text=True) as session:
            return _persist(session, sql, run_id, params_hash, collected, spool, digests, began)
    except BaseException as error:
        if inserted:
            try:
                with warehouse.session() as session:
                    _finish(
                        session, sql, run_id, "failed",
                        error=f"{type(error).__name__}: {error}"[:10000],
                    )  # fmt: skip
            except Exception:  # the original error matters more than the bookkeeping
                log.exception("could not record run %s as failed", run_id)
        raise
    finally:
        if spool is not None:
            spool.close()
        if collecting:
            gc.enable()


def _log_collected(run_id: str, collected: Collected) -> None:
    if collected.tuple_count == 0:
        log.info(
            "run %s: no unprotected flows in the window; only the static policies of %s",
            run_id, collected.options.policy_type.value,
        )  # fmt: skip
    for reason, counts in collected.skipped.items():
        log.info(
            "run %s: skipped %d tuples (%d flows): %s",
            run_id, counts["tuples"], counts["flows"], reason,
        )  # fmt: skip


def _emit_and_check(
    run_id: str, collected: Collected, spool: _Spool, began: float
) -> dict[str, str]:
    """Make, compile, render and spool every policy one at a time, then replay the flows.

    Returns the digests by policy key. Raises :class:`SelfCheckError` when an observed flow
    would be denied; nothing is stored or published then.
    """
    renderer = Renderer(collected.shared)
    memo: dict[Any, Any] = {}
    compiled = []
    digests: dict[str, str] = {}
    for position, policy in enumerate(collected.policies()):
        # The self-check compiles the manifest exactly as it is rendered and stored.
        compiled.append(compile_policy(policy.manifest, memo))
        text = renderer.render(policy.manifest)
        digest = hashlib.sha256(text.encode()).hexdigest()
        digests[policy.key] = digest
        spool.write(_policy_row(position, policy, text, digest))
    del memo, renderer
    for warning in collected.warnings[:20]:
        log.warning("run %s: %s", run_id, warning)
    if len(collected.warnings) > 20:
        log.warning(
            "run %s: %d more warnings in the run report", run_id, len(collected.warnings) - 20
        )
    log.info(
        "run %s: %d policies made, rendered and compiled (%.1f s)",
        run_id, spool.count, time.monotonic() - began,
    )  # fmt: skip
    policies = PolicySet.from_compiled(compiled)
    del compiled
    # The replayed flows carry pod labels minus the ignore list (tuples that differ only in
    # ignored labels are replayed once). That gives every flow its true verdict only while no
    # selector reads an ignored key, so this is checked first.
    ignored = policies.pod_label_keys() & set(collected.options.label_ignore_list)
    if ignored:
        raise SelfCheckError(
            f"self-check failed: the recommended policies select pods by ignored label keys "
            f"{sorted(ignored)}; nothing was published"
        )
    violations = policies.violations(collected.flows)
    if violations:
        shown = "; ".join(_describe(v) for v in violations[:10])
        raise SelfCheckError(
            f"self-check failed: {len(violations)} observed flows would be denied by the "
            f"recommended policies (first: {shown}); nothing was published"
        )
    log.info(
        "run %s: self-check replayed %d flows, all allowed (%.1f s)",
        run_id, len(collected.flows), time.monotonic() - began,
    )  # fmt: skip
    collected.flows.clear()
    return digests


def _persist(
    session: Session,
    sql: SqlLibrary,
    run_id: str,
    params_hash: str,
    collected: Collected,
    spool: _Spool,
    digests: dict[str, str],
    began: float,
) -> RunSummary:
    previous_id, previous = _previous_digests(session, sql, run_id, params_hash)
    diff: PolicyDiff = diff_policies(previous, digests, previous_id)
    with session.transaction():
        _insert_policies(session, sql, run_id, spool.rows())
        _finish(
            session,
            sql,
            run_id,
            "succeeded",
            tuple_count=collected.tuple_count,
            flow_count=collected.flow_count,
            policy_count=spool.count,
            skipped_tuples=collected.skipped_tuples,
            skipped_flows=json.dumps(collected.skipped, sort_keys=True),
            warnings=json.dumps(collected.warnings),
            previous_run_id=previous_id,
            diff=json.dumps(diff.to_record()),
        )
    seconds = time.monotonic() - began
    log.info(
        "run %s succeeded: %d policies (%d added, %d removed, %d changed since %s) in %.1f s",
        run_id, spool.count, len(diff.added), len(diff.removed),
        len(diff.changed), previous_id or "no previous run", seconds,
    )  # fmt: skip
    return RunSummary(
        run_id,
        "succeeded",
        collected.tuple_count,
        collected.flow_count,
        spool.count,
        collected.skipped,
        tuple(collected.warnings),
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
