"""The Theia page as a FastAPI application: the HTML page, its assets and a JSON API.

The application knows nothing about Airflow: the plugin passes a factory of
:class:`TheiaViews` (built from the ``theia_warehouse`` connection) and the authentication
dependency that every route must pass. Routes are synchronous, so FastAPI runs the
warehouse calls in its thread pool.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from theia_sf.errors import WarehouseBusyError, WarehouseUnavailableError
from theia_sf.timewindow import TimeSpecError, Window, parse_time
from theia_sf.ui.views import (
    DataUnavailableError,
    Direction,
    FlowAction,
    FlowFilter,
    Granularity,
    InvalidRequestError,
    NotFoundError,
    Scope,
    TheiaViews,
    tad_anomalies,
    tad_runs,
    tad_series,
)

log = logging.getLogger(__name__)

ASSETS = {
    "theia.js": "text/javascript; charset=utf-8",
    "theia.css": "text/css; charset=utf-8",
    "theia.svg": "image/svg+xml",
}
DEFAULT_START = "now-7d"

StartParam = Annotated[str, Query(description="window start: now, now-<n>{s,m,h,d} or RFC 3339")]
EndParam = Annotated[str, Query(description="window end (exclusive)")]
ClusterParam = Annotated[str | None, Query(description="cluster UUID; all clusters if absent")]


def create_app(
    views: Callable[[], TheiaViews],
    *,
    static_dir: Path,
    dependencies: Sequence[Any] = (),
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> FastAPI:
    """Build the application. ``dependencies`` apply to every route (authentication)."""
    app = FastAPI(
        title="Theia",
        description="Network flow analytics of Antrea clusters.",
        dependencies=list(dependencies),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    static_dir = Path(static_dir)

    def scope(start: str, end: str, cluster: str | None) -> Scope:
        current = now()
        try:
            window = Window(
                parse_time(start, now=current, name="start"),
                parse_time(end, now=current, name="end"),
            )
        except TimeSpecError as error:
            raise InvalidRequestError(str(error)) from error
        return Scope(window, cluster or None)

    @app.exception_handler(InvalidRequestError)
    def _bad_request(_: Request, error: InvalidRequestError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=400)

    @app.exception_handler(NotFoundError)
    def _not_found(_: Request, error: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(DataUnavailableError)
    def _unavailable(_: Request, error: DataUnavailableError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=503)

    @app.exception_handler(WarehouseUnavailableError)
    def _unreachable(_: Request, error: WarehouseUnavailableError) -> JSONResponse:
        log.warning("Theia page: %s", error)
        return JSONResponse({"detail": str(error)}, status_code=503, headers={"Retry-After": "30"})

    @app.exception_handler(WarehouseBusyError)
    def _busy(_: Request, error: WarehouseBusyError) -> JSONResponse:
        return JSONResponse(
            {"detail": f"the warehouse is busy, retry shortly: {error}"},
            status_code=503,
            headers={"Retry-After": "10"},
        )

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        text = (static_dir / "index.html").read_text(encoding="utf-8")
        return HTMLResponse(text.replace("__ROOT__", html.escape(root, quote=True)))

    @app.get("/assets/{name}")
    def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise NotFoundError(f"no asset {name!r}")
        return FileResponse(static_dir / name, media_type=ASSETS[name])

    @app.get("/api/clusters")
    def clusters() -> dict[str, Any]:
        return {"clusters": views().clusters()}

    @app.get("/api/overview")
    def overview(
        start: StartParam = DEFAULT_START, end: EndParam = "now", cluster: ClusterParam = None
    ) -> dict[str, Any]:
        return views().overview(scope(start, end, cluster))

    @app.get("/api/flows")
    def flows(
        start: StartParam = DEFAULT_START,
        end: EndParam = "now",
        cluster: ClusterParam = None,
        namespace: str | None = None,
        pod: str | None = None,
        protocol: int | None = None,
        flow_type: int | None = None,
        action: FlowAction = FlowAction.ANY,
        limit: int = 100,
    ) -> dict[str, Any]:
        flt = FlowFilter(
            namespace=namespace or None,
            pod=pod or None,
            protocol=protocol,
            flow_type=flow_type,
            action=action,
            limit=limit,
        )
        return {"flows": views().flow_records(scope(start, end, cluster), flt)}

    @app.get("/api/pod-edges")
    def pod_edges(
        start: StartParam = DEFAULT_START,
        end: EndParam = "now",
        cluster: ClusterParam = None,
        limit: int = 40,
    ) -> dict[str, Any]:
        return {"edges": views().pod_edges(scope(start, end, cluster), limit)}

    @app.get("/api/namespace-matrix")
    def namespace_matrix(
        start: StartParam = DEFAULT_START, end: EndParam = "now", cluster: ClusterParam = None
    ) -> dict[str, Any]:
        return views().namespace_matrix(scope(start, end, cluster))

    @app.get("/api/recommendations")
    def recommendations(limit: int = 20) -> dict[str, Any]:
        return {"runs": views().recommendation_runs(limit)}

    @app.get("/api/recommendations/{run_id}")
    def recommendation(run_id: str) -> dict[str, Any]:
        return views().recommendation_run(run_id)

    @app.get("/api/recommendations/{run_id}/diff")
    def recommendation_diff(run_id: str) -> dict[str, Any]:
        return views().recommendation_diff(run_id)

    @app.get("/api/recommendations/{run_id}/preview")
    def recommendation_preview(run_id: str, limit: int = 100) -> dict[str, Any]:
        return views().recommendation_preview(run_id, limit)

    @app.get("/api/recommendations/{run_id}/evidence")
    def recommendation_evidence(
        run_id: str, kind: str, name: str, namespace: str | None = None, top: int = 20
    ) -> dict[str, Any]:
        return views().recommendation_evidence(run_id, kind, namespace, name, top)

    @app.get("/api/recommendations/{run_id}/yaml")
    def recommendation_yaml(run_id: str) -> Response:
        text = views().recommendation_yaml(run_id)
        return Response(
            text,
            media_type="application/yaml",
            headers={"Content-Disposition": f'attachment; filename="theia-policies-{run_id}.yaml"'},
        )

    @app.get("/api/drop-runs")
    def drop_runs(limit: int = 20) -> dict[str, Any]:
        return {"runs": views().drop_runs(limit)}

    @app.get("/api/anomalies")
    def anomalies(
        start: StartParam = "now-30d",
        end: EndParam = "now",
        cluster: ClusterParam = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        covered = scope(start, end, cluster)
        return {
            "window": covered.window.to_record(),
            "anomalies": views().drop_anomalies(covered, limit),
        }

    @app.get("/api/anomalies/series")
    def anomaly_series(
        endpoint: str,
        direction: Direction,
        granularity: Granularity = Granularity.POD,
        start: StartParam = "now-30d",
        end: EndParam = "now",
        cluster: ClusterParam = None,
    ) -> dict[str, Any]:
        return {
            "endpoint": endpoint,
            "direction": str(direction),
            "series": views().endpoint_drops(
                scope(start, end, cluster), endpoint, direction, granularity
            ),
        }

    @app.get("/api/tad-runs")
    def throughput_runs(limit: int = 20) -> dict[str, Any]:
        return {"runs": tad_runs(views(), limit)}

    @app.get("/api/tad-runs/{run_id}/anomalies")
    def throughput_anomalies(run_id: str, limit: int = 200) -> dict[str, Any]:
        return {"anomalies": tad_anomalies(views(), run_id, limit)}

    @app.get("/api/tad-runs/{run_id}/series")
    def throughput_series(run_id: str, series: str) -> dict[str, Any]:
        return tad_series(views(), run_id, series)

    return app
