"""NetworkPolicy recommendation: how a run goes.

1. :func:`plan_recommendation` records the run and has the warehouse reduce the window's
   unprotected flows to distinct tuples once, kept under the run id (``RECOMMENDATION_TUPLES``);
   then it splits the namespaces into shards of about equal work.
2. :func:`run_shard`, once per shard (the DAG maps them as Airflow tasks), reads the tuples of
   its namespaces, builds their policies, replays every observed flow through the rendered
   policies with the independent evaluator (the self-check), and stages the policies and the
   peers of their rules under the run id. A violation fails the run; nothing is published.
3. :func:`finish_recommendation` has the warehouse sum the per-peer evidence from the tuples,
   commits the staged policies in the run's order, diffs them against the previous succeeded
   run with the same parameters and records the outcome.
4. :func:`publish_recommendation` writes the multi-document YAML and a JSON report to the
   results location (``recommendation/runs/<run_id>/`` and ``recommendation/latest/``). With
   approval required, ``latest`` waits: :func:`request_approval`, then
   :func:`approve_recommendation` or :func:`reject_recommendation`.

With ``preview_days`` (see :mod:`theia_sf.recommendation.preview`), the plan also reduces the
longer preview window to tuples (``RECOMMENDATION_PREVIEW_TUPLES``), each shard replays its part
of them through its set and through the previously published one after the self-check, and
finish keeps the denied directions (``RECOMMENDATION_PREVIEW``) and summarises them in the run
record's ``preview``. Denials there are information, never a failure.

:func:`run_policy_recommendation` does 1-3 in one process, shard after shard.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import logging
import math
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from theia_sf.errors import ConfigurationError, TheiaError
from theia_sf.objectstore import ObjectStore
from theia_sf.policyeval import CompiledPolicy, PolicySet, Verdict, compile_policy
from theia_sf.publish import promote_run_files, publish_artifacts, publish_run_files, run_key
from theia_sf.recommendation import preview as impact
from theia_sf.recommendation.annotations import annotate, evidence_annotations
from theia_sf.recommendation.building import (
    Collected,
    collect,
    label_strip_patterns,
    peer_text,
    static_policies,
)
from theia_sf.recommendation.diff import diff_policies
from theia_sf.recommendation.evidence import PolicyKey, group_rules
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
FETCH_BATCH = 50_000  # rows per fetch of a shard's tuples
MAX_SHARDS = 64
# Default shards on a distributed engine: about this many workload groups each, at most 8.
GROUPS_PER_SHARD = 5_000
DEFAULT_MAX_SHARDS = 8
REPORT_TOP_PEERS = 10  # peers per rule in report.json (all of them stay in the warehouse)
PREVIEW_TOP = 10  # workloads and peers in the run record's preview summary


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
    shards: int = 1

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
            "shards": self.shards,
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


def validate_shards(value: int | None) -> int:
    """0 or None: chosen per run (see :func:`default_shards`)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SHARDS:
        raise ConfigurationError(f"shards={value!r} must be an integer from 0 (automatic) to 64")
    return value


def default_shards(engine: str, groups: int, namespaces: int) -> int:
    """The embedded engine has one writer, so its shards would only queue: one. A distributed
    engine gets one shard per :data:`GROUPS_PER_SHARD` workload groups (at most 8 and at most
    one per namespace), so its workers share a large run."""
    if engine == "duckdb":
        return 1
    wanted = math.ceil(groups / GROUPS_PER_SHARD)
    return max(1, min(DEFAULT_MAX_SHARDS, namespaces, wanted))


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


def reduction_query(
    sql: SqlLibrary,
    window: Window,
    cluster_uuid: str | None,
    limit: int,
    label_ignore_list: Iterable[str] = (),
    *,
    name: str = "recommendation/select_flow_tuples.sql",
    run_id: str | None = None,
) -> Query:
    """The reduction (a GROUP BY in the warehouse): distinct tuples with evidence in FlowTuple
    order; as ``insert_recommendation_tuples.sql``, kept under ``run_id``. Labels in
    ``label_ignore_list`` are dropped where the warehouse can do it exactly (see
    :func:`label_strip_patterns`), so tuples that differ only in them arrive as one."""
    binds: dict[str, Any] = {"start_ts": window.start, "end_ts": window.end}
    if run_id is not None:
        binds["run_id"] = run_id
    if cluster_uuid:
        binds["cluster_uuid"] = cluster_uuid
    if limit:
        binds["limit"] = limit
    patterns = label_strip_patterns(label_ignore_list)
    if patterns:
        binds["label_text_pattern"], binds["ignored_label_pattern"] = patterns
    return sql.render(
        name,
        binds=binds,
        cluster_uuid=bool(cluster_uuid),
        limit=bool(limit),
        strip_labels=bool(patterns),
    )


def fetch_tuples(
    session: Session,
    sql: SqlLibrary,
    window: Window,
    cluster_uuid: str | None,
    limit: int,
    label_ignore_list: Iterable[str] = (),
) -> list[tuple[Any, ...]]:
    """All rows of :func:`reduction_query` at once (for tests and the bench)."""
    columns, rows = session.fetch_rows(
        reduction_query(sql, window, cluster_uuid, limit, label_ignore_list)
    )
    if columns != list(TUPLE_COLUMNS):
        raise RuntimeError(f"select_flow_tuples.sql returned columns {columns}")
    return rows


