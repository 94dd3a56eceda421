"""Throughput anomaly detection service: form series in the warehouse, score, persist, publish.

Callable from pytest with a DuckDB warehouse; the DAG ``theia_throughput_anomaly_detection``
wires it to Airflow. The warehouse forms the series (one grouped pass over the window's flows,
ordered by series and time, with each series' standard deviation); Python sees one row per
point and scores each series with standard Theia's algorithm (:mod:`theia_sf.tad.algorithms`).
EWMA and DBSCAN score each series as it is read. ARIMA fits a model per point, which takes
seconds per series: its series are read first and fitted after the session is closed, so the
embedded database is not held while the models are fitted.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from theia_sf.alerts.dedup import AlertKind
from theia_sf.services import runs
from theia_sf.sql import Query, SqlLibrary
from theia_sf.tad.algorithms import SCORERS, ArimaSkipped
from theia_sf.tad.model import (
    KEY_COLUMNS,
    AggFlow,
    Algorithm,
    SeriesKey,
    TadConfig,
    ThroughputAnomaly,
    ThroughputSeries,
    run_id_for,
)
from theia_sf.timewindow import Window
from theia_sf.warehouse import Session, Warehouse

log = logging.getLogger(__name__)

FLOWS_TABLE = "FLOWS"
RESULTS_AREA = "tad"
FETCH_BATCH = 10_000
PROGRESS_SECONDS = 10.0
SUMMARY_ANOMALIES = 5
_ANOMALY_ROW_KEYS = (
    "anomaly_key", "series", "source_ip", "source_port", "destination_ip", "destination_port",
    "protocol", "flow_start", "pod_namespace", "pod_labels", "pod_name", "service_port_name",
    "direction", "flow_end", "throughput", "algo_calc", "stddev",
)  # fmt: skip


def series_query(
    sql: SqlLibrary,
    config: TadConfig,
    window: Window,
    *,
    flows_table: str = FLOWS_TABLE,
    key: Mapping[str, Any] | None = None,
) -> Query:
    """The statement that forms the run's series (``sql/tad/select_throughput_series.sql``);
    ``key``: only the series whose key columns (a subset of KEY_COLUMNS) have these values."""
    binds: dict[str, Any] = {"start_ts": window.start, "end_ts": window.end}
    key_columns = [c for c in KEY_COLUMNS if key is not None and c in key]
    binds |= {f"key_{c}": key[c] for c in key_columns} if key is not None else {}
    optional = {
        "cluster_uuid": config.cluster_uuid,
        "external_ip": config.external_ip,
        "svc_port_name": config.svc_port_name,
        "pod_label": config.pod_label,
        "pod_name": config.pod_name,
        "pod_namespace": config.pod_namespace,
    }
    binds |= {k: v for k, v in optional.items() if v is not None}
    for i, namespace in enumerate(config.ns_ignore_list):
        binds[f"ns_ignore_{i}"] = namespace
    return sql.render(
        "tad/select_throughput_series.sql",
        binds=binds,
        flows_table=flows_table,
        agg_flow=config.agg_flow.value,
        pod_by_name=config.pod_by_name,
        with_cluster=config.cluster_uuid is not None,
        ns_ignore_count=len(config.ns_ignore_list),
        with_external_ip=config.external_ip is not None,
        with_svc_port_name=config.svc_port_name is not None,
        with_pod_label=config.pod_label is not None,
        with_pod_name=config.pod_name is not None,
        with_pod_namespace=config.pod_namespace is not None,
        one_series=bool(key_columns),
        key_columns=key_columns,
    )


def _utc(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return value


def from_epoch(seconds: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC)


_FLOW_START = KEY_COLUMNS.index("flow_start")


def _series_key(agg_flow: AggFlow, raw: tuple[Any, ...]) -> SeriesKey:
    values = list(raw)
    if values[_FLOW_START] is not None:
        values[_FLOW_START] = from_epoch(values[_FLOW_START])
    return SeriesKey(agg_flow, tuple(values))


def iter_series(session: Session, query: Query, agg_flow: AggFlow) -> Iterator[ThroughputSeries]:
    """The query's rows (ordered by series and time) as one series at a time; point times
    stay Unix seconds (:func:`from_epoch` turns the few that are reported into times)."""
    columns, batches = session.fetch_batches(query, FETCH_BATCH)
    width = len(KEY_COLUMNS)
    if columns[:width] != list(KEY_COLUMNS):
        raise RuntimeError(f"{query.name}: unexpected columns {columns}")
    key: tuple[Any, ...] | None = None
    times: list[int] = []
    values: list[float] = []
    stddev: float | None = None
    for batch in batches:
        for row in batch:
            row_key = row[:width]
            if row_key != key:
                if key is not None:
                    yield ThroughputSeries(
                        _series_key(agg_flow, key), tuple(times), tuple(values), stddev
                    )
                key, times, values = row_key, [], []
                stddev = None if row[width + 2] is None else float(row[width + 2])
            times.append(int(row[width]))
            values.append(float(row[width + 1]))
    if key is not None:
        yield ThroughputSeries(_series_key(agg_flow, key), tuple(times), tuple(values), stddev)


@dataclass(slots=True)
class _Progress:
    """Series scored so far, logged every few seconds and at the end."""

    algorithm: Algorithm
    started: float
    series: int = 0
    points: int = 0
    skipped: int = 0
    anomalies: int = 0
    last_log: float = 0.0

    def log(self, *, final: bool = False, total: int | None = None) -> None:
        now = time.perf_counter()
        if not final and now - self.last_log < PROGRESS_SECONDS:
            return
        self.last_log = now
        log.info(
            "%s: %d%s series (%d points) scored, %d skipped, %d anomalous points, %.1f s",
            self.algorithm.value,
            self.series,
            f"/{total}" if total is not None else "",
            self.points,
            self.skipped,
            self.anomalies,
            now - self.started,
        )


def score_series(
    series: ThroughputSeries, config: TadConfig, progress: _Progress
) -> list[ThroughputAnomaly]:
    """One series' anomalous points (none when the algorithm cannot score it)."""
    progress.series += 1
    progress.points += len(series.values)
    try:
        calc, flags = SCORERS[config.algorithm](series.values, series.stddev, config.variant)
    except ArimaSkipped as reason:
        progress.skipped += 1
        log.debug("%s: not scored (%s)", series.key.label(), reason)
        return []
    # A prediction that overflowed (ARIMA's inverse Box-Cox of an extreme λ) is stored as
    # no value: JSON and the warehouses' columns have no infinity to carry.
    found = [
        ThroughputAnomaly(
            series.key, from_epoch(t), x, c if math.isfinite(c) else None, series.stddev
        )
        for t, x, c, flagged in zip(series.times, series.values, calc, flags, strict=True)
        if flagged
    ]
    progress.anomalies += len(found)
    return found


