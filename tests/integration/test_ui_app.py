"""The Theia page's FastAPI application: routes, errors, and Airflow authentication."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.testclient import TestClient

from flowrows import insert_rows
from theia_sf.errors import WarehouseBusyError
from theia_sf.ui.app import create_app
from theia_sf.ui.views import TheiaViews

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "plugins" / "theia_ui"
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
C1 = "11111111-1111-1111-1111-111111111111"


def require_test_user(request: Request) -> str:
    if request.headers.get("x-test-user") != "alice":
        raise HTTPException(401, "Not authenticated")
    return "alice"


@pytest.fixture
def data(duckdb_warehouse, sql):
    end = NOW - dt.timedelta(hours=2)
    base = {
        "flowStartSeconds": end - dt.timedelta(seconds=30),
        "flowEndSeconds": end,
        "sourcePodNamespace": "shop",
        "sourcePodName": "web-1",
        "sourceIP": "10.0.0.1",
        "destinationPodNamespace": "data",
        "destinationPodName": "db-1",
        "destinationIP": "10.0.0.3",
        "protocolIdentifier": 6,
        "flowType": 2,
        "octetDeltaCount": 100,
        "reverseOctetDeltaCount": 10,
        "clusterUUID": C1,
    }
    insert_rows(
        duckdb_warehouse,
        "FLOWS",
        [
            base,
            {
                **base,
                "ingressNetworkPolicyRuleAction": 2,
                "ingressNetworkPolicyName": "deny",
                "ingressNetworkPolicyNamespace": "data",
            },
        ],
    )
    insert_rows(
        duckdb_warehouse,
        "RECOMMENDATION_RUNS",
        [
            {
                "runId": "run-1",
                "jobType": "initial",
                "policyType": "k8s-np",
                "status": "succeeded",
                "startedAt": NOW,
                "policyCount": 1,
            },
        ],
    )
    insert_rows(
        duckdb_warehouse,
        "RECOMMENDED_POLICIES",
        [
            {
                "runId": "run-1",
                "position": 0,
                "kind": "NetworkPolicy",
                "apiVersion": "networking.k8s.io/v1",
                "namespace": "data",
                "name": "np-db",
                "yaml": "kind: NetworkPolicy\nmetadata:\n  name: np-db\n",
            },
        ],
    )
    insert_rows(
        duckdb_warehouse,
        "DROP_ANOMALIES",
        [
            {
                "runId": "d-1",
                "anomalyKey": "k",
                "method": "baseline",
                "granularity": "pod",
                "endpoint": "data/db-1",
                "direction": "ingress",
                "anomalyDate": end.date(),
                "dropCount": 1,
                "detectedAt": NOW,
            },
        ],
    )
    return TheiaViews(duckdb_warehouse, sql)


@pytest.fixture
def client(data):
    app = create_app(
        lambda: data, static_dir=STATIC, dependencies=[Depends(require_test_user)], now=lambda: NOW
    )
    parent = FastAPI()
    parent.mount("/theia", app)
    with TestClient(parent, headers={"X-Test-User": "alice"}) as c:
        yield c


def _api_paths(app) -> list[str]:
    return sorted({r.path for r in app.routes if hasattr(r, "methods")})


def test_every_route_requires_the_auth_dependency(data):
    app = create_app(lambda: data, static_dir=STATIC, dependencies=[Depends(require_test_user)])
    anonymous = TestClient(app)
    paths = _api_paths(app)
    assert "/api/overview" in paths
    for path in paths:
        concrete = path.replace("{run_id}", "run-1").replace("{name}", "theia.js")
        assert anonymous.get(concrete).status_code == 401, path


def test_page_and_assets_are_served_by_the_plugin(client):
    page = client.get("/theia/")
    assert page.status_code == 200
    assert '<base href="/theia/">' in page.text
    assert "assets/theia.js" in page.text
    js = client.get("/theia/assets/theia.js")
    for text in (page.text, js.text):  # everything is served by the plugin: no CDN
        assert "https://" not in text
        assert not re.search(r"(src|href)=\"https?:", text)
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    assert client.get("/theia/assets/theia.css").status_code == 200
    assert client.get("/theia/assets/..%2Ftheia_plugin.py").status_code == 404
    assert client.get("/theia/assets/index.html").status_code == 404


def test_overview_and_flows(client):
    overview = client.get("/theia/api/overview", params={"start": "now-1d"}).json()
    assert overview["flows"]["flow_records"] == 2
    assert overview["flows"]["denied_flows"] == 1
    assert overview["window"]["end"] == NOW.isoformat()
    flows = client.get("/theia/api/flows", params={"start": "now-1d", "action": "denied"}).json()
    assert [f["ingress_policy"] for f in flows["flows"]] == ["data/deny"]
    assert client.get("/theia/api/flows", params={"start": "now-1h"}).json()["flows"] == []
    assert client.get("/theia/api/clusters").json() == {"clusters": [C1]}
    edges = client.get("/theia/api/pod-edges", params={"start": "now-1d"}).json()["edges"]
    assert edges == [{"source": "shop/web-1", "destination": "data/db-1", "bytes": 220, "flows": 2}]
    matrix = client.get("/theia/api/namespace-matrix", params={"start": "now-1d"}).json()
    assert matrix["namespaces"] == ["data", "shop"]


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"start": "yesterday"}, "start"),
        ({"end": "soon"}, "end"),
        ({"start": "now", "end": "now-1d"}, "after"),
        ({"cluster": "x;y"}, "cluster"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(client, params, word):
    response = client.get("/theia/api/flows", params=params)
    assert response.status_code == 400
    assert word in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("flows", {"start": "now-999999999d"}),
        ("flows", {"start": "2024-13-45T00:00:00Z"}),
        ("overview", {"start": "2024-02-30T00:00:00Z"}),
        ("pod-edges", {"start": "0001-01-01T00:00:00+01:00"}),
        ("anomalies", {"end": "9999-12-31T23:59:59Z"}),
        ("anomalies", {"start": "9999-12-01T00:00:00Z", "end": "9999-12-31T23:59:59Z"}),
        ("namespace-matrix", {"start": "1969-12-31T00:00:00Z", "end": "1970-01-02T00:00:00Z"}),
    ],
)
def test_impossible_times_are_a_400_naming_the_value(client, path, params):
    response = client.get(f"/theia/api/{path}", params=params)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert any(value in detail for value in params.values()) or "window" in detail


def test_every_windowed_endpoint_bounds_its_window(client):
    # Years of daily points, or every flow of a year, in one answer: refused, not computed.
    wide = {"start": "0001-01-01T00:00:00Z", "end": "9999-12-31T00:00:00Z"}
    series = {"endpoint": "data/db-1", "direction": "ingress"}
    for path, extra in [("overview", {}), ("flows", {}), ("pod-edges", {}),
                        ("namespace-matrix", {}), ("anomalies", {}),
                        ("anomalies/series", series)]:
        for window in (wide, {"start": "now-91d"}):
            response = client.get(f"/theia/api/{path}", params={**window, **extra})
            assert response.status_code == 400, (path, window, response.text)
        assert client.get(f"/theia/api/{path}", params={"start": "now-90d", **extra}).status_code == 200
    days = client.get("/theia/api/anomalies/series", params={"start": "now-90d", **series})
    assert len(days.json()["series"]) == 91


def test_an_unreachable_snowflake_is_a_quick_503_with_the_reason(monkeypatch, sql):
    """The real connector against an address that accepts and never answers."""
    import socket
    import threading
    import time

    pytest.importorskip("airflow.providers.snowflake")
    from theia_sf.airflow.runtime import warehouse

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    held = []
    threading.Thread(target=lambda: held.extend(silent.accept() for _ in range(16)),
                     daemon=True).start()
    monkeypatch.setenv("AIRFLOW_CONN_THEIA_WAREHOUSE", json.dumps({
        "conn_type": "snowflake", "login": "theia", "password": "x",
        "extra": {"account": "acme", "host": "127.0.0.1", "port": silent.getsockname()[1],
                  "protocol": "http", "database": "THEIA_DB", "warehouse": "WH"},
    }))
    app = create_app(lambda: TheiaViews(warehouse(temporary=False, login_timeout=2), sql),
                     static_dir=STATIC)
    started = time.monotonic()
    response = TestClient(app).get("/api/clusters")
    elapsed = time.monotonic() - started
    silent.close()
    assert response.status_code == 503
    assert "cannot connect to Snowflake" in response.json()["detail"]
    assert response.headers["retry-after"]
    # Bounded by the login timeout, not by the connector's minutes of retries.
    assert elapsed < 30, elapsed


def test_enum_parameters_are_validated(client):
    assert client.get("/theia/api/flows", params={"action": "maybe"}).status_code == 422
    response = client.get(
        "/theia/api/anomalies/series", params={"endpoint": "a", "direction": "up"}
    )
    assert response.status_code == 422


def test_recommendations(client):
    runs = client.get("/theia/api/recommendations").json()["runs"]
    assert [r["run_id"] for r in runs] == ["run-1"]
    detail = client.get("/theia/api/recommendations/run-1").json()
    assert [p["name"] for p in detail["policies"]] == ["np-db"]
    download = client.get("/theia/api/recommendations/run-1/yaml")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/yaml")
    assert 'filename="theia-policies-run-1.yaml"' in download.headers["content-disposition"]
    assert download.text == "kind: NetworkPolicy\nmetadata:\n  name: np-db\n"
    diff = client.get("/theia/api/recommendations/run-1/diff").json()
    assert diff["previous_run_id"] is None
    assert client.get("/theia/api/recommendations/nope").status_code == 404
    assert client.get("/theia/api/recommendations/nope/yaml").status_code == 404


def test_anomalies_and_series(client):
    anomalies = client.get("/theia/api/anomalies").json()["anomalies"]
    assert [a["endpoint"] for a in anomalies] == ["data/db-1"]
    series = client.get(
        "/theia/api/anomalies/series",
        params={"endpoint": "data/db-1", "direction": "ingress", "start": "now-2d"},
    ).json()["series"]
    assert [p["drops"] for p in series] == [0, 0, 1]
    assert client.get("/theia/api/drop-runs").json() == {"runs": []}


def test_busy_warehouse_is_a_503_with_retry_after():
    def busy():
        raise WarehouseBusyError("the DuckDB file stayed locked")

    app = create_app(busy, static_dir=STATIC)
    response = TestClient(app).get("/api/clusters")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "10"
    assert "busy" in response.json()["detail"]


AUTH_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.utils.db import initdb
    from fastapi.testclient import TestClient

    initdb()
    manager = create_auth_manager()
    manager.init()
    import theia_plugin

    from fastapi import FastAPI

    plugin = theia_plugin.TheiaPlugin
    app = plugin.fastapi_apps[0]["app"]
    prefix = plugin.fastapi_apps[0]["url_prefix"]
    viewer = manager.generate_jwt(SimpleAuthManagerUser(username="viewer", role="viewer"))
    parent = FastAPI()
    parent.mount(prefix, app)
    client = TestClient(parent, base_url="http://testserver" + prefix)
    out = {
        "url_prefix": plugin.fastapi_apps[0]["url_prefix"],
        "external_views": plugin.external_views,
        "paths": sorted({r.path for r in app.routes if hasattr(r, "methods")}),
        "anonymous": {},
        "bad_token": client.get("/api/clusters", headers={"Authorization": "Bearer x.y.z"}).status_code,
        "viewer_page": client.get("/", headers={"Authorization": "Bearer " + viewer}).status_code,
    }
    for path in out["paths"]:
        concrete = path.replace("{run_id}", "r").replace("{name}", "theia.js")
        out["anonymous"][path] = client.get(concrete).status_code
    client.cookies.set("_token", viewer)
    response = client.get("/api/clusters")
    out["viewer_cookie_clusters"] = [response.status_code, response.json()]
    client.cookies.clear()
    page = client.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
    out["browser_redirect"] = [page.status_code, page.headers.get("location")]
    api = client.get("/api/clusters", headers={"Accept": "text/html"}, follow_redirects=False)
    out["api_with_html_accept"] = api.status_code
    print("RESULT " + json.dumps(out))
    """
)


