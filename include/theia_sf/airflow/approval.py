"""Approval of a result before it is published as ``latest``: Airflow's human-in-the-loop.

:class:`ApprovalBranchOperator` is the standard provider's ``HITLBranchOperator`` with two
options, Approve and Reject, each leading to its own downstream task. The request (subject,
Markdown body, hours to wait) is built by an upstream task and arrives as an XCom, so the
approver reads what this run produced. Without a request (approval not required) the task is
skipped and waits for nothing.

On Airflow 3.3 the task parks in the ``awaiting_input`` state (no triggerer involved) until a
user answers on the "Required actions" page or through the REST API
(``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails``);
when the hours pass first, the scheduler answers with the defaults: Reject.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from airflow.providers.standard.operators.hitl import HITLBranchOperator

from theia_sf.recommendation.parameters import DEFAULT_APPROVAL_HOURS

APPROVE = "Approve"
REJECT = "Reject"


class ApprovalBranchOperator(HITLBranchOperator):
    """Wait for Approve or Reject, then run ``approve_task_id`` or ``reject_task_id``.

    ``request`` (templated; usually an upstream's XCom): a mapping whose ``approval`` item is
    ``{"subject", "body", "hours"}``, or None when no approval is required. The task's XCom is
    the answer: ``{"approved", "reviewer", "reviewed_at", "timed_out"}``.
    """

    template_fields = (*HITLBranchOperator.template_fields, "request")

    def __init__(
        self,
        *,
        request: Any,
        approve_task_id: str,
        reject_task_id: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            subject="Approval",  # replaced by the request's subject when the task runs
            options=[APPROVE, REJECT],
            defaults=[REJECT],  # what the scheduler answers when the time is up
            multiple=False,
            options_mapping={APPROVE: approve_task_id, REJECT: reject_task_id},
            # The wait of each run comes from its request; this one is the default (and keeps
            # the operator from taking the task's execution_timeout as the wait).
            response_timeout=dt.timedelta(hours=DEFAULT_APPROVAL_HOURS),
            **kwargs,
        )
        self.request = request

    def execute(self, context: Any) -> Any:
        from airflow.sdk.exceptions import AirflowSkipException

        request = (self.request or {}).get("approval") if isinstance(self.request, Mapping) else None
        if not request:
            raise AirflowSkipException("no approval required: the result is published directly")
        self.subject = request["subject"]
        self.body = request["body"]
        self.response_timeout = dt.timedelta(hours=int(request["hours"]))
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        answer = answer_record(event)
        # Branching ends the task by raising (DownstreamTasksSkipped), so a returned value
        # would never reach XCom: the answer is pushed first.
        context["ti"].xcom_push(key="return_value", value=answer)
        super().execute_complete(context, event)  # validates the answer and branches
        return answer


def answer_record(event: Mapping[str, Any]) -> dict[str, Any]:
    """The HITL answer event as the task's XCom (a timeout answers with no user)."""
    user = event.get("responded_by_user") or {}
    at = event.get("responded_at")
    return {
        "approved": list(event.get("chosen_options") or ()) == [APPROVE],
        "reviewer": user.get("name") or user.get("id") or None,
        "reviewed_at": at.isoformat() if isinstance(at, dt.datetime) else at,
        "timed_out": bool(event.get("timedout")),
    }
