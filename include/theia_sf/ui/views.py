"""Read-only views for the Theia page: overview, flows, pod graph, recommendations, drops.

Every function opens one short read-only session, runs aggregated SQL from ``sql/ui/`` and
returns JSON-ready values (ISO times, plain numbers). Python never receives raw flow rows
beyond the page-sized flow table.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from theia_sf.errors import ConfigurationError, TheiaError
from theia_sf.identifiers import parse_cluster_uuid
from theia_sf.timewindow import EARLIEST, Window

if TYPE_CHECKING:
    # Types only: the plugin imports this module in every Airflow process, and the SQL
    # library pulls in sqlglot and Jinja, which only requests need.
    from theia_sf.sql import SqlLibrary
    from theia_sf.warehouse import Warehouse

# Every answer is bounded: windows by MAX_VIEW_DAYS (a page answers in seconds; analyses
# may cover longer windows), lists by these row limits.
MAX_VIEW_DAYS = 90
MAX_FLOW_ROWS = 500
MAX_EDGES = 200
MAX_RUNS = 100
MAX_EVIDENCE_PEERS = 500  # peers per rule in one answer (a rule may list thousands)
MAX_ANOMALIES = 500
MAX_SERIES_POINTS = 5000  # points of one throughput series the page draws
MAX_MATRIX_CELLS = 400
MAX_POLICIES = 1000
MAX_PREVIEW_ROWS = 500  # denied directions of an impact preview in one answer
# Antrea's flow times are IPFIX dateTimeSeconds (unsigned 32-bit Unix seconds): no flow lies
# outside EARLIEST..LATEST, and a window beyond them is a mistake.
LATEST = dt.datetime.fromtimestamp(2**32, dt.UTC)

_RUN_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_OBJECT_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")  # a DNS-1123 subdomain


class InvalidRequestError(TheiaError, ValueError):
    """A request parameter is invalid; the message names it."""


class NotFoundError(TheiaError, LookupError):
    """The requested run does not exist."""


class DataUnavailableError(TheiaError):
    """The warehouse has no Theia schema yet (or its file does not exist)."""


class FlowAction(StrEnum):
    ANY = "any"
    ALLOWED = "allowed"
    DENIED = "denied"
    UNPROTECTED = "unprotected"


class Direction(StrEnum):
    INGRESS = "ingress"
    EGRESS = "egress"


class Granularity(StrEnum):
    POD = "pod"
    WORKLOAD = "workload"


@dataclass(frozen=True, slots=True)
class Scope:
    """The window (half-open, UTC) and optional cluster a view covers."""

    window: Window
    cluster_uuid: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "cluster_uuid", parse_cluster_uuid(self.cluster_uuid))
        except ConfigurationError:
            raise InvalidRequestError(
                f"cluster={self.cluster_uuid!r} is not a cluster UUID"
            ) from None
        start, end = self.window.start, self.window.end
        if start < EARLIEST or end > LATEST:
            raise InvalidRequestError(
                f"the window {start.isoformat()} .. {end.isoformat()} must lie between "
                f"{EARLIEST.date()} and {LATEST.date()} (flow times are 32-bit Unix seconds)"
            )
        if end - start > dt.timedelta(days=MAX_VIEW_DAYS):
            raise InvalidRequestError(
                f"the window from start to end spans {(end - start).days} days; at most "
                f"{MAX_VIEW_DAYS} days are shown at once"
            )

    def binds(self) -> dict[str, Any]:
        out: dict[str, Any] = {"start_ts": self.window.start, "end_ts": self.window.end}
        if self.cluster_uuid:
            out["cluster_uuid"] = self.cluster_uuid
        return out


@dataclass(frozen=True, slots=True)
class FlowFilter:
    namespace: str | None = None
    pod: str | None = None
    protocol: int | None = None
    flow_type: int | None = None
    action: FlowAction = FlowAction.ANY
    limit: int = 100

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_FLOW_ROWS:
            raise InvalidRequestError(f"limit={self.limit} must be between 1 and {MAX_FLOW_ROWS}")
        if self.protocol is not None and not 0 <= self.protocol <= 255:
            raise InvalidRequestError(f"protocol={self.protocol} must be an IP protocol number")
        if self.flow_type is not None and self.flow_type not in (1, 2, 3, 4):
            raise InvalidRequestError(f"flow_type={self.flow_type} must be 1, 2, 3 or 4")


def jsonable(value: Any) -> Any:
    """Warehouse values to JSON: times as ISO 8601 UTC, decimals as numbers."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: jsonable(v) for k, v in row.items()}


