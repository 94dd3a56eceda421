"""Alerts: the ``AlertSink`` port, its sinks (HTTP webhook, SNS, Slack) and message formatting."""

from __future__ import annotations

from theia_sf.alerts.model import AlertDeliveryError, AlertMessage, AlertSink

__all__ = ["AlertDeliveryError", "AlertMessage", "AlertSink"]