# --- 1. plan -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunPlan:
    run_id: str
    shards: int

    def shard_kwargs(self) -> list[dict[str, Any]]:
        """What the DAG's shard tasks are mapped over: one set of arguments per shard."""
        return [{"recommendation_run": self.run_id, "shard": n} for n in range(self.shards)]


def plan_recommendation(
    warehouse: Warehouse,
    sql: SqlLibrary,
    *,
    window: Window,
    options: Options,
    cluster_uuid: str | None = None,
    limit: int = 0,
    shards: int | None = None,
    run_id: str | None = None,
    preview_days: int | None = 0,
) -> RunPlan:
    """Record the run, reduce its window in the warehouse once, and split its namespaces into
    ``shards`` (0 or None: :func:`default_shards`). With ``preview_days`` (None: the default
    30), also reduce the preview window (see :mod:`theia_sf.recommendation.preview`)."""
    began = time.monotonic()
    cluster_uuid = validate_cluster_uuid(cluster_uuid)
    limit = validate_limit(limit)
    shards = validate_shards(shards)
    preview_days = impact.validate_days(preview_days)
    run_id = run_id or str(uuid.uuid4())
    params = parameters_record(options, cluster_uuid, limit)
    with warehouse.session() as session:
        session.execute(
            sql.render(
                "recommendation/insert_recommendation_run.sql",
                binds={
                    "run_id": run_id,
                    "job_type": JOB_TYPE,
                    "policy_type": options.policy_type.value,
                    "parameters": json.dumps(params, sort_keys=True),
                    "parameters_hash": parameters_hash(params),
                    "window_start": window.start,
                    "window_end": window.end,
                    "cluster_uuid": cluster_uuid,
                    "engine": session.engine,
                    "started_at": dt.datetime.now(dt.UTC),
                },
            )
        )
    try:
        with warehouse.session() as session, session.transaction():
            session.execute(
                reduction_query(
                    sql, window, cluster_uuid, limit, options.label_ignore_list,
                    name="recommendation/insert_recommendation_tuples.sql", run_id=run_id,
                )
            )  # fmt: skip
            weights = session.fetch(
                sql.render("recommendation/select_namespace_weights.sql", binds={"run_id": run_id})
            )
            groups = sum(int(w["label_texts"]) for w in weights)
            count = shards or default_shards(session.engine, groups, len(weights))
            owners = assign_shards({w["namespace"]: int(w["ends"]) for w in weights}, count)
            session.insert_rows(
                sql.render(
                    "recommendation/insert_recommendation_shard.sql",
                    binds={"run_id": run_id},
                    row_binds=("namespace", "shard"),
                ),
                ({"namespace": ns, "shard": shard} for ns, shard in owners.items()),
            )
            session.execute(
                sql.render(
                    "recommendation/update_run_shards.sql",
                    binds={"run_id": run_id, "shard_count": count},
                )
            )
            if preview_days:
                _plan_preview(session, sql, run_id, window, preview_days, cluster_uuid, options)
    except BaseException as error:
        _record_failure(warehouse, sql, run_id, error)
        raise
    log.info(
        "run %s: flows in [%s, %s)%s reduced in the warehouse; %d namespaces in %d shards "
        "(%.1f s)", run_id, window.start.isoformat(), window.end.isoformat(),
        f" of cluster {cluster_uuid}" if cluster_uuid else "", len(weights), count,
        time.monotonic() - began,
    )  # fmt: skip
    return RunPlan(run_id, count)


def _plan_preview(
    session: Session,
    sql: SqlLibrary,
    run_id: str,
    window: Window,
    days: int,
    cluster_uuid: str | None,
    options: Options,
) -> None:
    """Reduce the preview window to tuples under the run id (no tuple limit: the preview is
    about all of the traffic) and note in the run record what its shards compare with."""
    start, end = impact.preview_window(window.end, days)
    session.execute(
        reduction_query(
            sql, Window(start, end), cluster_uuid, 0, options.label_ignore_list,
            name="recommendation/insert_preview_tuples.sql", run_id=run_id,
        )
    )  # fmt: skip
    published = session.fetch(
        sql.render("recommendation/select_published_run.sql", binds={"run_id": run_id})
    )
    plan = {
        "days": days,
        "window_start": _jsonable(start),
        "window_end": _jsonable(end),
        "previous_run_id": published[0]["run_id"] if published else None,
    }
    session.execute(
        sql.render(
            "recommendation/update_run_preview.sql",
            binds={"run_id": run_id, "preview": json.dumps(plan, sort_keys=True)},
        )
    )


def assign_shards(ends: Mapping[str, int], shards: int) -> dict[str, int]:
    """Namespace -> shard: the busiest namespaces first, each to the shard with the least
    work so far (ties to the lowest shard), so runs repeat."""
    loads = [0] * shards
    owners = {}
    for ns, count in sorted(ends.items(), key=lambda item: (-item[1], item[0])):
        shard = loads.index(min(loads))
        owners[ns] = shard
        loads[shard] += count
    return owners


