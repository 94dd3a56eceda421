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

The parts of the steps live in :mod:`theia_sf.recommendation`: the run's parameters
(``parameters``), the reduction (``reduction``), a shard's make, self-check and staging
(``shard``), the preview's steps (``preview_run``), the run record (``runs``), the published
files (``report``) and the approval (``approval``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from theia_sf.errors import TheiaError
from theia_sf.objectstore import ObjectStore
from theia_sf.publish import promote_run_files, publish_artifacts, publish_run_files, run_key
from theia_sf.recommendation.approval import Review, approval_request, set_approval
from theia_sf.recommendation.building import collect
from theia_sf.recommendation.model import Options
from theia_sf.recommendation.parameters import (
    JOB_TYPE,
    RecommendationRequest,
    assign_shards,
    default_shards,
    parameters_hash,
    parameters_record,
)
from theia_sf.recommendation.preview_run import (
    plan_preview,
    preview_shard,
    preview_summary,
    stage_verdicts,
)
from theia_sf.recommendation.reduction import reduction_query
from theia_sf.recommendation.report import AREA, REPORT_NAME, YAML_NAME, run_files
from theia_sf.recommendation.runs import (
    RunSummary,
    jsonable,
    load_run,
    record_failure,
    record_success,
    require_running,
    require_succeeded,
)
from theia_sf.recommendation.shard import (
    make_and_check,
    shard_namespaces,
    shard_record,
    shard_rows,
    stage,
)
from theia_sf.sql import SqlLibrary
from theia_sf.warehouse import Warehouse

log = logging.getLogger(__name__)


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
    request: RecommendationRequest,
    *,
    run_id: str | None = None,
) -> RunPlan:
    """Record the run, reduce its window in the warehouse once, and split its namespaces into
    ``request.shards`` (0: :func:`~theia_sf.recommendation.parameters.default_shards`). With
    ``request.preview_days``, also reduce the preview window (see
    :mod:`theia_sf.recommendation.preview`)."""
    began = time.monotonic()
    window, options, cluster_uuid = request.window, request.options, request.cluster_uuid
    run_id = run_id or str(uuid.uuid4())
    params = parameters_record(options, cluster_uuid, request.limit)
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
                    sql, window, cluster_uuid, request.limit, options.label_ignore_list,
                    run_id=run_id,
                )
            )
            weights = session.fetch(
                sql.render("recommendation/select_namespace_weights.sql", binds={"run_id": run_id})
            )
            groups = sum(int(w["label_texts"]) for w in weights)
            ends = sum(int(w["ends"]) for w in weights)
            count = request.shards or default_shards(session.engine, groups, ends, len(weights))
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
            if request.preview_days:
                plan_preview(
                    session, sql, run_id, window, request.preview_days, cluster_uuid, options
                )
    except BaseException as error:
        record_failure(warehouse, sql, run_id, error)
        raise
    log.info(
        "run %s: flows in [%s, %s)%s reduced in the warehouse; %d namespaces in %d shards "
        "(%.1f s)", run_id, window.start.isoformat(), window.end.isoformat(),
        f" of cluster {cluster_uuid}" if cluster_uuid else "", len(weights), count,
        time.monotonic() - began,
    )  # fmt: skip
    return RunPlan(run_id, count)


# --- 2. shards -----------------------------------------------------------------------------


def run_shard(warehouse: Warehouse, sql: SqlLibrary, run_id: str, shard: int) -> dict[str, Any]:
    """Build, self-check and stage the policies of one shard of a planned run; return what
    it counted (a JSON-able record for :func:`finish_recommendation`).

    Shard 0 also makes the static policies and counts the tuples that have no namespace."""
    began = time.monotonic()
    try:
        with warehouse.session(streaming=True) as session:
            run = require_running(session, sql, run_id)
            options = Options.from_record(run["parameters"])
            owned = shard_namespaces(session, sql, run_id, shard)
            collected = collect(
                shard_rows(session, sql, run_id, shard),
                options,
                owned=owned,
                counts_orphans=shard == 0,
            )
        staged, check, policy_set = make_and_check(collected, options)
        verdicts = None
        if run.get("preview"):
            verdicts = preview_shard(warehouse, sql, run, shard, options, policy_set)
        with warehouse.session(bulk_text=True) as session, session.transaction():
            stage(session, sql, run_id, shard, collected, staged)
            if verdicts:
                stage_verdicts(session, sql, run_id, shard, verdicts)
    except BaseException as error:
        record_failure(warehouse, sql, run_id, error)
        raise
    log.info(
        "run %s shard %d: %d namespaces, %d tuples, %d policies, %d flow directions "
        "replayed, staged (%.1f s)", run_id, shard, len(owned), collected.tuple_count,
        len(staged), check, time.monotonic() - began,
    )  # fmt: skip
    return shard_record(run_id, shard, collected)