def _json_field(text: Any) -> Any:
    if text in (None, ""):
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _is_missing_schema(error: Exception) -> bool:
    text = str(error)
    return "does not exist" in text or "Catalog Error" in text


class TheiaViews:
    """The page's queries against one warehouse."""

    def __init__(self, warehouse: Warehouse, sql: SqlLibrary) -> None:
        self.warehouse = warehouse
        self.sql = sql

    def _fetch(self, name: str, binds: Mapping[str, Any], **structure: Any) -> list[dict]:
        query = self.sql.render(name, binds=binds, **structure)
        try:
            with self.warehouse.session(read_only=True) as session:
                rows = session.fetch(query)
        except TheiaError:
            raise
        except Exception as error:
            if _is_missing_schema(error):
                raise DataUnavailableError(
                    "the Theia tables are not there yet: run the theia_onboard DAG (it applies "
                    f"the migrations) and load flows ({error})"
                ) from error
            raise
        return [_row(r) for r in rows]

    # --- flows -------------------------------------------------------------------------

    def clusters(self) -> list[str]:
        return [r["cluster_uuid"] for r in self._fetch("ui/select_clusters.sql", {})]

    def overview(self, scope: Scope) -> dict[str, Any]:
        (totals,) = self._fetch(
            "ui/select_overview.sql", scope.binds(), with_cluster=bool(scope.cluster_uuid)
        )
        (ingestion,) = self._fetch("ui/select_ingestion_summary.sql", {})
        return {"window": scope.window.to_record(), "flows": totals, "ingestion": ingestion}

    def flow_records(self, scope: Scope, flt: FlowFilter) -> list[dict[str, Any]]:
        binds = scope.binds()
        if flt.namespace:
            binds["namespace"] = flt.namespace
        if flt.pod:
            binds["pod"] = flt.pod
        if flt.protocol is not None:
            binds["protocol"] = flt.protocol
        if flt.flow_type is not None:
            binds["flow_type"] = flt.flow_type
        return self._fetch(
            "ui/select_flow_records.sql",
            binds,
            with_cluster=bool(scope.cluster_uuid),
            with_namespace=bool(flt.namespace),
            with_pod=bool(flt.pod),
            with_protocol=flt.protocol is not None,
            with_flow_type=flt.flow_type is not None,
            action=str(flt.action),
            limit=flt.limit,
        )

    def pod_edges(self, scope: Scope, limit: int = 50) -> list[dict[str, Any]]:
        if not 1 <= limit <= MAX_EDGES:
            raise InvalidRequestError(f"limit={limit} must be between 1 and {MAX_EDGES}")
        return self._fetch(
            "ui/select_pod_edges.sql",
            scope.binds(),
            with_cluster=bool(scope.cluster_uuid),
            limit=limit,
        )

    def namespace_matrix(self, scope: Scope) -> dict[str, Any]:
        """The largest namespace pairs by bytes (at most MAX_MATRIX_CELLS)."""
        cells = self._fetch(
            "ui/select_namespace_matrix.sql",
            scope.binds(),
            with_cluster=bool(scope.cluster_uuid),
            limit=MAX_MATRIX_CELLS + 1,  # one more says whether any were left out
        )
        truncated = len(cells) > MAX_MATRIX_CELLS
        cells = cells[:MAX_MATRIX_CELLS]
        names = sorted(
            {c["source_namespace"] for c in cells} | {c["destination_namespace"] for c in cells},
            key=lambda n: (n is None, n or ""),
        )
        return {"namespaces": names, "cells": cells, "truncated": truncated}

    # --- policy recommendation ------------------------------------------------------------

    def recommendation_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        if not 1 <= limit <= MAX_RUNS:
            raise InvalidRequestError(f"limit={limit} must be between 1 and {MAX_RUNS}")
        runs = self._fetch("ui/select_recommendation_runs.sql", {}, limit=limit)
        for run in runs:
            run["diff"] = _diff_counts(_json_field(run["diff"]))
        return runs

    def recommendation_run(self, run_id: str) -> dict[str, Any]:
        _check_run_id(run_id)
        rows = self._fetch("ui/select_recommendation_run.sql", {"run_id": run_id})
        if not rows:
            raise NotFoundError(f"no recommendation run {run_id!r}")
        run = rows[0]
        for key in ("parameters", "skipped_flows", "warnings", "diff", "preview"):
            run[key] = _json_field(run[key])
        run["diff_counts"] = _diff_counts(run["diff"])
        run["policies"] = self._fetch(
            "ui/select_recommended_policies.sql",
            {"run_id": run_id},
            with_yaml=False,
            limit=MAX_POLICIES,
        )
        for policy in run["policies"]:
            # Static policies (namespace allow list, cluster-wide reject) come from the run's
            # parameters, not from flows: they have no evidence to count.
            policy["basis"] = "flows" if policy["rule_count"] else "parameters"
        run["namespaces"] = self._fetch(
            "ui/select_recommendation_namespaces.sql", {"run_id": run_id}
        )
        return run

    def recommendation_yaml(self, run_id: str) -> str:
        """The run's multi-document YAML, in publication order."""
        _check_run_id(run_id)
        self.recommendation_run_exists(run_id)
        policies = self._fetch(
            "ui/select_recommended_policies.sql", {"run_id": run_id}, with_yaml=True, limit=None
        )
        documents = [p["yaml"] if p["yaml"].endswith("\n") else p["yaml"] + "\n" for p in policies]
        return "---\n".join(documents)

    def recommendation_diff(self, run_id: str) -> dict[str, Any]:
        """Policies added, removed and changed since the previous run with equal parameters,
        with a unified diff of each changed policy's YAML."""
        run = self.recommendation_run(run_id)
        previous_id = run.get("previous_run_id")
        current = self._policies_by_key(run_id)
        previous = self._policies_by_key(previous_id) if previous_id else {}
        changed = []
        for key in sorted(current.keys() & previous.keys()):
            if current[key] != previous[key]:
                lines = difflib.unified_diff(
                    previous[key].splitlines(keepends=True),
                    current[key].splitlines(keepends=True),
                    fromfile=f"{previous_id}/{key}",
                    tofile=f"{run_id}/{key}",
                )
                changed.append({"key": key, "diff": "".join(lines)})
        return {
            "run_id": run_id,
            "previous_run_id": previous_id,
            "added": sorted(current.keys() - previous.keys()) if previous_id else [],
            "removed": sorted(previous.keys() - current.keys()),
            "changed": changed,
            "unchanged": sum(
                1 for k in current.keys() & previous.keys() if current[k] == previous[k]
            ),
        }

    def recommendation_preview(self, run_id: str, limit: int = 100) -> dict[str, Any]:
        """The run's impact preview: its summary and the denied directions (and those whose
        verdict changed against the previously published set), busiest first."""
        if not 1 <= limit <= MAX_PREVIEW_ROWS:
            raise InvalidRequestError(f"limit={limit} must be between 1 and {MAX_PREVIEW_ROWS}")
        run = self.recommendation_run(run_id)
        rows = []
        if run.get("preview"):
            rows = self._fetch(
                "ui/select_recommendation_preview.sql", {"run_id": run_id, "limit": limit}
            )
        for row in rows:
            row["verdict"] = (
                "newly denied" if row["denied"] and not row["previous_denied"]
                else "still denied" if row["denied"]
                else "newly allowed"
            )  # fmt: skip
        return {"run_id": run_id, "summary": run.get("preview"), "rows": rows, "limit": limit}

    def _policies_by_key(self, run_id: str) -> dict[str, str]:
        rows = self._fetch(
            "ui/select_recommended_policies.sql", {"run_id": run_id}, with_yaml=True, limit=None
        )
        return {f"{r['kind']}/{r['namespace'] or ''}/{r['name']}": r["yaml"] or "" for r in rows}

    def recommendation_evidence(
        self, run_id: str, kind: str, namespace: str | None, name: str, top: int = 20
    ) -> dict[str, Any]:
        """One policy's rules, each with its peers busiest first (at most ``top``) and their
        evidence (flows, bytes, first and last seen), and how many peers each rule lists."""
        from theia_sf.recommendation.evidence import group_rules

        _check_run_id(run_id)
        if kind not in ("NetworkPolicy", "ClusterNetworkPolicy"):
            raise InvalidRequestError(f"kind={kind!r} must be NetworkPolicy or ClusterNetworkPolicy")
        for label, value in (("namespace", namespace or "x"), ("name", name)):
            if not _OBJECT_NAME.fullmatch(value):
                raise InvalidRequestError(f"{label}={value!r} is not a Kubernetes object name")
        if not 1 <= top <= MAX_EVIDENCE_PEERS:
            raise InvalidRequestError(f"top={top} must be between 1 and {MAX_EVIDENCE_PEERS}")
        self.recommendation_run_exists(run_id)
        rows = self._fetch(
            "recommendation/select_run_evidence.sql",
            {"run_id": run_id, "kind": kind, "namespace": namespace or None, "name": name,
             "top": top},
            one_policy=True,
            top=True,
        )  # fmt: skip
        rules = group_rules(rows).get((kind, namespace or None, name), [])
        return {"run_id": run_id, "kind": kind, "namespace": namespace, "name": name,
                "rules": rules}  # fmt: skip

    def recommendation_run_exists(self, run_id: str) -> None:
        if not self._fetch("ui/select_recommendation_run.sql", {"run_id": run_id}):
            raise NotFoundError(f"no recommendation run {run_id!r}")

    # --- drop detection -------------------------------------------------------------------

    def drop_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        if not 1 <= limit <= MAX_RUNS:
            raise InvalidRequestError(f"limit={limit} must be between 1 and {MAX_RUNS}")
        return self._fetch("ui/select_drop_runs.sql", {}, limit=limit)

    def drop_anomalies(self, scope: Scope, limit: int = 100) -> list[dict[str, Any]]:
        if not 1 <= limit <= MAX_ANOMALIES:
            raise InvalidRequestError(f"limit={limit} must be between 1 and {MAX_ANOMALIES}")
        binds: dict[str, Any] = {
            "start_day": scope.window.start.date(),
            # Days are inclusive of the one the window ends in.
            "end_day": scope.window.end.date() + dt.timedelta(days=1),
        }
        if scope.cluster_uuid:
            binds["cluster_uuid"] = scope.cluster_uuid
        rows = self._fetch(
            "ui/select_drop_anomalies.sql",
            binds,
            with_cluster=bool(scope.cluster_uuid),
            limit=limit,
        )
        for row in rows:
            row["attribution"] = _json_field(row["attribution"])
        return rows

    def endpoint_drops(
        self,
        scope: Scope,
        endpoint: str,
        direction: Direction,
        granularity: Granularity = Granularity.POD,
    ) -> list[dict[str, Any]]:
        """Daily drop counts of one endpoint, zero-filled over the window's days."""
        if not endpoint or len(endpoint) > 600:
            raise InvalidRequestError("endpoint must be a non-empty ns/pod, workload or IP")
        binds = {**scope.binds(), "endpoint": endpoint, "direction": str(direction)}
        rows = self._fetch(
            "ui/select_endpoint_drops.sql",
            binds,
            granularity=str(granularity),
            with_cluster=bool(scope.cluster_uuid),
        )
        counts = {r["day"]: r["drops"] for r in rows}
        day = scope.window.start.date()
        last = (scope.window.end - dt.timedelta(microseconds=1)).date()
        series = []
        while day <= last:
            series.append({"day": day.isoformat(), "drops": counts.get(day.isoformat(), 0)})
            day += dt.timedelta(days=1)
        return series


