"""Slack sink over any client with ``send(text=..., blocks=...)`` (the Slack provider's hooks).

The Airflow glue hands in the Slack provider's ``SlackWebhookHook`` (connection type
``slackwebhook``) or an adapter around ``SlackHook`` (type ``slack``, API token + channel).
"""

from __future__ import annotations

from typing import Any

from theia_sf.alerts.model import AlertDeliveryError, AlertMessage


def blocks_for(message: AlertMessage) -> list[dict[str, Any]]:
    # One section (Slack limits a section's text to 3000 characters).
    return [{"type": "section", "text": {"type": "mrkdwn", "text": message.text[:3000]}}]


class SlackSink:
    def __init__(self, sink_id: str, client: Any) -> None:
        self.sink_id = sink_id
        self.client = client

    def __repr__(self) -> str:
        return f"SlackSink({self.sink_id!r})"

    def send(self, message: AlertMessage) -> None:
        try:
            response = self.client.send(text=message.text, blocks=blocks_for(message))
        except Exception as error:  # the provider raises many types; all mean "not delivered"
            raise AlertDeliveryError(
                f"alert connection {self.sink_id!r}: Slack delivery failed: {error}"
            ) from error
        status = getattr(response, "status_code", None)
        if status is not None and not 200 <= int(status) < 300:
            raise AlertDeliveryError(
                f"alert connection {self.sink_id!r}: Slack answered HTTP {status}"
            )