# --- 2. shards -----------------------------------------------------------------------------


def run_shard(warehouse: Warehouse, sql: SqlLibrary, run_id: str, shard: int) -> dict[str, Any]:
    """Build, self-check and stage the policies of one shard of a planned run; return what
    it counted (a JSON-able record for :func:`finish_recommendation`).

    Shard 0 also makes the static policies and counts the tuples that have no namespace."""
    began = time.monotonic()
    try:
        with warehouse.session(streaming=True) as session:
            run = load_run(session, sql, run_id)
            if run["status"] != "running":
                raise TheiaError(f"run {run_id} is {run['status']}, not running")
            options = Options.from_record(run["parameters"])
            owned = [
                r["namespace"]
                for r in session.fetch(
                    sql.render(
                        "recommendation/select_shard_namespaces.sql",
                        binds={"run_id": run_id, "shard": shard},
                    )
                )
            ]
            collected = collect(
                _shard_rows(session, sql, run_id, shard),
                options,
                owned=owned,
                counts_orphans=shard == 0,
            )
        staged, check, policy_set = _make_and_check(collected, options)
        log.info(
            "run %s shard %d: %d namespaces, %d tuples, %d policies, %d flow directions "
            "replayed (%.1f s)", run_id, shard, len(owned), collected.tuple_count, len(staged),
            check, time.monotonic() - began,
        )  # fmt: skip
        verdicts = None
        if run.get("preview"):
            verdicts = _preview_shard(warehouse, sql, run, shard, options, policy_set)
        with warehouse.session(bulk_text=True) as session, session.transaction():
            _stage(session, sql, run_id, shard, collected, staged)
            if verdicts:
                session.insert_rows(
                    sql.render(
                        "recommendation/insert_preview_verdict.sql",
                        binds={"run_id": run_id, "shard": shard},
                        row_binds=_VERDICT_KEYS,
                    ),
                    (v.to_row() for v in verdicts),
                )
    except BaseException as error:
        _record_failure(warehouse, sql, run_id, error)
        raise
    return {
        "run_id": run_id,
        "shard": shard,
        "tuple_count": collected.tuple_count,
        "flow_count": collected.flow_count,
        "skipped": collected.skipped,
        "warnings": collected.warnings,
        "widened": {
            cidr: sorted(addresses) for cidr, addresses in collected.block_addresses.items()
        },
    }


def _preview_shard(
    warehouse: Warehouse,
    sql: SqlLibrary,
    run: Mapping[str, Any],
    shard: int,
    options: Options,
    policy_set: PolicySet,
) -> list[impact.PreviewVerdict]:
    """Replay the shard's preview tuples through its set and the previously published one."""
    began = time.monotonic()
    run_id = run["run_id"]
    previous_id = run["preview"].get("previous_run_id")
    binds = {"run_id": run_id, "shard": shard}
    with warehouse.session(streaming=True) as session:
        previous = None
        if previous_id:
            _, documents = session.fetch_rows(
                sql.render(
                    "recommendation/select_shard_previous_policies.sql",
                    binds={**binds, "previous_run_id": previous_id},
                    shard_zero=shard == 0,
                )
            )
            previous = impact.previous_set(r[0] for r in documents)
        query = sql.render(
            "recommendation/select_shard_preview_tuples.sql", binds=binds, shard_zero=shard == 0
        )
        columns, batches = session.fetch_batches(query, FETCH_BATCH)
        if columns != [*TUPLE_COLUMNS, "tuple_id", "egress_here", "ingress_here"]:
            raise RuntimeError(f"select_shard_preview_tuples.sql returned columns {columns}")
        verdicts = impact.replay(
            (row for batch in batches for row in batch), options, policy_set, previous
        )
    log.info(
        "run %s shard %d: preview replayed, %d denied directions (new set %d, set of %s %d) "
        "(%.1f s)", run_id, shard, len(verdicts), sum(1 for v in verdicts if v.denied),
        previous_id or "no published run", sum(1 for v in verdicts if v.previous),
        time.monotonic() - began,
    )  # fmt: skip
    return verdicts


_VERDICT_KEYS = (
    "tuple_id", "direction", "denied", "reason", "policy", "rule_index", "previous_denied",
    "previous_reason", "previous_policy",
)  # fmt: skip


def _shard_rows(
    session: Session, sql: SqlLibrary, run_id: str, shard: int
) -> Iterator[tuple[Any, ...]]:
    query = sql.render(
        "recommendation/select_shard_tuples.sql",
        binds={"run_id": run_id, "shard": shard},
        orphans=shard == 0,
    )
    columns, batches = session.fetch_batches(query, FETCH_BATCH)
    if columns != [*TUPLE_COLUMNS, "tuple_id"]:
        raise RuntimeError(f"select_shard_tuples.sql returned columns {columns}")
    for batch in batches:
        yield from batch


@dataclass(frozen=True, slots=True)
class _Staged:
    order: tuple[Any, ...]
    policy: RecommendedPolicy
    text: str


