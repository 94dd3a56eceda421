"""The run record (``RECOMMENDATION_RUNS``): reading it, checking a run's status, and recording
how a run ended (succeeded with its counts and diff, or failed with its error)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from theia_sf.errors import ConfigurationError, TheiaError
from theia_sf.recommendation.diff import diff_policies
from theia_sf.sql import SqlLibrary
from theia_sf.warehouse import Session, Warehouse

log = logging.getLogger(__name__)

_JSON_COLUMNS = ("parameters", "skipped_flows", "warnings", "diff", "widened_blocks", "preview")


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


def jsonable(value: Any) -> Any:
    """A value of the run record as JSON has it (times: ISO 8601 in UTC)."""
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
    run = {k: jsonable(v) for k, v in rows[0].items()}
    for key in _JSON_COLUMNS:
        if run.get(key):
            run[key] = json.loads(run[key])
    return run


def require_running(session: Session, sql: SqlLibrary, run_id: str) -> dict[str, Any]:
    """The run, which must still be running (a shard that failed fails the whole run)."""
    run = load_run(session, sql, run_id)
    if run["status"] != "running":
        raise TheiaError(f"run {run_id} is {run['status']}, not running")
    return run


def require_succeeded(session: Session, sql: SqlLibrary, run_id: str) -> dict[str, Any]:
    run = load_run(session, sql, run_id)
    if run["status"] != "succeeded":
        raise TheiaError(f"run {run_id} has status {run['status']!r}, not succeeded")
    return run


def finish_run(session: Session, sql: SqlLibrary, run_id: str, status: str, **values: Any) -> None:
    """Record the run's end: ``status`` and the outcome ``values`` (the others NULL)."""
    binds = dict.fromkeys(
        ("tuple_count", "flow_count", "policy_count", "skipped_tuples", "skipped_flows",
         "warnings", "previous_run_id", "diff", "error", "widened_blocks", "preview")
    )  # fmt: skip
    binds.update(run_id=run_id, status=status, finished_at=dt.datetime.now(dt.UTC), **values)
    session.execute(sql.render("recommendation/finish_recommendation_run.sql", binds=binds))


def record_failure(
    warehouse: Warehouse, sql: SqlLibrary, run_id: str, error: BaseException
) -> None:
    """Record the run as failed with ``error``, keeping none of its policies."""
    try:
        with warehouse.session() as session, session.transaction():
            session.execute(
                sql.render("recommendation/delete_run_policies.sql", binds={"run_id": run_id})
            )
            finish_run(
                session, sql, run_id, "failed", error=f"{type(error).__name__}: {error}"[:10000]
            )
    except Exception:  # the original error matters more than the bookkeeping
        log.exception("could not record run %s as failed", run_id)


def record_success(
    session: Session,
    sql: SqlLibrary,
    run: Mapping[str, Any],
    shards: Sequence[Mapping[str, Any]],
    preview: Mapping[str, Any] | None = None,
) -> RunSummary:
    """Put the shards' counts together, diff the committed policies against the previous
    succeeded run with the same parameters and record the run as succeeded."""
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
    digests = _digests(session, sql, run_id)
    previous = session.fetch(
        sql.render(
            "recommendation/select_previous_run.sql",
            binds={"parameters_hash": run["parameters_hash"], "run_id": run_id},
        )
    )
    previous_id = previous[0]["run_id"] if previous else None
    before = _digests(session, sql, previous_id) if previous_id else None
    diff = diff_policies(before, digests, previous_id).to_record()
    tuples = sum(int(r["tuple_count"]) for r in shards)
    flows = sum(int(r["flow_count"]) for r in shards)
    finish_run(
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


def _digests(session: Session, sql: SqlLibrary, run_id: str) -> dict[str, str]:
    """Policy key -> digest of its YAML, of a run's committed policies."""
    return {
        f"{r['kind']}/{r['namespace'] or ''}/{r['name']}": r["yaml_sha256"]
        for r in session.fetch(
            sql.render("recommendation/select_policy_digests.sql", binds={"run_id": run_id})
        )
    }


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