@dataclass(frozen=True, slots=True)
class TadResult:
    run_id: str
    config: TadConfig
    window: Window
    anomalies: tuple[ThroughputAnomaly, ...]
    series_count: int
    point_count: int
    skipped_series: int
    elapsed_seconds: float

    def run_record(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "algorithm": self.config.algorithm.value,
            "agg_flow": self.config.agg_flow.value,
            "variant": self.config.variant.value,
            "cluster_uuid": self.config.cluster_uuid,
            "window_start": self.window.start.isoformat(),
            "window_end": self.window.end.isoformat(),
        }

    def to_record(self) -> dict[str, Any]:
        """A small JSON-able summary (what crosses XCom)."""
        strongest = sorted(self.anomalies, key=lambda a: -abs(a.throughput - (a.algo_calc or 0.0)))[
            :SUMMARY_ANOMALIES
        ]
        return {
            **self.run_record(),
            "parameters": self.config.to_record(),
            "series_count": self.series_count,
            "point_count": self.point_count,
            "skipped_series": self.skipped_series,
            "anomaly_count": len(self.anomalies),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "top_anomalies": [
                {
                    "series": a.key.label(),
                    "flow_end": a.flow_end.isoformat(),
                    "throughput": a.throughput,
                    "algo_calc": a.algo_calc,
                }
                for a in strongest
            ],
        }


