"""Deliver each anomaly to each sink at most once (after delivery is confirmed).

For every sink, the run's anomalies that have no ``DROP_ALERT_DELIVERIES`` row for that sink
make up one message. The rows are written only after the sink accepted the message, so a
failed delivery leaves the anomalies un-alerted and the next attempt (a retry or the next
run, which finds the same anomaly keys) sends them. No warehouse session stays open while a
sink is called: a slow webhook never holds the embedded database's lock.

If a sink accepts a message and the bookkeeping write then fails, the next attempt sends
those anomalies again (at least once, never lost).

Every analysis that alerts (drop detection, throughput anomaly detection) goes through here
with its :class:`AlertKind`: which statement lists a run's anomalies not yet delivered to a
sink, how a stored row reads as a record, and how a record reads in a message. Delivery
records of every kind share ``DROP_ALERT_DELIVERIES`` (anomaly keys never collide: each kind
hashes its own payload).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from theia_sf.alerts.message import anomaly_line, build_message
from theia_sf.alerts.model import AlertDeliveryError, AlertSink, try_send
from theia_sf.detection.model import anomaly_record_from_row
from theia_sf.sql import SqlLibrary
from theia_sf.warehouse import Warehouse

log = logging.getLogger(__name__)

_INSERT_CHUNK = 200


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    sink_id: str
    delivered: int  # anomalies carried by the message (0: nothing new, nothing sent)
    error: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {"sink_id": self.sink_id, "delivered": self.delivered, "error": self.error}


@dataclass(frozen=True, slots=True)
class AlertKind:
    """One analysis' anomalies as alert delivery sees them.

    ``pending_query``: a statement with binds ``:run_id`` and ``:sink_id`` and the structure
    flag ``undelivered_only``; ``record``: a row of it (lower-cased columns) as the anomaly's
    JSON record, which carries ``anomaly_key``; ``nouns``: what the subject counts (singular,
    plural); ``line``: a record as one line of the message text; ``delivery``: the
    (endpoint, direction, ISO day) a delivery record keeps for reading."""

    pending_query: str
    record: Callable[[dict[str, Any]], dict[str, Any]]
    nouns: tuple[str, str]
    line: Callable[[Mapping[str, Any]], str]
    delivery: Callable[[Mapping[str, Any]], tuple[str, str, str]]


DROP_ALERTS = AlertKind(
    pending_query="detection/select_drop_anomalies.sql",
    record=anomaly_record_from_row,
    nouns=("abnormal traffic drop", "abnormal traffic drops"),
    line=anomaly_line,
    delivery=lambda a: (a["endpoint"], a["direction"], a["day"]),
)


def pending_anomalies(
    warehouse: Warehouse,
    sql: SqlLibrary,
    run_id: str,
    sink_id: str,
    kind: AlertKind = DROP_ALERTS,
) -> list[dict[str, Any]]:
    """The run's anomalies not yet delivered to ``sink_id``."""
    return pending_by_sink(warehouse, sql, run_id, [sink_id], kind)[sink_id]


def pending_by_sink(
    warehouse: Warehouse,
    sql: SqlLibrary,
    run_id: str,
    sink_ids: Sequence[str],
    kind: AlertKind = DROP_ALERTS,
) -> dict[str, list[dict[str, Any]]]:
    """For each sink, the run's anomalies not yet delivered to it (one warehouse session)."""
    out = {}
    with warehouse.session(read_only=True) as session:
        for sink_id in sink_ids:
            query = sql.render(
                kind.pending_query,
                binds={"run_id": run_id, "sink_id": sink_id},
                undelivered_only=True,
            )
            out[sink_id] = [kind.record(r) for r in session.fetch(query)]
    return out


def record_deliveries(
    warehouse: Warehouse,
    sql: SqlLibrary,
    run_id: str,
    sink_id: str,
    anomalies: Sequence[Mapping[str, Any]],
    *,
    now: dt.datetime,
    kind: AlertKind = DROP_ALERTS,
) -> None:
    with warehouse.session() as session, session.transaction():
        for offset in range(0, len(anomalies), _INSERT_CHUNK):
            chunk = anomalies[offset : offset + _INSERT_CHUNK]
            binds: dict[str, Any] = {"sink_id": sink_id, "run_id": run_id, "delivered_at": now}
            for i, a in enumerate(chunk):
                endpoint, direction, day = kind.delivery(a)
                binds[f"anomaly_key_{i}"] = a["anomaly_key"]
                binds[f"endpoint_{i}"] = endpoint
                binds[f"direction_{i}"] = direction
                binds[f"anomaly_date_{i}"] = day
            session.execute(
                sql.render(
                    "detection/insert_alert_deliveries.sql", binds=binds, row_count=len(chunk)
                )
            )


def deliver_alerts(
    warehouse: Warehouse,
    sql: SqlLibrary,
    *,
    run_id: str,
    run: Mapping[str, Any],
    sinks: Sequence[AlertSink],
    now: dt.datetime | None = None,
    kind: AlertKind = DROP_ALERTS,
) -> list[DeliveryOutcome]:
    """Send each sink one message with the run's new anomalies; raise if any sink failed.

    Every sink is tried even when an earlier one fails, whatever it raised (a sink's client
    may raise anything: ``BadStatusLine``, a provider's own errors); the error names all
    failed sinks.
    """
    if not sinks:
        log.info("no alert connections configured; nothing to send")
        return []
    outcomes = []
    # One session reads what every sink still needs (on Snowflake each session may start a
    # temporary warehouse); each accepted message is then recorded right away.
    pending_for = pending_by_sink(warehouse, sql, run_id, [s.sink_id for s in sinks], kind)
    for sink in sinks:
        pending = pending_for[sink.sink_id]
        if not pending:
            log.info("alert sink %s: no new anomalies", sink.sink_id)
            outcomes.append(DeliveryOutcome(sink.sink_id, 0))
            continue
        message = build_message(pending, run, nouns=kind.nouns, line=kind.line)
        error = try_send(sink, message)
        if error is not None:
            log.error("alert sink %s: %s", sink.sink_id, error)
            outcomes.append(DeliveryOutcome(sink.sink_id, 0, error))
            continue
        record_deliveries(
            warehouse,
            sql,
            run_id,
            sink.sink_id,
            pending,
            now=now or dt.datetime.now(dt.UTC),
            kind=kind,
        )
        log.info("alert sink %s: delivered %d anomalies", sink.sink_id, len(pending))
        outcomes.append(DeliveryOutcome(sink.sink_id, len(pending)))
    failed = [o for o in outcomes if o.error]
    if failed:
        raise AlertDeliveryError(
            "alert delivery failed; the anomalies stay un-alerted and are sent on the next "
            "attempt: " + "; ".join(o.error or "" for o in failed)
        )
    return outcomes
