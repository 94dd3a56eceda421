"""A run's per-peer evidence (``RECOMMENDATION_EVIDENCE``) as the report and the Theia page show
it: per policy, its rules in order, each with its peers busiest first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

PolicyKey = tuple[str, str | None, str]  # kind, namespace, name


def _time(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).isoformat()
    return value


def group_rules(rows: Iterable[Mapping[str, Any]]) -> dict[PolicyKey, list[dict[str, Any]]]:
    """Rows of ``select_run_evidence.sql`` (already in policy, rule, busiest-first order) by
    policy: ``[{"direction", "rule", "peer_count", "peers": [{"peer", "flow_count", "bytes",
    "first_seen", "last_seen"}, ...]}, ...]``."""
    out: dict[PolicyKey, list[dict[str, Any]]] = {}
    rules: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        key = (r["kind"], r["namespace"], r["name"])
        rule_key = (*key, r["direction"], int(r["rule_index"]))
        rule = rules.get(rule_key)
        if rule is None:
            rule = rules[rule_key] = {
                "direction": r["direction"],
                "rule": int(r["rule_index"]),
                "peer_count": int(r["rule_peers"]),
                "peers": [],
            }
            out.setdefault(key, []).append(rule)
        rule["peers"].append({
            "peer": r["peer"],
            "flow_count": int(r["flow_count"] or 0),
            "bytes": int(r["bytes"] or 0),
            "first_seen": _time(r["first_seen"]),
            "last_seen": _time(r["last_seen"]),
        })  # fmt: skip
    return out