def _run_columns(
    config: TadConfig, counts: tuple[int, int, int, int] | None = None
) -> dict[str, Any]:
    """The binds of a ``TAD_RUNS`` record beyond :func:`runs.run_binds`; ``counts``: series,
    points, skipped series, anomalous points."""
    series, points, skipped, anomalies = counts or (None, None, None, None)
    return {
        "algorithm": config.algorithm.value,
        "agg_type": config.agg_flow.value,
        "variant": config.variant.value,
        "series_count": series,
        "point_count": points,
        "skipped_series": skipped,
        "anomaly_count": anomalies,
    }


def run_throughput_anomaly_detection(
    warehouse: Warehouse,
    sql: SqlLibrary,
    config: TadConfig,
    window: Window,
    *,
    flows_table: str = FLOWS_TABLE,
    now: dt.datetime | None = None,
) -> TadResult:
    """Score the window's throughput series and store the run and its anomalous points.

    Re-running the same window with the same parameters replaces that run's results; alert
    delivery records are kept, so re-runs never alert twice."""
    started = time.perf_counter()
    started_at = now or dt.datetime.now(dt.UTC)
    run_id = run_id_for(config, window)
    log.info(
        "throughput anomaly detection %s: algorithm=%s agg_flow=%s variant=%s window=[%s, %s)",
        run_id,
        config.algorithm.value,
        config.agg_flow.value,
        config.variant.value,
        window.start.isoformat(),
        window.end.isoformat(),
    )
    query = series_query(sql, config, window, flows_table=flows_table)
    progress = _Progress(config.algorithm, started, last_log=started)
    anomalies: list[ThroughputAnomaly] = []
    try:
        with warehouse.session(read_only=True, streaming=True) as session:
            stream = iter_series(session, query, config.agg_flow)
            if config.algorithm is Algorithm.ARIMA:
                pending = list(stream)  # fitted below, with the session closed
            else:
                pending = []
                for series in stream:
                    anomalies.extend(score_series(series, config, progress))
                    progress.log()
        log.info(
            "series formed in %.1f s%s",
            time.perf_counter() - started,
            f"; fitting ARIMA on {len(pending)} series" if pending else "",
        )
        for series in pending:
            anomalies.extend(score_series(series, config, progress))
            progress.log(total=len(pending))
        progress.log(final=True)
        finished_at = dt.datetime.now(dt.UTC) if now is None else now
        counts = (progress.series, progress.points, progress.skipped, len(anomalies))
        rows = [dict(zip(_ANOMALY_ROW_KEYS, _row(a, config), strict=True)) for a in anomalies]
        binds = runs.run_binds(
            run_id, config, window, status="succeeded", message=None,
            started_at=started_at, finished_at=finished_at,
        ) | _run_columns(config, counts)  # fmt: skip
        with warehouse.session() as session, session.transaction():
            TAD_RUNS.replace_run(session, sql, binds)
            insert = sql.render(
                "tad/insert_tad_anomalies.sql",
                binds={
                    "run_id": run_id,
                    "algorithm": config.algorithm.value,
                    "agg_type": config.agg_flow.value,
                    "cluster_uuid": config.cluster_uuid,
                    "detected_at": finished_at,
                },
                row_binds=_ANOMALY_ROW_KEYS,
            )
            session.insert_rows(insert, rows)
    except Exception as error:
        failed = runs.failed_binds(run_id, config, window, started_at, error)
        TAD_RUNS.record_failure(warehouse, sql, failed | _run_columns(config))
        raise
    return TadResult(
        run_id=run_id,
        config=config,
        window=window,
        anomalies=tuple(anomalies),
        series_count=progress.series,
        point_count=progress.points,
        skipped_series=progress.skipped,
        elapsed_seconds=time.perf_counter() - started,
    )


