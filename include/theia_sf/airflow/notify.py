"""Failure notifications: one message per failed DAG run, through the providers' notifiers.

The connections come from the ``failure_alert_connections`` deployment setting (Variable
``theia_service``). By type: ``http``/``https`` through the http provider's ``HttpNotifier``
(``HttpHook``: a JSON body with a Slack-compatible ``text``), ``slackwebhook`` through
``SlackWebhookNotifier``, ``slack`` (``channel`` extra) through ``SlackNotifier``, ``aws`` with
a ``topic_arn`` extra (or ``generic`` with one, published with ``theia_aws``) through
``SnsNotifier``.

Two callbacks work together. Each task's ``on_failure_callback`` (``DEFAULT_ARGS``) only keeps
its error in an XCom: it runs once per failed task, in the task's process, where the exception
is known. The DAG's ``on_failure_callback`` runs once per failed run (also when the run timed
out, when no task callback runs), in the DAG processor, and sends the message naming the DAG,
the run, the failed task, its log URL and that error. A notifier that fails is logged; it
cannot hide the task's own error, which is already recorded when the callbacks run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

FAILURE_XCOM = "theia_failure"
ERROR_LIMIT = 2000  # characters of the error in a message


@dataclass(frozen=True, slots=True)
class FailureMessage:
    dag_id: str
    run_id: str
    task_id: str | None
    log_url: str | None
    error: str | None
    reason: str | None = None

    @property
    def text(self) -> str:
        where = f" in task {self.task_id}" if self.task_id else ""
        head = f"theia: DAG {self.dag_id} run {self.run_id} failed{where}"
        if self.reason and self.reason != "task_failure":
            head += f" ({self.reason.replace('_', ' ')})"
        lines = [head + (f": {self.error}" if self.error else "")]
        if self.log_url:
            lines.append(f"Log: {self.log_url}")
        return "\n".join(lines)

    def to_record(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "task_id": self.task_id,
            "log_url": self.log_url,
            "error": self.error,
            "reason": self.reason,
        }


def describe_error(error: BaseException | str | None) -> str | None:
    if error is None:
        return None
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1] + "…"


def record_task_failure(context: Mapping[str, Any]) -> None:
    """Task ``on_failure_callback``: keep the error where the run's callback finds it."""
    try:
        context["ti"].xcom_push(key=FAILURE_XCOM, value=describe_error(context.get("exception")))
    except Exception:
        log.exception("could not record the task's error for the failure message")


def failure_message(context: Mapping[str, Any]) -> FailureMessage:
    ti = context.get("ti")
    dag = context.get("dag")
    dag_id = getattr(dag, "dag_id", None) or getattr(ti, "dag_id", "?")
    run_id = context.get("run_id") or getattr(ti, "run_id", "?")
    error = None
    task_id = log_url = None
    if ti is not None:
        task_id = ti.task_id
        try:
            log_url = ti.log_url
        except Exception:
            log.exception("no log URL for %s", task_id)
        try:
            error = ti.xcom_pull(task_ids=task_id, key=FAILURE_XCOM)
        except Exception:
            log.exception("could not read the error of %s", task_id)
    return FailureMessage(dag_id, run_id, task_id, log_url, error, context.get("reason"))


def _extra(conn: Any) -> dict[str, Any]:
    try:
        return dict(conn.extra_dejson or {})
    except Exception:
        return {}


def build_notifier(conn_id: str, message: FailureMessage) -> Any:
    """The provider notifier that delivers ``message`` through connection ``conn_id``."""
    from theia_sf.airflow.runtime import AWS_CONN_ID, require_connection
    from theia_sf.errors import ConfigurationError

    conn = require_connection(conn_id, "failure alerts")
    conn_type = (conn.conn_type or "").lower()
    extra = _extra(conn)
    topic = extra.get("topic_arn") or extra.get("sns_topic_arn")
    if conn_type in ("http", "https"):
        from airflow.providers.http.notifications.http import HttpNotifier

        return HttpNotifier(http_conn_id=conn_id, json=message.to_record())
    if conn_type == "slackwebhook":
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        return SlackWebhookNotifier(slack_webhook_conn_id=conn_id, text=message.text)
    if conn_type == "slack" and extra.get("channel"):
        from airflow.providers.slack.notifications.slack import SlackNotifier

        return SlackNotifier(slack_conn_id=conn_id, channel=str(extra["channel"]),
                             text=message.text)  # fmt: skip
    if conn_type in ("aws", "generic") and topic:
        from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

        return SnsNotifier(
            aws_conn_id=conn_id if conn_type == "aws" else AWS_CONN_ID,
            target_arn=str(topic),
            region_name=str(topic).split(":")[3] if str(topic).count(":") >= 5 else None,
            subject=f"theia: {message.dag_id} failed",
            message=message.text,
        )
    raise ConfigurationError(
        f"connection {conn_id!r} (type {conn.conn_type!r}) cannot carry failure alerts: use "
        "http, slackwebhook, slack with a channel extra, or aws/generic with a topic_arn extra"
    )


def send_failure_message(message: FailureMessage, conn_ids: list[str], context: Any) -> int:
    """Deliver through every connection; each failure is logged, none stops the others."""
    delivered = 0
    for conn_id in conn_ids:
        try:
            # notify(), not the notifier's __call__: the message is final text, and an error
            # text with braces must not be rendered as a template.
            build_notifier(conn_id, message).notify(context)
            delivered += 1
            log.info("failure alert sent through %s", conn_id)
        except Exception:
            log.exception("failure alert through %s was not delivered", conn_id)
    return delivered


def notify_run_failure(context: Mapping[str, Any]) -> None:
    """DAG ``on_failure_callback``: one message per failed run."""
    from theia_sf.airflow.settings import service_settings

    try:
        message = failure_message(context)
        conn_ids = list(service_settings().get("failure_alert_connections") or [])
    except Exception:
        log.exception("failure alert not sent: the run's details or the settings are unreadable")
        return
    if not conn_ids:
        log.info("no failure_alert_connections set (Variable theia_service): %s", message.text)
        return
    send_failure_message(message, conn_ids, context)