@pytest.mark.slow
def test_plugin_requires_an_airflow_user(tmp_path, duckdb_warehouse):
    """The real plugin with Airflow's simple auth manager, in a fresh AIRFLOW_HOME."""
    insert_rows(duckdb_warehouse, "FLOWS", [{"clusterUUID": C1, "flowEndSeconds": NOW}])
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:///" + str(tmp_path / "airflow.db"),
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
        "AIRFLOW__API_AUTH__JWT_SECRET": "theia-test-secret-" + "x" * 48,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_THEIA_WAREHOUSE": json.dumps(
            {"conn_type": "duckdb", "host": duckdb_warehouse.path}
        ),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), str(ROOT / "plugins")]),
        "THEIA_SQL_DIR": str(ROOT / "sql"),
    }
    done = subprocess.run(
        [sys.executable, "-c", AUTH_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-2000:] + done.stderr[-4000:]
    out = json.loads(lines[-1][len("RESULT ") :])
    assert out["url_prefix"] == "/theia"
    (view,) = out["external_views"]
    assert view["href"] == "/theia/"
    assert view["destination"] == "nav"
    assert len(out["paths"]) >= 12
    assert set(out["anonymous"].values()) == {401}, out["anonymous"]
    assert out["bad_token"] == 403
    assert out["viewer_page"] == 200
    assert out["viewer_cookie_clusters"] == [200, {"clusters": [C1]}]
    # A browser without a session is sent to Airflow's login page and back; the API is not.
    status, location = out["browser_redirect"]
    assert status == 307
    assert location.startswith("/auth/login?next=")
    assert "%2Ftheia%2F" in location
    assert out["api_with_html_accept"] == 401
