"""Drop detection service: count drops in the warehouse, detect, attribute, persist, publish.

Callable from pytest with a DuckDB warehouse; the DAG ``theia_drop_detection`` wires it to
Airflow. The warehouse does the heavy lifting (one pass over the dropped flows for the daily
counts, zero-filled there; one pass restricted to the anomaly days for attribution); Python
sees only daily counts per endpoint and the top rules/peers of each anomaly.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from theia_sf.alerts.dedup import DROP_ALERTS
from theia_sf.detection.methods import detect_baseline, group_series, theia_from_sql_rows
from theia_sf.detection.model import (
    Anomaly,
    Attribution,
    DetectionConfig,
    Method,
    PeerShare,
    RuleShare,
    run_id_for,
)
from theia_sf.services import runs
from theia_sf.sql import SqlLibrary
from theia_sf.timewindow import Window
from theia_sf.warehouse import Session, Warehouse

log = logging.getLogger(__name__)

FLOWS_TABLE = "FLOWS"
RESULTS_AREA = "detection"
_ATTRIBUTION_CHUNK = 200  # anomalies per attribution query (binds per statement stay small)
_INSERT_CHUNK = 100
SUMMARY_ANOMALIES = 5


@dataclass(frozen=True, slots=True)
class DetectionResult:
    run_id: str
    config: DetectionConfig
    window: Window
    anomalies: tuple[Anomaly, ...]
    dropped_flows: int
    series_count: int
    elapsed_seconds: float

    def run_record(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "method": self.config.method.value,
            "granularity": self.config.granularity.value,
            "cluster_uuid": self.config.cluster_uuid,
            "window_start": self.window.start.isoformat(),
            "window_end": self.window.end.isoformat(),
        }

    def to_record(self) -> dict[str, Any]:
        """A small JSON-able summary (what crosses XCom)."""
        return {
            **self.run_record(),
            "parameters": self.config.to_record(),
            "dropped_flows": self.dropped_flows,
            "series_count": self.series_count,
            "anomaly_count": len(self.anomalies),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            # The strongest few, for logs and `make run`; the full list is published as JSON.
            "top_anomalies": [
                {
                    k: r[k]
                    for k in (
                        "endpoint",
                        "direction",
                        "day",
                        "drops",
                        "baseline_mean",
                        "top_policy",
                        "top_rule",
                    )
                }
                for r in (a.to_record() for a in sorted(self.anomalies, key=lambda a: -a.score))
            ][:SUMMARY_ANOMALIES],
        }


def day_range(window: Window) -> tuple[dt.date, dt.date]:
    """First and last UTC day touched by the half-open window."""
    last = (window.end - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()
    return window.start.astimezone(dt.UTC).date(), last


def _structure(config: DetectionConfig, flows_table: str) -> dict[str, Any]:
    return {
        "flows_table": flows_table,
        "granularity": config.granularity.value,
        "with_cluster": config.cluster_uuid is not None,
    }


def _window_binds(config: DetectionConfig, window: Window) -> dict[str, Any]:
    binds: dict[str, Any] = {"start_ts": window.start, "end_ts": window.end}
    if config.cluster_uuid is not None:
        binds["cluster_uuid"] = config.cluster_uuid
    return binds


@dataclass(frozen=True, slots=True)
class DailyCounts:
    """Reduced counts from the warehouse, plus totals over every series of the window."""

    rows: list[tuple[Any, ...]]  # (endpoint, direction, day, drops[, n_days, mean, stdev])
    dropped_flows: int
    series_count: int


def select_daily_counts(
    session: Session,
    sql: SqlLibrary,
    config: DetectionConfig,
    window: Window,
    *,
    min_peak: int | None = None,
    flows_table: str = FLOWS_TABLE,
) -> DailyCounts:
    """Daily counts per (endpoint, direction) from the warehouse.

    ``min_peak``: return only series with a day of at least that many drops (totals still
    count every series).
    """
    theia = config.method is Method.THEIA
    binds = _window_binds(config, window)
    if not theia:
        first, last = day_range(window)
        binds |= {"first_day": first.isoformat(), "last_day": last.isoformat()}
    if min_peak:
        binds["min_peak"] = min_peak
    query = sql.render(
        "detection/select_drop_counts.sql",
        binds=binds,
        zero_fill=not theia,  # theia keeps theia-sf's data: days with drops only
        theia_stats=theia,
        with_day_range=False,
        with_min_peak=bool(min_peak),
        **_structure(config, flows_table),
    )
    _, rows = session.fetch_rows(query)
    dropped, series = (int(rows[0][-2]), int(rows[0][-1])) if rows else (0, 0)
    return DailyCounts([r[:-2] for r in rows if r[0] is not None], dropped, series)


def select_attribution(
    session: Session,
    sql: SqlLibrary,
    config: DetectionConfig,
    window: Window,
    anomalies: Sequence[Anomaly],
    *,
    flows_table: str = FLOWS_TABLE,
) -> list[Anomaly]:
    """``anomalies`` with their top rules and peers filled in (one query per chunk)."""
    shares: dict[tuple[str, str, dt.date], dict[str, list[Any]]] = {}
    for offset in range(0, len(anomalies), _ATTRIBUTION_CHUNK):
        chunk = anomalies[offset : offset + _ATTRIBUTION_CHUNK]
        first = min(a.day for a in chunk)
        last = max(a.day for a in chunk)
        binds = _window_binds(config, window) | {
            "top_n": config.top_n,
            "range_start": dt.datetime.combine(first, dt.time(), dt.UTC),
            "range_end": dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC),
        }
        for i, a in enumerate(chunk):
            binds[f"endpoint_{i}"] = a.endpoint
            binds[f"direction_{i}"] = a.direction.value
            binds[f"day_{i}"] = a.day.isoformat()
        query = sql.render(
            "detection/select_anomaly_attribution.sql",
            binds=binds,
            with_day_range=True,
            anomaly_count=len(chunk),
            **_structure(config, flows_table),
        )
        for row in session.fetch(query):
            day = row["day"]
            day = day.date() if isinstance(day, dt.datetime) else day
            if not isinstance(day, dt.date):
                day = dt.date.fromisoformat(str(day)[:10])
            entry = shares.setdefault(
                (row["endpoint"], row["direction"], day), {"rule": [], "peer": []}
            )
            if row["kind"] == "rule":
                entry["rule"].append(
                    RuleShare(
                        policy_namespace=row["policy_namespace"],
                        policy_name=row["policy_name"],
                        rule_name=row["rule_name"],
                        policy_type=None if row["policy_type"] is None else int(row["policy_type"]),
                        drops=int(row["drops"]),
                    )
                )
            else:
                entry["peer"].append(PeerShare(peer=row["peer"], drops=int(row["drops"])))
    out = []
    for a in anomalies:
        entry = shares.get((a.endpoint, a.direction.value, a.day), {"rule": [], "peer": []})
        attribution = Attribution(
            rules=tuple(sorted(entry["rule"], key=lambda r: -r.drops)),
            peers=tuple(sorted(entry["peer"], key=lambda p: -p.drops)),
        )
        out.append(
            Anomaly(
                endpoint=a.endpoint,
                direction=a.direction,
                day=a.day,
                drops=a.drops,
                mean=a.mean,
                stdev=a.stdev,
                score=a.score,
                history_days=a.history_days,
                attribution=attribution,
            )
        )
    return out


def _insert_anomalies(
    session: Session,
    sql: SqlLibrary,
    run_id: str,
    config: DetectionConfig,
    anomalies: Sequence[Anomaly],
    now: dt.datetime,
) -> None:
    common = {
        "run_id": run_id,
        "method": config.method.value,
        "granularity": config.granularity.value,
        "cluster_uuid": config.cluster_uuid,
        "detected_at": now,
    }
    for offset in range(0, len(anomalies), _INSERT_CHUNK):
        chunk = anomalies[offset : offset + _INSERT_CHUNK]
        binds = dict(common)
        for i, a in enumerate(chunk):
            record = a.to_record()
            binds |= {
                f"anomaly_key_{i}": a.key(config),
                f"endpoint_{i}": a.endpoint,
                f"direction_{i}": a.direction.value,
                f"anomaly_date_{i}": a.day.isoformat(),
                f"drop_count_{i}": a.drops,
                f"baseline_mean_{i}": float(a.mean),
                f"baseline_stdev_{i}": float(a.stdev),
                f"score_{i}": float(a.score),
                f"history_days_{i}": a.history_days,
                f"top_policy_{i}": record["top_policy"],
                f"top_rule_{i}": record["top_rule"],
                f"top_peer_{i}": record["top_peer"],
                f"attribution_{i}": json.dumps(record["attribution"], sort_keys=True),
            }
        session.execute(
            sql.render("detection/insert_drop_anomalies.sql", binds=binds, row_count=len(chunk))
        )


def _run_columns(
    config: DetectionConfig,
    dropped_flows: int | None = None,
    series_count: int | None = None,
    anomaly_count: int | None = None,
) -> dict[str, Any]:
    """The binds of a ``DROP_DETECTION_RUNS`` record beyond :func:`runs.run_binds`."""
    return {
        "method": config.method.value,
        "granularity": config.granularity.value,
        "dropped_flows": dropped_flows,
        "series_count": series_count,
        "anomaly_count": anomaly_count,
    }


def run_drop_detection(
    warehouse: Warehouse,
    sql: SqlLibrary,
    config: DetectionConfig,
    window: Window,
    *,
    flows_table: str = FLOWS_TABLE,
    now: dt.datetime | None = None,
) -> DetectionResult:
    """Detect abnormal drops in ``window`` and store the run and its anomalies.

    Re-running the same window with the same parameters replaces that run's results; alert
    delivery records are kept, so re-runs never alert twice.
    """
    started = time.perf_counter()
    started_at = now or dt.datetime.now(dt.UTC)
    run_id = run_id_for(config, window)
    log.info(
        "drop detection %s: method=%s granularity=%s window=[%s, %s) cluster=%s",
        run_id,
        config.method.value,
        config.granularity.value,
        window.start.isoformat(),
        window.end.isoformat(),
        config.cluster_uuid or "all",
    )
    try:
        with warehouse.session() as session:
            counts = select_daily_counts(
                session,
                sql,
                config,
                window,
                # A series whose largest day is below min_drops cannot be a baseline anomaly.
                min_peak=config.min_drops if config.method is Method.BASELINE else None,
                flows_table=flows_table,
            )
            dropped, series_count = counts.dropped_flows, counts.series_count
            if config.method is Method.THEIA:
                anomalies = theia_from_sql_rows(counts.rows)
            else:
                anomalies = detect_baseline(group_series(counts.rows), config)
            log.info(
                "%d dropped flow records in %d series; %d anomalies",
                dropped,
                series_count,
                len(anomalies),
            )
            if anomalies:
                anomalies = select_attribution(
                    session, sql, config, window, anomalies, flows_table=flows_table
                )
            finished_at = dt.datetime.now(dt.UTC) if now is None else now
            binds = runs.run_binds(
                run_id, config, window, status="succeeded", message=None,
                started_at=started_at, finished_at=finished_at,
            ) | _run_columns(config, dropped, series_count, len(anomalies))  # fmt: skip
            with session.transaction():
                DROP_RUNS.replace_run(session, sql, binds)
                _insert_anomalies(session, sql, run_id, config, anomalies, finished_at)
    except Exception as error:
        failed = runs.failed_binds(run_id, config, window, started_at, error)
        DROP_RUNS.record_failure(warehouse, sql, failed | _run_columns(config))
        raise
    return DetectionResult(
        run_id=run_id,
        config=config,
        window=window,
        anomalies=tuple(anomalies),
        dropped_flows=dropped,
        series_count=series_count,
        elapsed_seconds=time.perf_counter() - started,
    )


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _run_record(run: Mapping[str, Any]) -> dict[str, Any]:
    """A ``DROP_DETECTION_RUNS`` row (lower-cased columns) as the run's JSON record."""
    return runs.run_fields(run, _iso) | {
        "method": run["method"],
        "granularity": run["granularity"],
        "dropped_flows": run["droppedflows"],
        "series_count": run["seriescount"],
        "anomaly_count": run["anomalycount"],
    }


DROP_RUNS = runs.RunKind(
    RESULTS_AREA, "DROP_DETECTION_RUNS", "drop-detection run", _run_record, DROP_ALERTS
)
# The stored run and its anomalies as one document; published as
# detection/runs/<run_id>/anomalies.json and detection/latest/anomalies.json; alerted once
# per anomaly and sink.
load_results = DROP_RUNS.load_results
publish_results = DROP_RUNS.publish_results
send_alerts = DROP_RUNS.send_alerts
