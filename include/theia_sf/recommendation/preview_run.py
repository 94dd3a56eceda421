"""The impact preview's steps in a run, against the warehouse (the replay itself is
:mod:`theia_sf.recommendation.preview`): the plan reduces the preview window, each shard
replays its part of it and stages the denied directions, and the finish sums them up."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from theia_sf.policyeval import PolicySet
from theia_sf.recommendation import preview as impact
from theia_sf.recommendation.model import TUPLE_COLUMNS, Options
from theia_sf.recommendation.reduction import reduction_query
from theia_sf.recommendation.runs import jsonable
from theia_sf.recommendation.shard import FETCH_BATCH
from theia_sf.sql import SqlLibrary
from theia_sf.timewindow import Window
from theia_sf.warehouse import Session, Warehouse

log = logging.getLogger(__name__)

PREVIEW_TOP = 10  # workloads and peers in the run record's preview summary


def plan_preview(
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
            run_id=run_id, preview=True,
        )
    )  # fmt: skip
    published = session.fetch(
        sql.render("recommendation/select_published_run.sql", binds={"run_id": run_id})
    )
    plan = {
        "days": days,
        "window_start": jsonable(start),
        "window_end": jsonable(end),
        "previous_run_id": published[0]["run_id"] if published else None,
    }
    session.execute(
        sql.render(
            "recommendation/update_run_preview.sql",
            binds={"run_id": run_id, "preview": json.dumps(plan, sort_keys=True)},
        )
    )


def preview_shard(
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


def stage_verdicts(
    session: Session,
    sql: SqlLibrary,
    run_id: str,
    shard: int,
    verdicts: list[impact.PreviewVerdict],
) -> None:
    """Write the shard's denied directions (with the shard's policies, in their transaction)."""
    session.insert_rows(
        sql.render(
            "recommendation/insert_preview_verdict.sql",
            binds={"run_id": run_id, "shard": shard},
            row_binds=_VERDICT_KEYS,
        ),
        (v.to_row() for v in verdicts),
    )


def preview_summary(session: Session, sql: SqlLibrary, run: Mapping[str, Any]) -> dict[str, Any]:
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


_VERDICT_KEYS = (
    "tuple_id", "direction", "denied", "reason", "policy", "rule_index", "previous_denied",
    "previous_reason", "previous_policy",
)  # fmt: skip
