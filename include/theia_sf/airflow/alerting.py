"""Turn the ``alert_connections`` Param (Airflow connection ids) into alert sinks.

Supported connection types:

* ``http``: a generic webhook (a Slack incoming webhook works too), posted through the http
  provider's ``HttpHook`` with that connection's meaning: ``host`` is the base URL (or host,
  with ``schema`` and ``port``); every extra key is a header except the hook's options
  (``timeout`` in seconds, default 10 here; ``verify``, ``proxies``, ``cert``,
  ``allow_redirects``...); ``login``/``password`` are HTTP basic authentication. Without a
  login, ``password`` is the secret rest of the URL (path and query, e.g.
  ``/services/T000/B000/XXXX``), as the Slack provider keeps a webhook token: Airflow masks it
  in the UI, the REST API and logs, which it does not do for ``host``. Secret headers go in
  the extra under a name Airflow masks (``Authorization``, ``X-Api-Key``, ...). Each delivery
  ends within ``WEBHOOK_DEADLINE_SECONDS`` whatever the server does.
* ``aws``: an SNS topic; the ``topic_arn`` extra names it and the connection's credentials
  publish (add ``topic_arn`` to ``theia_aws`` itself, or use a separate AWS connection).
* ``generic`` with a ``topic_arn`` extra: an SNS topic published with the ``theia_aws``
  connection's credentials (in the topic's region).
* ``slackwebhook``: Slack through the Slack provider's ``SlackWebhookHook``.
* ``slack``: Slack through the provider's ``SlackHook`` (API token); ``channel`` extra required.

:func:`check_alert_connections` runs in a DAG's first task, before any warehouse work, so a
typo in a connection id fails the run at once with a message naming the Param.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from theia_sf.alerts.model import AlertDeliveryError, AlertSink
from theia_sf.errors import ConfigurationError

PARAM = "alert_connections"
WEBHOOK_TYPES = ("http",)
SNS_TYPES = ("aws", "generic")
SUPPORTED_TYPES = (*WEBHOOK_TYPES, *SNS_TYPES, "slackwebhook", "slack")
WEBHOOK_TIMEOUT_SECONDS = 10.0  # per socket operation, unless the connection sets ``timeout``
WEBHOOK_DEADLINE_SECONDS = 30.0  # the whole exchange
# Extras that once meant something to this sink; HttpHook would send them as headers.
_OLD_WEBHOOK_EXTRAS = ("headers", "endpoint")
_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]{1,256}")


def _get_connection(conn_id: str) -> Any | None:
    from theia_sf.airflow.runtime import get_connection

    return get_connection(conn_id)


def _extra(conn: Any) -> dict[str, Any]:
    try:
        return dict(conn.extra_dejson or {})
    except Exception:  # a malformed extra is reported by the checks below
        return {}


def _problem(conn_id: str, conn: Any | None) -> str | None:
    if conn is None:
        return (
            f"Airflow connection {conn_id!r} is not defined; create it (Admin > Connections or "
            f"AIRFLOW_CONN_{conn_id.upper()}) or remove it from the Param {PARAM}"
        )
    conn_type = (conn.conn_type or "").lower()
    extra = _extra(conn)
    if conn_type not in SUPPORTED_TYPES:
        return (
            f"connection {conn_id!r} has type {conn.conn_type!r}; alert sinks need one of "
            + ", ".join(SUPPORTED_TYPES)
        )
    if conn_type in WEBHOOK_TYPES and not (conn.host or "").strip():
        return f"connection {conn_id!r} (webhook) has no host/URL"
    old = [key for key in _OLD_WEBHOOK_EXTRAS if key in extra]
    if conn_type in WEBHOOK_TYPES and old:
        return (
            f"connection {conn_id!r} (webhook) has the extra {', '.join(old)}: put each header "
            "as its own extra key and the secret path of the URL in the password"
        )
    if conn_type in SNS_TYPES:
        topic = extra.get("topic_arn") or extra.get("sns_topic_arn")
        if not topic:
            return f"connection {conn_id!r} (SNS) has no 'topic_arn' in its extra"
        if not isinstance(topic, str) or not _TOPIC_ARN.fullmatch(topic):
            return f"connection {conn_id!r} (SNS): topic_arn {topic!r} is not an SNS topic ARN"
    if conn_type == "slackwebhook" and not (conn.password or "").strip():
        return f"connection {conn_id!r} (Slack webhook) has no webhook token/URL in its password"
    if conn_type == "slack" and not (conn.password or "").strip():
        return f"connection {conn_id!r} (Slack API) has no API token in its password"
    if conn_type == "slack" and not extra.get("channel"):
        return f"connection {conn_id!r} (Slack API) has no 'channel' in its extra"
    return None


def check_alert_connections(conn_ids: Sequence[str] | None) -> list[str]:
    """Validate every connection id of the Param; raise one error naming all problems."""
    ids = [c for c in (conn_ids or [])]
    problems = []
    for conn_id in ids:
        if not isinstance(conn_id, str) or not conn_id.strip():
            problems.append(f"{conn_id!r} is not a connection id")
            continue
        problem = _problem(conn_id, _get_connection(conn_id))
        if problem:
            problems.append(problem)
    if len(set(ids)) != len(ids):
        problems.append("a connection id is listed twice")
    if problems:
        raise ConfigurationError(f"invalid Param {PARAM}: " + "; ".join(problems))
    return ids


class _HttpHookPost:
    """``post(body, headers) -> (status, reason)`` through the http provider's ``HttpHook``.

    The connection is read and the session built here, in the task's own thread; the
    exchange itself may run in the deadline's worker thread.
    """

    def __init__(self, conn_id: str, conn: Any) -> None:
        from airflow.providers.http.hooks.http import HttpHook

        self.hook = HttpHook(method="POST", http_conn_id=conn_id)
        options: dict[str, Any] = {"check_response": False}
        self.timeout = _extra(conn).get("timeout")
        if self.timeout is None:
            self.timeout = options["timeout"] = WEBHOOK_TIMEOUT_SECONDS
        self.session = self.hook.get_conn(extra_options=options)
        secret_path = (conn.password or "").strip() if not conn.login else ""
        self.secrets = (secret_path, secret_path.lstrip("/")) if secret_path else ()
        self.base_url = self.hook.url_from_endpoint(None)
        self.url = self.hook.url_from_endpoint(secret_path or None)

    def __call__(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        import requests

        request = self.session.prepare_request(
            requests.Request("POST", self.url, data=body, headers=headers)
        )
        try:
            response = self.hook.run_and_check(self.session, request, self.hook.merged_extra)
        except requests.Timeout:
            raise AlertDeliveryError(f"did not answer within {self.timeout} s") from None
        except requests.ConnectionError as error:
            raise AlertDeliveryError(f"is unreachable: {error}") from None
        return int(response.status_code), str(response.reason or "")


class _SlackApiClient:
    """``send(text, blocks)`` over the provider's ``SlackHook`` (chat.postMessage)."""

    def __init__(self, conn_id: str, channel: str) -> None:
        from airflow.providers.slack.hooks.slack import SlackHook

        self.hook = SlackHook(slack_conn_id=conn_id)
        self.channel = channel

    def send(self, *, text: str, blocks: list[dict[str, Any]]) -> Any:
        return self.hook.client.chat_postMessage(channel=self.channel, text=text, blocks=blocks)