def _make_and_check(collected: Collected, options: Options) -> tuple[list[_Staged], int, PolicySet]:
    """Make and render every policy of the shard, and replay its flows through the rendered
    policies (plus the static ones every namespace is subject to): the self-check. Returns the
    rendered policies, how many flow directions were replayed and the checked set."""
    renderer = Renderer()
    staged: list[_Staged] = []
    compiled: list[CompiledPolicy] = []
    unconfined: list[str] = []
    for order, policy in collected.keyed_policies():
        text = renderer.render(policy.manifest)
        staged.append(_Staged(order, policy, text))
        # The self-check compiles the manifest exactly as it is rendered and stored.
        made = compile_policy(policy.manifest)
        compiled.append(made)
        if order[0] == 1 and made.applied_namespace() != order[1]:
            unconfined.append(made.ident)
    if not collected.with_static:  # another shard stages them; every shard checks with them
        compiled += [compile_policy(p.manifest) for p in static_policies(options)]
    policy_set = PolicySet.from_compiled(compiled)
    # The replayed flows carry pod labels minus the ignore list, which gives every flow its
    # true verdict only while no selector reads an ignored key; and a shard's set decides its
    # namespaces' flows only while no policy made for a namespace applies outside it.
    ignored = sorted(policy_set.pod_label_keys() & set(options.label_ignore_list))
    if ignored:
        raise SelfCheckError(
            f"self-check failed: the recommended policies select pods by ignored label keys "
            f"{ignored}; nothing was published"
        )
    if unconfined:
        raise SelfCheckError(
            f"self-check failed: {len(unconfined)} recommended policies may apply to pods "
            f"outside the namespace they were made for ({', '.join(unconfined[:10])}); "
            "nothing was published"
        )
    violations = policy_set.violations(collected.egress_flows, ingress=False)
    violations += policy_set.violations(collected.ingress_flows, egress=False)
    if violations:
        raise SelfCheckError(
            f"self-check failed: {len(violations)} directions of observed flows would be "
            f"denied by the recommended policies (first: "
            f"{'; '.join(_describe(v) for v in violations[:10])}); nothing was published"
        )
    return staged, len(collected.egress_flows) + len(collected.ingress_flows), policy_set


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


def _order_text(labels: Sequence[tuple[str, str]]) -> str:
    """Labels as a text that sorts like the labels' tuple (separators below any label
    character), so the warehouse puts staged policies in the run's order."""
    return "".join(f"{k}\x01{v}\x02" for k, v in labels)


def _stage(
    session: Session,
    sql: SqlLibrary,
    run_id: str,
    shard: int,
    collected: Collected,
    staged: list[_Staged],
) -> None:
    """Write the shard's policies, their rule peers and which tuples fed each peer (a retry
    of the shard replaces what an earlier attempt wrote)."""
    binds = {"run_id": run_id, "shard": shard}
    status = load_run(session, sql, run_id)["status"]
    if status != "running":  # another shard failed the run meanwhile
        raise TheiaError(f"run {run_id} is {status}, not running")
    session.execute(sql.render("recommendation/delete_run_staging.sql", binds=binds, shard=shard))
    session.insert_rows(
        sql.render("recommendation/insert_staged_policy.sql", binds=binds, row_binds=_STAGED_KEYS),
        (
            {
                "order_group": s.order[0],
                "order_namespace": s.order[1],
                "order_labels": _order_text(s.order[2]),
                "order_index": s.order[3],
                "kind": s.policy.kind,
                "api_version": s.policy.api_version,
                "namespace": s.policy.namespace,
                "name": s.policy.name,
                "yaml": s.text,
                "yaml_sha256": hashlib.sha256(s.text.encode()).hexdigest(),
                "rule_count": s.policy.rule_count,
            }
            for s in staged
        ),
    )
    # Hundreds of thousands of rule peers and tuples: written as columns.
    peers: dict[str, list[Any]] = {key: [] for key in _PEER_KEYS}
    for s in staged:
        count = len(s.policy.peers)
        for key, value in (
            ("kind", s.policy.kind), ("namespace", s.policy.namespace), ("name", s.policy.name)
        ):  # fmt: skip
            peers[key] += [value] * count
        peers["cell_id"] += s.policy.cells
        for rp in s.policy.peers:
            peers["direction"].append(rp.direction)
            peers["rule_index"].append(rp.rule)
            peers["peer_index"].append(rp.position)
            peers["peer"].append(peer_text(rp.peer))
    session.insert_columns(
        sql.render("recommendation/insert_rule_peer.sql", binds=binds, row_binds=_PEER_KEYS),
        peers,
    )
    session.insert_columns(
        sql.render(
            "recommendation/insert_tuple_cells.sql",
            binds=binds,
            row_binds=("tuple_id", "egress_cell", "ingress_cell"),
        ),
        {
            "tuple_id": collected.fed_tuples,
            "egress_cell": collected.fed_egress,
            "ingress_cell": collected.fed_ingress,
        },
    )


_STAGED_KEYS = (
    "order_group", "order_namespace", "order_labels", "order_index", "kind", "api_version",
    "namespace", "name", "yaml", "yaml_sha256", "rule_count",
)  # fmt: skip
_PEER_KEYS = (
    "cell_id", "kind", "namespace", "name", "direction", "rule_index", "peer_index", "peer"
)  # fmt: skip