def _row(anomaly: ThroughputAnomaly, config: TadConfig) -> tuple[Any, ...]:
    record = anomaly.record(config)
    return tuple(record[k] for k in _ANOMALY_ROW_KEYS)


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _utc(value).isoformat().replace("+00:00", "Z")
    return value


def _number(value: Any) -> Any:
    return None if value is None else float(value)


def anomaly_record_from_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A ``TAD_ANOMALIES`` row (lower-cased columns) as the JSON record of a point."""
    port = row["sourcetransportport"]
    dport = row["destinationtransportport"]
    proto = row["protocolidentifier"]
    return {
        "anomaly_key": row["anomalykey"],
        "algorithm": row["algorithm"],
        "agg_flow": row["aggtype"],
        "series": row["serieslabel"],
        "source_ip": row["sourceip"],
        "source_port": None if port is None else int(port),
        "destination_ip": row["destinationip"],
        "destination_port": None if dport is None else int(dport),
        "protocol": None if proto is None else int(proto),
        "flow_start": _iso(row["flowstartseconds"]),
        "pod_namespace": row["podnamespace"],
        "pod_labels": row["podlabels"],
        "pod_name": row["podname"],
        "service_port_name": row["destinationserviceportname"],
        "direction": row["direction"],
        "flow_end": _iso(row["flowendseconds"]),
        "throughput": float(row["throughput"]),
        "algo_calc": _number(row["algocalc"]),
        "stddev": _number(row["throughputstandarddeviation"]),
    }


def _bps(value: Any) -> str:
    if value is None:
        return "?"
    number = float(value)
    for unit, scale in (("Gbps", 1e9), ("Mbps", 1e6), ("kbps", 1e3)):
        if abs(number) >= scale:
            return f"{number / scale:.2f} {unit}"
    return f"{number:.0f} bps"


def anomaly_line(anomaly: Mapping[str, Any]) -> str:
    """``• svc shop/web:http at 2024-05-01T10:00:05Z: 5.00 Gbps (EWMA 1.20 Gbps, ± 310 Mbps)``."""
    head = f"• {anomaly['series']} at {anomaly['flow_end']}: {_bps(anomaly['throughput'])}"
    if anomaly.get("algorithm") == Algorithm.DBSCAN.value:
        return head + " (DBSCAN noise)"
    return (
        head + f" ({anomaly.get('algorithm', '?')} {_bps(anomaly.get('algo_calc'))}, "
        f"± {_bps(anomaly.get('stddev'))})"
    )


TAD_ALERTS = AlertKind(
    pending_query="tad/select_tad_anomalies.sql",
    record=anomaly_record_from_row,
    nouns=("throughput anomaly", "throughput anomalies"),
    line=anomaly_line,
    # The delivery record keeps the series (cut to its column), the pod direction or the
    # aggregation, and the UTC day of the point.
    delivery=lambda a: (a["series"][:600], a["direction"] or a["agg_flow"], a["flow_end"][:10]),
)


def _run_record(run: Mapping[str, Any]) -> dict[str, Any]:
    """A ``TAD_RUNS`` row (lower-cased columns) as the run's JSON record."""
    count = lambda name: None if run[name] is None else int(run[name])  # noqa: E731
    return runs.run_fields(run, _iso) | {
        "algorithm": run["algorithm"],
        "agg_flow": run["aggtype"],
        "variant": run["variant"],
        "series_count": count("seriescount"),
        "point_count": count("pointcount"),
        "skipped_series": count("skippedseries"),
        "anomaly_count": count("anomalycount"),
    }


TAD_RUNS = runs.RunKind(
    RESULTS_AREA, "TAD_RUNS", "throughput anomaly detection run", _run_record, TAD_ALERTS
)
# The stored run and its anomalous points as one document; published as
# tad/runs/<run_id>/anomalies.json and tad/latest/anomalies.json; alerted once per point and
# sink.
load_results = TAD_RUNS.load_results
publish_results = TAD_RUNS.publish_results
send_alerts = TAD_RUNS.send_alerts