def _check_run_id(run_id: str) -> None:
    if not _RUN_ID.fullmatch(run_id):
        raise InvalidRequestError(f"run id {run_id!r} is not a valid run id")


def _diff_counts(diff: Any) -> dict[str, int] | None:
    if not isinstance(diff, dict):
        return None
    out = {}
    for key in ("added", "removed", "changed", "unchanged"):
        value = diff.get(key)
        out[key] = len(value) if isinstance(value, list) else int(value or 0)
    return out


# --- throughput anomaly detection ---------------------------------------------------------


def _tad_views() -> Any:
    # Imported per request: the scoring code is not needed by the rest of the page.
    from theia_sf.services import tad

    return tad


def tad_runs(views: TheiaViews, limit: int = 20) -> list[dict[str, Any]]:
    """Throughput anomaly detection runs, newest first."""
    if not 1 <= limit <= MAX_RUNS:
        raise InvalidRequestError(f"limit={limit} must be between 1 and {MAX_RUNS}")
    rows = views._fetch("ui/select_tad_runs.sql", {}, limit=limit)
    for row in rows:
        row["parameters"] = _json_field(row["parameters"])
    return rows


def tad_anomalies(views: TheiaViews, run_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """The anomalous points of one run (``latest``: the newest succeeded run)."""
    run_id = _tad_run_id(views, run_id)
    if not 1 <= limit <= MAX_ANOMALIES:
        raise InvalidRequestError(f"limit={limit} must be between 1 and {MAX_ANOMALIES}")
    return views._fetch(
        "ui/select_tad_anomalies.sql", {"run_id": run_id}, with_series=False, limit=limit
    )


def _tad_run_id(views: TheiaViews, run_id: str) -> str:
    if run_id == "latest":
        done = [r for r in tad_runs(views, MAX_RUNS) if r["status"] == "succeeded"]
        if not done:
            raise NotFoundError("no throughput anomaly detection run yet")
        return done[0]["run_id"]
    _check_run_id(run_id)
    return run_id


def tad_series(views: TheiaViews, run_id: str, series: str) -> dict[str, Any]:
    """One series of a run, formed again from the run's parameters, with its flagged points."""
    from theia_sf.tad.model import KEY_COLUMNS, TadConfig

    tad = _tad_views()
    run_id = _tad_run_id(views, run_id)
    if not series or len(series) > 10400:
        raise InvalidRequestError("series must be a series label of the run")
    runs = views._fetch("tad/select_tad_run.sql", {"run_id": run_id})
    if not runs:
        raise NotFoundError(f"no throughput anomaly detection run {run_id!r}")
    run = runs[0]
    flagged = views._fetch(
        "ui/select_tad_anomalies.sql",
        {"run_id": run_id, "series": series},
        with_series=True,
        limit=MAX_ANOMALIES,
    )
    if not flagged:
        raise NotFoundError(f"run {run_id!r} flagged no point of series {series!r}")
    config = TadConfig(**json.loads(run["parameters"]))
    window = Window(*(dt.datetime.fromisoformat(run[k]) for k in ("windowstart", "windowend")))
    first = flagged[0]
    # The stored labels are cleaned for reading; the other key columns select the series
    # in SQL and the label picks it among those.
    key = {c: first[c] for c in KEY_COLUMNS if c != "pod_labels"}
    if key["flow_start"] is not None:
        key["flow_start"] = dt.datetime.fromisoformat(key["flow_start"])
    query = tad.series_query(views.sql, config, window, key=key)
    with views.warehouse.session(read_only=True) as session:
        match = next(
            (
                s
                for s in tad.iter_series(session, query, config.agg_flow)
                if s.key.label() == series
            ),
            None,
        )
    if match is None:
        raise NotFoundError(f"series {series!r} has no flows left in the run's window")
    points = [
        {"flow_end": jsonable(tad.from_epoch(t)), "throughput": v}
        for t, v in zip(match.times, match.values, strict=True)
    ]
    return {
        "run_id": run_id,
        "algorithm": run["algorithm"],
        "series": series,
        "stddev": match.stddev,
        "point_count": len(points),
        "points": points[:MAX_SERIES_POINTS],
        "truncated": len(points) > MAX_SERIES_POINTS,
        "anomalies": flagged,
    }
