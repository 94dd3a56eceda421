"""Airflow plugin: triggering a Theia DAG with a conf key that no Param defines is a 400.

Airflow 3.3 validates each Param of a triggered run but accepts any extra conf key (it becomes
a Param without a schema), so ``{"polcy_type": "k8s-np"}`` would run with the default policy
type. This root middleware of the API server reads the body of ``POST
/api/v2/dags/<theia_...>/dagRuns`` (the REST API and the trigger form both use it), compares
the conf's keys with the DAG's Params, and answers a misspelt key with HTTP 400 naming it and
the closest Param, before a run exists. Runs made another way (``airflow dags trigger``, an
operator) are refused by the check every task runs first
(``theia_sf.airflow.params.refuse_unknown_conf``); both use the same message.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

# Only this package's DAGs: other DAGs in the same deployment keep Airflow's own behaviour.
_TRIGGER = re.compile(r"/api/v2/dags/(?P<dag_id>theia_[A-Za-z0-9_.-]{1,200})/dagRuns/?")
# A trigger body is small; a larger one is left to Airflow (which refuses what is invalid).
_MAX_BODY = 1 << 20


def unknown_conf_problem(dag_id: str, body: bytes) -> str | None:
    """The refusal for this trigger body, or None to let Airflow handle the request."""
    from airflow.models.serialized_dag import SerializedDagModel

    from theia_sf.airflow.params import unknown_conf_keys

    try:
        conf = json.loads(body or b"null").get("conf")
    except (ValueError, AttributeError):
        return None  # not a JSON object: Airflow answers it
    if not isinstance(conf, dict) or not conf:
        return None
    dag = SerializedDagModel.get_dag(dag_id)
    if dag is None:
        return None  # Airflow answers 404
    return unknown_conf_keys(conf, dag.params.keys())


class StrictConfMiddleware:
    """Pure ASGI: buffers the trigger body, answers 400 or hands the same body on."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        match = None
        if scope.get("type") == "http" and scope.get("method") == "POST":
            match = _TRIGGER.fullmatch(scope.get("path", ""))
        if match is None:
            await self.app(scope, receive, send)
            return
        messages, body = [], b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body") or len(body) > _MAX_BODY:
                break
        problem = None
        if len(body) <= _MAX_BODY:
            from starlette.concurrency import run_in_threadpool

            problem = await run_in_threadpool(unknown_conf_problem, match["dag_id"], body)
        if problem is not None:
            from starlette.responses import JSONResponse

            await JSONResponse({"detail": problem}, status_code=400)(scope, receive, send)
            return

        async def replay() -> Any:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


class TheiaStrictConfPlugin(AirflowPlugin):
    name = "theia_strict_conf"
    fastapi_root_middlewares: ClassVar[list[dict[str, Any]]] = [
        {"middleware": StrictConfMiddleware, "name": "theia_strict_conf"},
    ]
