"""SNS topic sink through a boto3 SNS client (built from the ``theia_aws`` connection)."""

from __future__ import annotations

import json
from typing import Any

from theia_sf.alerts.model import AlertDeliveryError, AlertMessage

# SNS rejects messages above 256 KiB (the per-protocol JSON counts as a whole): stay below.
MAX_MESSAGE_BYTES = 200_000


def fitted_document(message: AlertMessage, limit: int = MAX_MESSAGE_BYTES) -> str:
    """The message's JSON document, with the anomaly list cut (and flagged) if too large.

    Each protocol variant carries the document once, so it gets a share of the limit. The
    full list is always in the published ``anomalies.json``.
    """
    body = message.to_json()
    total = len(body["anomalies"])
    document = json.dumps(body, default=str)
    keep = total
    while len(document.encode()) > limit and keep > 0:
        keep //= 2
        body["anomalies"] = list(message.anomalies[:keep])
        body["truncated"] = {"anomalies_sent": keep, "anomalies_total": total}
        document = json.dumps(body, default=str)
    return document


class SnsSink:
    """Publish the message to ``topic_arn``.

    E-mail and SMS subscribers get the text; SQS, Lambda and HTTP(S) subscribers get the
    JSON document (SNS's per-protocol ``MessageStructure='json'``).
    """

    def __init__(self, sink_id: str, client: Any, topic_arn: str) -> None:
        self.sink_id = sink_id
        self.client = client
        self.topic_arn = topic_arn

    def __repr__(self) -> str:
        return f"SnsSink({self.sink_id!r}, {self.topic_arn!r})"

    def send(self, message: AlertMessage) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        # Four protocol variants carry the document: each gets a quarter of the budget.
        document = fitted_document(message, MAX_MESSAGE_BYTES // 4)
        structured = {
            "default": message.text,
            "email": message.text,
            "sqs": document,
            "lambda": document,
            "http": document,
            "https": document,
        }
        try:
            self.client.publish(
                TopicArn=self.topic_arn,
                Subject=message.subject,
                Message=json.dumps(structured),
                MessageStructure="json",
                MessageAttributes={
                    "theia_event": {"DataType": "String", "StringValue": "drop_anomalies"},
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise AlertDeliveryError(
                f"alert connection {self.sink_id!r}: publishing to SNS topic "
                f"{self.topic_arn} failed: {error}"
            ) from error