def build_sink(conn_id: str) -> AlertSink:
    conn = _get_connection(conn_id)
    problem = _problem(conn_id, conn)
    if problem:
        raise ConfigurationError(f"invalid Param {PARAM}: {problem}")
    conn_type = conn.conn_type.lower()
    extra = _extra(conn)
    if conn_type in WEBHOOK_TYPES:
        from theia_sf.alerts.webhook import WebhookSink

        post = _HttpHookPost(conn_id, conn)
        target = urlparse(post.base_url).netloc or conn_id
        return WebhookSink(
            conn_id, post, target=target, deadline=WEBHOOK_DEADLINE_SECONDS, secrets=post.secrets
        )
    if conn_type in SNS_TYPES:
        from theia_sf.alerts.sns import SnsSink

        topic = extra.get("topic_arn") or extra["sns_topic_arn"]
        if conn_type == "aws":
            from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

            client = AwsBaseHook(aws_conn_id=conn_id, client_type="sns").get_conn()
        else:
            from theia_sf.airflow.runtime import aws_client

            client = aws_client("sns", region_name=topic.split(":")[3])
        return SnsSink(conn_id, client, topic)
    from theia_sf.alerts.slack import SlackSink

    if conn_type == "slackwebhook":
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        return SlackSink(conn_id, SlackWebhookHook(slack_webhook_conn_id=conn_id))
    return SlackSink(conn_id, _SlackApiClient(conn_id, str(extra["channel"])))


def build_sinks(conn_ids: Sequence[str] | None) -> list[AlertSink]:
    return [build_sink(c) for c in check_alert_connections(conn_ids)]