# --- 3. finish -----------------------------------------------------------------------------


def finish_recommendation(
    warehouse: Warehouse, sql: SqlLibrary, run_id: str, shards: Sequence[Mapping[str, Any]]
) -> RunSummary:
    """Commit a run whose every shard succeeded (``shards``: their records)."""
    began = time.monotonic()
    try:
        with warehouse.session(bulk_text=True) as session, session.transaction():
            run = require_running(session, sql, run_id)
            if sorted(s["shard"] for s in shards) != list(range(int(run["shard_count"] or 1))):
                raise TheiaError(f"run {run_id}: results of shards {[s['shard'] for s in shards]}")
            binds = {"run_id": run_id}
            names = ["insert_recommendation_evidence", "insert_recommended_policies"]
            if run.get("preview"):
                names.append("insert_recommendation_preview")
            for name in names:
                session.execute(sql.render(f"recommendation/{name}.sql", binds=binds))
            preview = preview_summary(session, sql, run) if run.get("preview") else None
            session.execute(
                sql.render("recommendation/delete_run_staging.sql", binds=binds, shard=None)
            )
            summary = record_success(session, sql, run, shards, preview)
    except BaseException as error:
        record_failure(warehouse, sql, run_id, error)
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


def run_policy_recommendation(
    warehouse: Warehouse,
    sql: SqlLibrary,
    request: RecommendationRequest,
    *,
    run_id: str | None = None,
) -> RunSummary:
    """Plan, run every shard here one after the other, and finish (see the module docstring).

    Raises :class:`~theia_sf.recommendation.shard.SelfCheckError` (after recording the run as
    failed) when the policies would block an observed flow."""
    run = plan_recommendation(warehouse, sql, request, run_id=run_id)
    results = [run_shard(warehouse, sql, run.run_id, shard) for shard in range(run.shards)]
    return finish_recommendation(warehouse, sql, run.run_id, results)


# --- 4. publish ---------------------------------------------------------------------------


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
        published = {
            "yaml_uri": store.uri(run_key(AREA, run_id, YAML_NAME)),
            "report_uri": store.uri(run_key(AREA, run_id, REPORT_NAME)),
            "published_at": jsonable(dt.datetime.now(dt.UTC)),
        }
        files = run_files(session, sql, run, published)
        uris = (publish_artifacts if latest else publish_run_files)(store, AREA, run_id, files)
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


# --- 5. approval before latest ------------------------------------------------------------


def request_approval(
    warehouse: Warehouse, sql: SqlLibrary, run_id: str, *, hours: int
) -> dict[str, str]:
    """Mark a published, succeeded run as waiting for approval; return its request
    (see :func:`~theia_sf.recommendation.approval.approval_request`)."""
    with warehouse.session() as session, session.transaction():
        run = require_succeeded(session, sql, run_id)
        set_approval(session, sql, run_id, "succeeded", "pending")
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
        require_succeeded(session, sql, run_id)
        if review is not None:
            if not review.approved:
                raise TheiaError(f"run {run_id} was not approved")
            set_approval(session, sql, run_id, "succeeded", review.approval, review)
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
        require_succeeded(session, sql, run_id)
        set_approval(session, sql, run_id, "rejected", review.approval, review)
    log.info(
        "run %s rejected (%s); %s/latest/ stays as it was", run_id,
        f"by {review.reviewer}" if review.reviewer else "no answer before the timeout", AREA,
    )  # fmt: skip
