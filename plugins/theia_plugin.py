"""Airflow plugin: the Theia page (flows, pod graph, recommendations, drop anomalies).

A FastAPI application mounted under ``/theia`` on the Airflow API server, plus a nav entry
("Theia") that shows it inside the Airflow UI. Every route requires an authenticated
Airflow user allowed to see the website: the same JWT (bearer header or the UI's session
cookie) that Airflow's own API checks. Data comes from the ``theia_warehouse`` connection
through short read-only sessions, so the page works on DuckDB and Snowflake and never holds
the DuckDB file while a DAG writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, HTTPException, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from theia_sf.ui.app import create_app

URL_PREFIX = "/theia"
STATIC_DIR = Path(__file__).resolve().parent / "theia_ui"
# A web request should not queue for long behind a DAG that writes the DuckDB file, nor wait
# minutes for an unreachable Snowflake account (the page answers 503 with the reason).
UI_LOCK_TIMEOUT_SECONDS = 15.0
UI_LOGIN_TIMEOUT_SECONDS = 10.0

_bearer = HTTPBearer(auto_error=False)


async def require_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Any:
    """Airflow's own authentication (JWT from the bearer header or the session cookie)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import get_user

    user = await get_user(request, None, credentials)
    if not get_auth_manager().is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not allowed to view the Theia page")
    return user


def theia_views() -> Any:
    """Views over the ``theia_warehouse`` connection (built per request, at run time)."""
    from theia_sf.airflow.runtime import sql_library, warehouse
    from theia_sf.ui.views import TheiaViews

    # A configured Snowflake warehouse, never a temporary one per page request.
    wh = warehouse(temporary=False, login_timeout=UI_LOGIN_TIMEOUT_SECONDS)
    if wh.engine == "duckdb":
        wh.lock_timeout = min(wh.lock_timeout, UI_LOCK_TIMEOUT_SECONDS)
    return TheiaViews(wh, sql_library())


async def login_redirect(request: Request, error: StarletteHTTPException) -> Response:
    """A browser opening the page without a session goes to Airflow's login page and back;
    API calls keep their 401."""
    wants_page = request.url.path.endswith(URL_PREFIX + "/") and "text/html" in request.headers.get(
        "accept", ""
    )
    if error.status_code == status.HTTP_401_UNAUTHORIZED and wants_page:
        from airflow.api_fastapi.app import get_auth_manager

        return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)))
    return await http_exception_handler(request, error)


app = create_app(theia_views, static_dir=STATIC_DIR, dependencies=[Depends(require_user)])
app.add_exception_handler(StarletteHTTPException, login_redirect)


class TheiaPlugin(AirflowPlugin):
    name = "theia"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": app, "url_prefix": URL_PREFIX, "name": "Theia"}
    ]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "Theia",
            "href": URL_PREFIX + "/",
            "destination": "nav",
            "url_route": "theia",
            "icon": URL_PREFIX + "/assets/theia.svg",
        }
    ]
