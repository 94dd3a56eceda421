"""The alert port: a sink accepts one message or raises :class:`AlertDeliveryError`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from theia_sf.errors import TheiaError


class AlertDeliveryError(TheiaError):
    """A sink did not accept a message (timeout, HTTP error, unreachable, rejected)."""


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """One message per run: a human summary plus the structured anomalies it covers."""

    subject: str
    text: str  # Slack mrkdwn-compatible plain text
    anomalies: tuple[dict[str, Any], ...]
    run: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The webhook body: Slack-compatible ``text`` plus structured data."""
        return {
            "text": self.text,
            "subject": self.subject,
            "run": self.run,
            "anomalies": list(self.anomalies),
        }


class AlertSink(Protocol):
    """Where alerts go. ``sink_id`` (the connection id) keys the dedup records."""

    sink_id: str

    def send(self, message: AlertMessage) -> None:
        """Deliver ``message`` or raise :class:`AlertDeliveryError`."""
        ...


def try_send(sink: AlertSink, message: AlertMessage) -> str | None:
    """Send ``message`` to ``sink``; None when delivered, else why it was not.

    A sink's client may raise anything (``http.client.BadStatusLine``, a provider's own
    errors), so every exception counts as "not delivered": one sink's failure never keeps
    the next sink from its delivery.
    """
    try:
        sink.send(message)
    except AlertDeliveryError as error:
        return str(error)
    except Exception as error:
        return f"alert connection {sink.sink_id!r} failed: {type(error).__name__}: {error}"
    return None
