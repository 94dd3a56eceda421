"""Render a run's new anomalies as one alert message (Slack mrkdwn-compatible text).

Drop anomalies read as :func:`anomaly_line`; other analyses pass their own line and nouns."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from theia_sf.alerts.model import AlertMessage

# Long lists are cut in the text (the structured list keeps every anomaly); Slack truncates
# messages above ~40k characters and SNS rejects messages above 256 KiB.
MAX_TEXT_LINES = 20


def _fmt_number(value: Any) -> str:
    if value is None:
        return "?"
    number = float(value)
    return f"{number:.0f}" if number.is_integer() else f"{number:.1f}"


def anomaly_line(anomaly: Mapping[str, Any]) -> str:
    """``• shop/web ingress 2024-05-03: 90 drops vs baseline 4.6 ± 2.2 (top rule ...)``."""
    line = (
        f"• {anomaly['endpoint']} {anomaly['direction']} {anomaly['day']}: "
        f"{_fmt_number(anomaly['drops'])} drops vs baseline "
        f"{_fmt_number(anomaly.get('baseline_mean'))} ± {_fmt_number(anomaly.get('baseline_stdev'))}"
    )
    if anomaly.get("top_policy") or anomaly.get("top_rule"):
        line += f" (top rule: {anomaly.get('top_policy') or '?'} {anomaly.get('top_rule') or '?'})"
    return line


def build_message(
    anomalies: Sequence[Mapping[str, Any]],
    run: Mapping[str, Any],
    *,
    nouns: tuple[str, str] = ("abnormal traffic drop", "abnormal traffic drops"),
    line: Callable[[Mapping[str, Any]], str] = anomaly_line,
) -> AlertMessage:
    """One message summarising ``anomalies`` (already restricted to new ones) of ``run``."""
    count = len(anomalies)
    scope = f" in cluster {run['cluster_uuid']}" if run.get("cluster_uuid") else ""
    subject = f"Theia: {count} {nouns[0] if count == 1 else nouns[1]}{scope}"
    method = run.get("method") or run.get("algorithm") or "?"
    header = (
        f"*{subject}* (method {method}, window "
        f"{run.get('window_start', '?')} to {run.get('window_end', '?')}, run {run.get('run_id', '?')})"
    )
    lines = [line(a) for a in anomalies[:MAX_TEXT_LINES]]
    if count > MAX_TEXT_LINES:
        lines.append(f"… and {count - MAX_TEXT_LINES} more (see the anomalies list)")
    return AlertMessage(
        subject=subject[:100],  # SNS subjects are limited to 100 characters
        text="\n".join([header, *lines]),
        anomalies=tuple(dict(a) for a in anomalies),
        run=dict(run),
    )