# --- 3. finish -----------------------------------------------------------------------------


def finish_recommendation(
    warehouse: Warehouse, sql: SqlLibrary, run_id: str, shards: Sequence[Mapping[str, Any]]
) -> RunSummary:
    """Commit a run whose every shard succeeded (``shards``: their records)."""
    began = time.monotonic()
    try:
        with warehouse.session(bulk_text=True) as session, session.transaction():
            run = load_run(session, sql, run_id)
            if run["status"] != "running":
                raise TheiaError(f"run {run_id} is {run['status']}, not running")
            if sorted(s["shard"] for s in shards) != list(range(int(run["shard_count"] or 1))):
                raise TheiaError(f"run {run_id}: results of shards {[s['shard'] for s in shards]}")
            binds = {"run_id": run_id}
            names = ["insert_recommendation_evidence", "insert_recommended_policies"]
            if run.get("preview"):
                names.append("insert_recommendation_preview")
            for name in names:
                session.execute(sql.render(f"recommendation/{name}.sql", binds=binds))
            preview = _preview_summary(session, sql, run) if run.get("preview") else None
            session.execute(
                sql.render("recommendation/delete_run_staging.sql", binds=binds, shard=None)
            )
            summary = _outcome(session, sql, run, shards, preview)
    except BaseException as error:
        _record_failure(warehouse, sql, run_id, error)
        raise
    log.info(
        "run %s succeeded: %d policies (%d added, %d removed, %d changed since %s) (%.1f s)",
        run_id, summary.policy_count, len(summary.diff["added"]), len(summary.diff["removed"]),
        len(summary.diff["changed"]), summary.diff["previous_run_id"] or "no previous run",
        time.monotonic() - began,
    )  # fmt: skip
    log.info("run %s: %d distinct flow tuples", run_id, summary.tuple_count)
    if summary.tuple_count == 0:
        log.info("run %s: no unprotected flows in the window; only the static policies", run_id)
    for reason, counts in summary.skipped.items():
        log.info(
            "run %s: skipped %d tuples (%d flows): %s",
            run_id, counts["tuples"], counts["flows"], reason,
        )  # fmt: skip
    for warning in summary.warnings[:20]:
        log.warning("run %s: %s", run_id, warning)
    return summary


def _preview_summary(session: Session, sql: SqlLibrary, run: Mapping[str, Any]) -> dict[str, Any]:
    """The run record's ``preview``: counts and the busiest denied ends, summed in the
    warehouse (the preview tuples are still there; finish deletes them afterwards)."""
    plan = run["preview"]
    binds = {"run_id": run["run_id"]}
    totals = session.fetch(sql.render("recommendation/select_preview_summary.sql", binds=binds))[0]

    def top(side: str) -> list[dict[str, Any]]:
        rows = session.fetch(
            sql.render(
                "recommendation/select_preview_top.sql",
                binds={**binds, "top": PREVIEW_TOP},
                side=side,
            )
        )
        return [
            {side: r["name"], "denied_tuples": int(r["denied_tuples"]),
             "denied_flows": int(r["denied_flows"])}
            for r in rows
        ]  # fmt: skip

    return {
        "days": plan["days"],
        "window_start": plan["window_start"],
        "window_end": plan["window_end"],
        "tuples": int(totals["tuples"]),
        "denied_tuples": int(totals["denied_tuples"]),
        "denied_flows": int(totals["denied_flows"]),
        "denied_bytes": int(totals["denied_bytes"]),
        "top_workloads": top("workload"),
        "top_peers": top("peer"),
        "verdicts": {
            "previous_run_id": plan.get("previous_run_id"),
            "newly_denied": int(totals["newly_denied"]),
            "newly_allowed": int(totals["newly_allowed"]),
        },
    }


