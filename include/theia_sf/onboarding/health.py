"""Ingestion health of a Snowflake stack: Snowpipe error notifications and pipe status.

Snowpipe publishes load errors through the notification integration to the stack's SNS
topic, which delivers them to the SQS queue wrapped in an SNS envelope (no raw delivery).
This module decodes those messages and judges the pipe's status; it does no I/O.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class PipeError:
    """One Snowpipe error notification (or an undecodable message, kept verbatim)."""

    pipe: str
    file: str
    message: str
    timestamp: str
    raw: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {
            "pipe": self.pipe,
            "file": self.file,
            "message": self.message,
            "timestamp": self.timestamp,
        }


def decode_notification(body: str) -> PipeError:
    """Decode an SQS body: the SNS envelope, then Snowpipe's error JSON inside ``Message``."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return PipeError("", "", f"undecodable message: {body[:500]}", "")
    inner: Any = envelope.get("Message", envelope) if isinstance(envelope, dict) else envelope
    if isinstance(inner, str):
        try:
            inner = json.loads(inner)
        except ValueError:
            return PipeError("", "", inner[:2000], str(envelope.get("Timestamp", "")))
    if not isinstance(inner, dict):
        return PipeError("", "", str(inner)[:2000], "")
    messages = inner.get("messages") or []
    first = messages[0] if messages and isinstance(messages[0], dict) else {}
    return PipeError(
        pipe=str(inner.get("pipeName", "")),
        file=str(first.get("fileName", inner.get("fileName", ""))),
        message=str(first.get("firstError", inner.get("error", inner.get("messageType", ""))))[
            :2000
        ],
        timestamp=str(inner.get("timestamp", envelope.get("Timestamp", ""))),
        raw=inner,
    )


@dataclass(frozen=True, slots=True)
class PipeHealth:
    state: str
    pending_files: int
    last_ingested: dt.datetime | None
    last_received: dt.datetime | None
    problems: tuple[str, ...]

    def to_record(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "pending_files": self.pending_files,
            "last_ingested": self.last_ingested.isoformat() if self.last_ingested else None,
            "last_received": self.last_received.isoformat() if self.last_received else None,
            "problems": list(self.problems),
        }


def _time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def judge_pipe(status_json: str, *, now: dt.datetime, max_lag: dt.timedelta) -> PipeHealth:
    """Problems: a pipe that is not RUNNING, or files waiting longer than ``max_lag``.

    Lag is measured from the last S3 event Snowflake received to the last file it ingested:
    new files that keep arriving without being loaded mean the pipe is behind.
    """
    status = json.loads(status_json) if status_json else {}
    state = str(status.get("executionState", "UNKNOWN"))
    pending = int(status.get("pendingFileCount", 0) or 0)
    ingested = _time(status.get("lastIngestedTimestamp"))
    received = _time(status.get("lastReceivedMessageTimestamp"))
    problems = []
    if state != "RUNNING":
        problems.append(f"pipe execution state is {state}")
    if status.get("error"):
        problems.append(f"pipe reports error: {status['error']}")
    if pending and received and (ingested is None or received - ingested > max_lag):
        behind = received - ingested if ingested else now - received
        problems.append(
            f"{pending} files pending; last ingest lags the last notification by {behind}"
        )
    elif pending and received is None and ingested and now - ingested > max_lag:
        problems.append(f"{pending} files pending and nothing ingested since {ingested}")
    return PipeHealth(state, pending, ingested, received, tuple(problems))
