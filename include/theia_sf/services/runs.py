"""Run bookkeeping the anomaly-detection services share: run records, results, alerts.

Each analysis (drop detection, throughput anomaly detection) keeps one record per run in its
runs table and its anomalies next to it, publishes the two as one JSON document and alerts
once per anomaly. A :class:`RunKind` names the statements and readers of one analysis; the
services tell their own run's story and call these for the steps that are the same.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from theia_sf.alerts.dedup import AlertKind, DeliveryOutcome, deliver_alerts
from theia_sf.alerts.model import AlertSink
from theia_sf.objectstore import ObjectStore
from theia_sf.publish import publish_json
from theia_sf.sql import SqlLibrary
from theia_sf.timewindow import Window
from theia_sf.warehouse import Session, Warehouse

log = logging.getLogger(__name__)

MESSAGE_CHARS = 4000  # the runs tables' MESSAGE column
RESULTS_FILE = "anomalies.json"


def failure_message(error: BaseException) -> str:
    """What a failed run record says about the error that failed it."""
    return f"{type(error).__name__}: {error}"[:MESSAGE_CHARS]


def run_binds(
    run_id: str,
    config: Any,
    window: Window,
    *,
    status: str,
    message: str | None,
    started_at: dt.datetime,
    finished_at: dt.datetime,
) -> dict[str, Any]:
    """The binds every runs table shares; ``config`` has ``to_record()`` and ``cluster_uuid``."""
    return {
        "run_id": run_id,
        "parameters": json.dumps(config.to_record(), sort_keys=True),
        "window_start": window.start,
        "window_end": window.end,
        "cluster_uuid": config.cluster_uuid,
        "status": status,
        "message": message,
        "started_at": started_at,
        "finished_at": finished_at,
    }


def failed_binds(
    run_id: str, config: Any, window: Window, started_at: dt.datetime, error: BaseException
) -> dict[str, Any]:
    """:func:`run_binds` of a run that ``error`` failed, finished now."""
    return run_binds(
        run_id,
        config,
        window,
        status="failed",
        message=failure_message(error),
        started_at=started_at,
        finished_at=dt.datetime.now(dt.UTC),
    )


def run_fields(row: Mapping[str, Any], iso: Callable[[Any], Any]) -> dict[str, Any]:
    """The fields every runs-table row shares, as JSON (``iso`` writes its times)."""
    return {
        "run_id": row["runid"],
        "parameters": json.loads(row["parameters"]) if row["parameters"] else {},
        "window_start": iso(row["windowstart"]),
        "window_end": iso(row["windowend"]),
        "cluster_uuid": row["clusteruuid"],
        "status": row["status"],
        "started_at": iso(row["startedat"]),
        "finished_at": iso(row["finishedat"]),
    }


@dataclass(frozen=True, slots=True)
class RunKind:
    """Where one analysis keeps its runs and how a stored run reads back.

    ``area``: the SQL folder and the results area (object keys
    ``<area>/runs/<run_id>/anomalies.json`` and ``<area>/latest/anomalies.json``); the
    statements on the runs table are ``<area>/{delete,insert,select}_<area>_run.sql`` (bind
    ``:run_id``; the insert takes the run's binds); ``table``: the runs table, for messages;
    ``run_record``: a runs-table row (lower-cased columns) as the run's JSON record;
    ``alerts``: the anomalies as alert delivery sees them (its statement, with
    ``undelivered_only`` off, also lists the run's anomalies for the document);
    ``label``: how messages name a run ("drop-detection run")."""

    area: str
    table: str
    label: str
    run_record: Callable[[Mapping[str, Any]], dict[str, Any]]
    alerts: AlertKind

    def _statement(self, verb: str) -> str:
        return f"{self.area}/{verb}_{self.area}_run.sql"

    def replace_run(self, session: Session, sql: SqlLibrary, binds: Mapping[str, Any]) -> None:
        """Write the run record, replacing an earlier one of the same run (in the caller's
        transaction)."""
        run_id = binds["run_id"]
        session.execute(sql.render(self._statement("delete"), binds={"run_id": run_id}))
        session.execute(sql.render(self._statement("insert"), binds=dict(binds)))

    def record_failure(
        self, warehouse: Warehouse, sql: SqlLibrary, binds: Mapping[str, Any]
    ) -> None:
        """Best effort: leave a 'failed' run record (the original error is what gets raised)."""
        try:
            with warehouse.session() as session, session.transaction():
                self.replace_run(session, sql, binds)
        except Exception:  # the warehouse itself may be what failed
            log.warning("could not record the failure of run %s", binds["run_id"], exc_info=True)

    def load_results(self, warehouse: Warehouse, sql: SqlLibrary, run_id: str) -> dict[str, Any]:
        """The stored run and its anomalies as one JSON-able document."""
        with warehouse.session(read_only=True) as session:
            runs = session.fetch(sql.render(self._statement("select"), binds={"run_id": run_id}))
            rows = session.fetch(
                sql.render(
                    self.alerts.pending_query, binds={"run_id": run_id}, undelivered_only=False
                )
            )
        if not runs:
            raise LookupError(f"no {self.label} {run_id!r} in {self.table}")
        return {
            "run": self.run_record(runs[0]),
            "anomalies": [self.alerts.record(r) for r in rows],
        }

    def publish_results(
        self, warehouse: Warehouse, sql: SqlLibrary, store: ObjectStore, run_id: str
    ) -> dict[str, str]:
        """Write the run's document under its own key and as the area's ``latest``."""
        document = self.load_results(warehouse, sql, run_id)
        return publish_json(store, self.area, run_id, RESULTS_FILE, document)

    def send_alerts(
        self,
        warehouse: Warehouse,
        sql: SqlLibrary,
        run_id: str,
        sinks: Sequence[AlertSink],
        *,
        now: dt.datetime | None = None,
    ) -> list[DeliveryOutcome]:
        """Alert every sink once about the run's anomalies it has not been told about yet."""
        run = self.load_results(warehouse, sql, run_id)["run"] if sinks else {}
        return deliver_alerts(
            warehouse, sql, run_id=run_id, run=run, sinks=sinks, now=now, kind=self.alerts
        )