def _outcome(
    session: Session,
    sql: SqlLibrary,
    run: Mapping[str, Any],
    shards: Sequence[Mapping[str, Any]],
    preview: Mapping[str, Any] | None = None,
) -> RunSummary:
    """Put the shards' counts together, diff and record the run as succeeded."""
    run_id = run["run_id"]
    skipped: dict[str, dict[str, int]] = {}
    widened: dict[str, set[str]] = {}
    for result in shards:
        for reason, counts in result["skipped"].items():
            total = skipped.setdefault(reason, {"tuples": 0, "flows": 0})
            total["tuples"] += counts["tuples"]
            total["flows"] += counts["flows"]
        for cidr, addresses in result["widened"].items():
            widened.setdefault(cidr, set()).update(addresses)
    skipped = dict(sorted(skipped.items()))
    warnings = sorted(w for result in shards for w in result["warnings"])
    digests = {
        f"{r['kind']}/{r['namespace'] or ''}/{r['name']}": r["yaml_sha256"]
        for r in session.fetch(
            sql.render("recommendation/select_policy_digests.sql", binds={"run_id": run_id})
        )
    }
    previous = session.fetch(
        sql.render(
            "recommendation/select_previous_run.sql",
            binds={"parameters_hash": run["parameters_hash"], "run_id": run_id},
        )
    )
    previous_id = previous[0]["run_id"] if previous else None
    before = None
    if previous_id:
        before = {
            f"{r['kind']}/{r['namespace'] or ''}/{r['name']}": r["yaml_sha256"]
            for r in session.fetch(
                sql.render(
                    "recommendation/select_policy_digests.sql", binds={"run_id": previous_id}
                )
            )
        }
    diff = diff_policies(before, digests, previous_id).to_record()
    tuples = sum(int(r["tuple_count"]) for r in shards)
    flows = sum(int(r["flow_count"]) for r in shards)
    _finish(
        session, sql, run_id, "succeeded",
        tuple_count=tuples, flow_count=flows, policy_count=len(digests),
        skipped_tuples=sum(v["tuples"] for v in skipped.values()),
        skipped_flows=json.dumps(skipped, sort_keys=True), warnings=json.dumps(warnings),
        previous_run_id=previous_id, diff=json.dumps(diff),
        widened_blocks=json.dumps(widened_blocks(widened)) if widened else None,
        preview=json.dumps(preview, sort_keys=True) if preview is not None else None,
    )  # fmt: skip
    started = dt.datetime.fromisoformat(run["started_at"])
    return RunSummary(
        run_id, "succeeded", tuples, flows, len(digests), skipped, tuple(warnings), diff,
        (dt.datetime.now(dt.UTC) - started).total_seconds(), len(shards),
    )  # fmt: skip


def widened_blocks(addresses: Mapping[str, set[str]]) -> list[dict[str, Any]]:
    """Per ipBlock widened by external-peer compaction: the addresses seen in it, and how many
    more it admits that no flow of the window used."""
    return [
        {
            "cidr": cidr,
            "seen": len(seen),
            "unseen": ipaddress.ip_network(cidr).num_addresses - len(seen),
        }
        for cidr, seen in sorted(addresses.items())
    ]


def _record_failure(
    warehouse: Warehouse, sql: SqlLibrary, run_id: str, error: BaseException
) -> None:
    try:
        with warehouse.session() as session, session.transaction():
            session.execute(
                sql.render("recommendation/delete_run_policies.sql", binds={"run_id": run_id})
            )
            _finish(
                session, sql, run_id, "failed", error=f"{type(error).__name__}: {error}"[:10000]
            )
    except Exception:  # the original error matters more than the bookkeeping
        log.exception("could not record run %s as failed", run_id)


def _finish(session: Session, sql: SqlLibrary, run_id: str, status: str, **values: Any) -> None:
    binds = dict.fromkeys(
        ("tuple_count", "flow_count", "policy_count", "skipped_tuples", "skipped_flows",
         "warnings", "previous_run_id", "diff", "error", "widened_blocks", "preview")
    )  # fmt: skip
    binds.update(run_id=run_id, status=status, finished_at=dt.datetime.now(dt.UTC), **values)
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
    shards: int | None = None,
    preview_days: int | None = 0,
) -> RunSummary:
    """Plan, run every shard here one after the other, and finish (see the module docstring).

    Raises :class:`SelfCheckError` (after recording the run as failed) when the policies would
    block an observed flow."""
    plan = plan_recommendation(
        warehouse, sql, window=window, options=options, cluster_uuid=cluster_uuid,
        limit=limit, shards=shards, run_id=run_id, preview_days=preview_days,
    )  # fmt: skip
    results = [run_shard(warehouse, sql, plan.run_id, shard) for shard in range(plan.shards)]
    return finish_recommendation(warehouse, sql, plan.run_id, results)


# --- reading and publishing ----------------------------------------------------------------


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
    for key in ("parameters", "skipped_flows", "warnings", "diff", "widened_blocks", "preview"):
        if run.get(key):
            run[key] = json.loads(run[key])
    return run


def rule_evidence(
    session: Session, sql: SqlLibrary, run_id: str, top: int | None = None
) -> dict[PolicyKey, list[dict[str, Any]]]:
    """Policy (kind, namespace, name) -> its rules in order, each with its peers busiest first
    (at most ``top`` of them) and their evidence (see :func:`group_rules`)."""
    query = sql.render(
        "recommendation/select_run_evidence.sql",
        binds={"run_id": run_id, **({"top": top} if top else {})},
        one_policy=False,
        top=bool(top),
    )
    return group_rules(session.fetch(query))


