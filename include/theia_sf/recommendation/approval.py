"""Approval before ``latest``: the approver's answer (:class:`Review`), what the approver
reads (:func:`approval_request`: the policy diff, the impact preview, where the files are) and
recording the answer in the run record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from theia_sf.recommendation.report import AREA
from theia_sf.sql import SqlLibrary
from theia_sf.warehouse import Session

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


def set_approval(
    session: Session, sql: SqlLibrary, run_id: str, status: str, approval: str,
    review: Review | None = None,
) -> None:  # fmt: skip
    """Record the run's ``status`` and ``approval`` (with who answered when, if anyone did)."""
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
