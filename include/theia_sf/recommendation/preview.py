"""The impact preview: what a recommended set would deny of a longer window's traffic (pure).

A set allows exactly the unprotected flows of its run's window (the self-check proves it).
The preview replays the distinct tuples of a longer window (``preview_days``, ending where the
run's window ends) through it with the same evaluator and the same tuple-to-flow reading as the
self-check, and through the previously published set, so a reviewer sees the traffic the new
set would block and how that differs from what is deployed now.

Like the self-check, a shard decides the egress direction of tuples whose source namespace it
owns and the ingress direction of those whose destination it owns (its set holds the policies
of those namespaces and the static ones, the only ones that can apply to their pods).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from theia_sf.errors import ConfigurationError
from theia_sf.policyeval import Decision, Flow, PolicySet, compile_policy
from theia_sf.recommendation.building import TUPLE_ID, Builder
from theia_sf.recommendation.model import Options

DEFAULT_DAYS = 30
MAX_DAYS = 90
EGRESS_HERE = TUPLE_ID + 1  # row positions after the tuple id (select_shard_preview_tuples.sql)
INGRESS_HERE = TUPLE_ID + 2


def validate_days(value: int | None) -> int:
    """``preview_days``: 0 (no preview) to :data:`MAX_DAYS`; None: :data:`DEFAULT_DAYS`."""
    if value is None:
        return DEFAULT_DAYS
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        raise ConfigurationError(
            f"preview_days={value!r} must be an integer from 0 (no preview) to {MAX_DAYS}"
        )
    return value


def preview_window(end: dt.datetime, days: int) -> tuple[dt.datetime, dt.datetime]:
    """[end - days, end): the preview window of a run whose window ends at ``end``."""
    return end - dt.timedelta(days=days), end


@dataclass(frozen=True, slots=True)
class PreviewVerdict:
    """One direction of a preview tuple that the new set or the previous one denies."""

    tuple_id: int
    direction: str  # "egress" or "ingress"
    denied: Decision | None  # the new set's deciding denial, None: allowed
    previous: Decision | None  # the previous set's, None: allowed (or no previous set)

    def to_row(self) -> dict[str, Any]:
        new, old = self.denied, self.previous
        return {
            "tuple_id": self.tuple_id,
            "direction": self.direction,
            "denied": new is not None,
            "reason": new.reason if new else None,
            "policy": new.policy if new else None,
            "rule_index": new.rule if new else None,
            "previous_denied": old is not None,
            "previous_reason": old.reason if old else None,
            "previous_policy": old.policy if old else None,
        }


def previous_set(documents: Iterable[str]) -> PolicySet:
    """The previously published set from its stored YAML documents."""
    return PolicySet.from_compiled(compile_policy(yaml.safe_load(text)) for text in documents)


def replay(
    rows: Iterable[Sequence[Any]],
    options: Options,
    new: PolicySet,
    previous: PolicySet | None,
) -> list[PreviewVerdict]:
    """Replay preview rows (FlowTuple columns, tuple id, egress_here, ingress_here) through
    ``new`` and ``previous``; return every direction one of them denies, in row order.

    Tuples the builder cannot read (skipped by the run for the same reason) are not replayed."""
    builder = Builder(options)  # reads every row whole; the flags say which directions count
    egress: dict[Flow, list[int]] = {}
    ingress: dict[Flow, list[int]] = {}
    for row in rows:
        builder.egress_flows.clear()
        builder.ingress_flows.clear()
        builder.add(row[:TUPLE_ID])
        tuple_id = int(row[TUPLE_ID])
        if row[EGRESS_HERE]:
            for flow in builder.egress_flows:
                egress.setdefault(flow, []).append(tuple_id)
        if row[INGRESS_HERE]:
            for flow in builder.ingress_flows:
                ingress.setdefault(flow, []).append(tuple_id)
    out: list[PreviewVerdict] = []
    for direction, flows in (("egress", egress), ("ingress", ingress)):
        is_egress = direction == "egress"
        denied_now = _denials(new, flows, is_egress)
        denied_before = _denials(previous, flows, is_egress) if previous else {}
        for flow in {**denied_now, **denied_before}:
            for tuple_id in flows[flow]:
                out.append(
                    PreviewVerdict(
                        tuple_id, direction, denied_now.get(flow), denied_before.get(flow)
                    )
                )
    out.sort(key=lambda v: (v.tuple_id, v.direction))
    return out


def _denials(policies: PolicySet, flows: Mapping[Flow, Any], egress: bool) -> dict[Flow, Decision]:
    verdicts = policies.violations(flows, egress=egress, ingress=not egress)
    return {v.flow: (v.egress if egress else v.ingress) for v in verdicts}