def _annotated(run: Mapping[str, Any], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The run's documents with their evidence annotations (see
    :mod:`theia_sf.recommendation.annotations`); rows of ``select_run_policies.sql``."""
    for r in rows:
        yield annotate(
            r[4],
            evidence_annotations(
                run["run_id"], run["window_start"], run["window_end"], r[5], r[6], r[7], r[8]
            ),
        )


def publish_recommendation(
    warehouse: Warehouse, sql: SqlLibrary, store: ObjectStore, run_id: str, *, latest: bool = True
) -> dict[str, str]:
    """Publish a succeeded run's YAML and JSON report; return ``{"yaml": uri, "report": uri}``
    (the run's own URIs). ``latest=False``: only under the run's key, for a run that waits for
    approval (:func:`approve_recommendation` moves ``latest`` then).

    The report describes itself: it carries the time and the URIs of this publication."""
    with warehouse.session() as session:
        run = load_run(session, sql, run_id)
        if run["status"] != "succeeded":
            raise TheiaError(
                f"run {run_id} has status {run['status']!r}; only succeeded runs are published"
            )
        _, rows = session.fetch_rows(
            sql.render("recommendation/select_run_policies.sql", binds={"run_id": run_id})
        )
        evidence = rule_evidence(session, sql, run_id, top=REPORT_TOP_PEERS)
        published = {
            "yaml_uri": store.uri(run_key(AREA, run_id, YAML_NAME)),
            "report_uri": store.uri(run_key(AREA, run_id, REPORT_NAME)),
            "published_at": _jsonable(dt.datetime.now(dt.UTC)),
        }
        report = {
            **{k: v for k, v in run.items() if k not in APPROVAL_KEYS},
            **published,
            "policies": [
                {
                    "kind": r[1],
                    "namespace": r[2],
                    "name": r[3],
                    "rules": evidence.get((r[1], r[2], r[3]), []),
                }
                for r in rows
            ],
        }
        uris = (publish_artifacts if latest else publish_run_files)(
            store,
            AREA,
            run_id,
            {
                YAML_NAME: render_documents(_annotated(run, rows)).encode(),
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
                    "published_at": dt.datetime.fromisoformat(published["published_at"]),
                },
            )
        )
    log.info(
        "run %s published: %s and %s%s", run_id, uris[YAML_NAME], uris[REPORT_NAME],
        "" if latest else " (recommendation/latest/ waits for approval)",
    )  # fmt: skip
    return {"yaml": uris[YAML_NAME], "report": uris[REPORT_NAME]}


# --- approval before latest ----------------------------------------------------------------

APPROVAL_KEYS = ("approval", "reviewer", "reviewed_at")  # decided after the run's files exist
APPROVAL_NAMES = 5  # policy names per diff list shown to the approver
APPROVAL_TOP = 5  # workloads / peers of the impact preview shown to the approver


@dataclass(frozen=True, slots=True)
class Review:
    """An approver's answer (``reviewer`` None: nobody answered before the timeout)."""

    approved: bool
    reviewer: str | None
    reviewed_at: dt.datetime
    timed_out: bool = False

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Review:
        """From ``{"approved", "reviewer", "reviewed_at" (ISO 8601), "timed_out"}``."""
        return cls(
            bool(record["approved"]),
            record.get("reviewer"),
            dt.datetime.fromisoformat(str(record["reviewed_at"])),
            bool(record.get("timed_out")),
        )

    @property
    def approval(self) -> str:
        return "approved" if self.approved else ("timed_out" if self.timed_out else "rejected")


def approval_request(run: Mapping[str, Any], *, hours: int) -> dict[str, str]:
    """What the approver reads: a subject and a Markdown body with the run's policy diff, its
    impact preview (when the run has one) and where its YAML and report are."""
    diff = run.get("diff") or {}
    added, removed, changed = (list(diff.get(k) or ()) for k in ("added", "removed", "changed"))
    short = str(run["run_id"])[:8]
    subject = (
        f"Publish policy recommendation {short}? "
        f"{run.get('policy_count') or 0} policies: +{len(added)} added, -{len(removed)} removed, "
        f"~{len(changed)} changed"
    )
    lines = [
        f"Run `{run['run_id']}` ({run.get('policy_type')}) recommends "
        f"**{run.get('policy_count') or 0} policies** from {_count(run.get('tuple_count'))} "
        f"distinct flow tuples ({_count(run.get('flow_count'))} flows) of the window "
        f"{_when(run.get('window_start'))} to {_when(run.get('window_end'))}.",
        "",
        "### Changes",
    ]
    previous = diff.get("previous_run_id")
    if previous:
        lines.append(
            f"Against run `{previous}`: {len(added)} added, {len(removed)} removed, "
            f"{len(changed)} changed, {diff.get('unchanged', 0)} unchanged."
        )
    else:
        lines.append("No earlier run with these parameters: every policy is new.")
    for title, names in (("Added", added), ("Removed", removed), ("Changed", changed)):
        if names:
            shown = ", ".join(f"`{n}`" for n in names[:APPROVAL_NAMES])
            more = f" and {len(names) - APPROVAL_NAMES} more" if len(names) > APPROVAL_NAMES else ""
            lines.append(f"- {title}: {shown}{more}")
    lines += ["", "### Impact preview", *_preview_lines(run.get("preview"))]
    if run.get("warnings"):
        lines += ["", f"The run has {len(run['warnings'])} warnings (see the report)."]
    lines += [
        "",
        "### Files",
        f"- Policies: {run.get('yaml_uri') or 'not published'}",
        f"- Report: {run.get('report_uri') or 'not published'}",
        "",
        f"**Approve** makes these policies `{AREA}/latest/` and updates the asset "
        f"`theia_recommended_policies`. **Reject**, or no answer within {hours} hours, records "
        f"the run as rejected and leaves `{AREA}/latest/` as it is.",
    ]
    return {"subject": subject, "body": "\n".join(lines)}


def _preview_lines(preview: Mapping[str, Any] | None) -> list[str]:
    if not preview:
        return ["No impact preview for this run."]
    window = f"{_when(preview.get('window_start'))} to {_when(preview.get('window_end'))}"
    denied = int(preview.get("denied_tuples") or 0)
    if not denied:
        lines = [
            f"Replaying the {_count(preview.get('tuples'))} flow tuples of the last "
            f"{preview.get('days')} days ({window}) through these policies denies none of them."
        ]
    else:
        lines = [
            f"Replaying the {_count(preview.get('tuples'))} flow tuples of the last "
            f"{preview.get('days')} days ({window}) through these policies **denies "
            f"{_count(denied)} tuples** ({_count(preview.get('denied_flows'))} flows, "
            f"{_count(preview.get('denied_bytes'))} bytes): traffic seen then but not in the "
            "run's window.",
        ]
        for title, key, name in (("workloads", "top_workloads", "workload"),
                                 ("peers", "top_peers", "peer")):  # fmt: skip
            top = list(preview.get(key) or ())[:APPROVAL_TOP]
            if top:
                lines.append(f"- Most denied {title}: " + ", ".join(
                    f"`{item.get(name)}` ({_count(item.get('denied_tuples'))} tuples, "
                    f"{_count(item.get('denied_flows'))} flows)"
                    for item in top
                ))  # fmt: skip
    verdicts = preview.get("verdicts") or {}
    if verdicts.get("previous_run_id"):
        lines.append(
            f"- Against the set of run `{verdicts['previous_run_id']}`: "
            f"{_count(verdicts.get('newly_denied'))} tuples newly denied, "
            f"{_count(verdicts.get('newly_allowed'))} newly allowed."
        )
    return lines


def _count(value: Any) -> str:
    return f"{int(value or 0):,}"


def _when(value: Any) -> str:
    if not value:
        return "?"
    moment = dt.datetime.fromisoformat(str(value)) if not isinstance(value, dt.datetime) else value
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def request_approval(
    warehouse: Warehouse, sql: SqlLibrary, run_id: str, *, hours: int
) -> dict[str, str]:
    """Mark a published, succeeded run as waiting for approval; return its request
    (see :func:`approval_request`)."""
    with warehouse.session() as session, session.transaction():
        run = _succeeded_run(session, sql, run_id)
        _set_approval(session, sql, run_id, "succeeded", "pending")
    return approval_request(run, hours=hours)


def approve_recommendation(
    warehouse: Warehouse,
    sql: SqlLibrary,
    store: ObjectStore,
    run_id: str,
    review: Review | None = None,
) -> dict[str, str]:
    """Point ``recommendation/latest/`` at a succeeded run's published files, recording the
    approval first when one was asked (``review``); return the ``latest`` URIs."""
    with warehouse.session() as session, session.transaction():
        _succeeded_run(session, sql, run_id)
        if review is not None:
            if not review.approved:
                raise TheiaError(f"run {run_id} was not approved")
            _set_approval(session, sql, run_id, "succeeded", review.approval, review)
    uris = promote_run_files(store, AREA, run_id, (YAML_NAME, REPORT_NAME))
    log.info("run %s is now %s/latest/", run_id, AREA)
    return {"yaml": uris[YAML_NAME], "report": uris[REPORT_NAME]}


def reject_recommendation(
    warehouse: Warehouse, sql: SqlLibrary, run_id: str, review: Review
) -> None:
    """Record a run whose approval was refused (or timed out) as ``rejected``; ``latest`` and
    the Asset stay as they are."""
    if review.approved:
        raise TheiaError(f"run {run_id} was approved, not rejected")
    with warehouse.session() as session, session.transaction():
        _succeeded_run(session, sql, run_id)
        _set_approval(session, sql, run_id, "rejected", review.approval, review)
    log.info(
        "run %s rejected (%s); %s/latest/ stays as it was", run_id,
        f"by {review.reviewer}" if review.reviewer else "no answer before the timeout", AREA,
    )  # fmt: skip


def _succeeded_run(session: Session, sql: SqlLibrary, run_id: str) -> dict[str, Any]:
    run = load_run(session, sql, run_id)
    if run["status"] != "succeeded":
        raise TheiaError(f"run {run_id} has status {run['status']!r}, not succeeded")
    return run


def _set_approval(
    session: Session, sql: SqlLibrary, run_id: str, status: str, approval: str,
    review: Review | None = None,
) -> None:  # fmt: skip
    session.execute(
        sql.render(
            "recommendation/update_run_approval.sql",
            binds={
                "run_id": run_id,
                "status": status,
                "approval": approval,
                "reviewer": review.reviewer if review else None,
                "reviewed_at": review.reviewed_at if review else None,
            },
        )
    )


__all__ = [
    "Options",
    "Review",
    "RunPlan",
    "RunSummary",
    "SelfCheckError",
    "Window",
    "approval_request",
    "approve_recommendation",
    "finish_recommendation",
    "load_run",
    "plan_recommendation",
    "publish_recommendation",
    "reject_recommendation",
    "request_approval",
    "run_policy_recommendation",
    "run_shard",
    "to_datetime",
]
