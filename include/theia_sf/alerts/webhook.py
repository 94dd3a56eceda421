"""Generic HTTP webhook sink: POST the message as JSON (works with Slack incoming webhooks).

The HTTP exchange itself is handed in (``post``): in Airflow it is the http provider's
``HttpHook`` on the alert connection, so the core needs no HTTP client. This module owns what
Airflow's hook does not give: a total deadline per delivery, and one error type for every way
a delivery can fail.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from theia_sf.alerts.model import AlertDeliveryError, AlertMessage

T = TypeVar("T")

# Socket timeouts bound each read, not the whole exchange: a server that trickles a header
# every few seconds would hold a delivery for minutes. This bounds the exchange.
DEFAULT_DEADLINE_SECONDS = 30.0


def within_deadline(call: Callable[[], T], seconds: float, what: str) -> T:
    """``call()``'s result, or :class:`AlertDeliveryError` once ``seconds`` have passed.

    The call runs in a daemon thread; when the deadline passes it is abandoned (its socket
    timeout, or the end of the task process, ends it) and the caller moves on. Any exception
    of the call becomes an :class:`AlertDeliveryError` naming ``what``; an
    :class:`AlertDeliveryError` of the call says what went wrong after ``what``.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # handed to the caller below
            outcome["error"] = error

    worker = threading.Thread(target=run, name=f"delivery {what}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise AlertDeliveryError(f"{what} did not complete within the {seconds:g} s deadline")
    error = outcome.get("error")
    if isinstance(error, AlertDeliveryError):
        raise AlertDeliveryError(f"{what} {error}") from None
    if error is not None:
        raise AlertDeliveryError(f"{what} failed: {type(error).__name__}: {error}") from error
    return outcome["value"]


class WebhookSink:
    """POST ``{"text": ..., "anomalies": [...], ...}``; anything but a 2xx answer fails.

    ``post(body, headers)`` sends the request and returns ``(status, reason)``. ``target``
    names the receiver in messages; ``secrets`` (the secret part of the URL) are replaced by
    ``***`` in every error, since HTTP client errors quote the URL.
    """

    def __init__(
        self,
        sink_id: str,
        post: Callable[[bytes, dict[str, str]], tuple[int, str]],
        *,
        target: str,
        deadline: float = DEFAULT_DEADLINE_SECONDS,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.sink_id = sink_id
        self.post = post
        self.target = target
        self.deadline = deadline
        self.secrets = tuple(s for s in secrets if s)

    def __repr__(self) -> str:
        # The URL may embed a secret token (Slack webhooks): never print it.
        return f"WebhookSink({self.sink_id!r})"

    def send(self, message: AlertMessage) -> None:
        body = json.dumps(message.to_json(), default=str).encode()
        what = f"alert connection {self.sink_id!r} (webhook {self.target})"
        try:
            status, reason = within_deadline(
                lambda: self.post(body, {"Content-Type": "application/json"}), self.deadline, what
            )
        except AlertDeliveryError as error:
            raise AlertDeliveryError(self._redact(str(error))) from None
        if not 200 <= status < 300:
            raise AlertDeliveryError(f"{what} answered HTTP {status} {reason}".rstrip())

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text
