"""The Theia page in headless Chromium, served by a real Airflow API server with the plugin.

Starts ``airflow api-server`` on loopback in a fresh AIRFLOW_HOME (simple auth manager, the
project's plugins folder, a DuckDB warehouse with inserted flows, a recommendation run and a
drop anomaly), logs in through ``/auth/token``, hands the JWT cookie to Chromium over the
DevTools protocol and checks what each view shows. Screenshots of every view go to
``THEIA_TEST_ARTIFACTS`` (or a temporary folder).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser import free_port, http_request

from theia_sf.sql import Query, ident

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
CLUSTER = "5f0c6a3e-8f3a-4c1e-9b7d-2a1c9e4b7d10"
PASSWORD = "e2e-admin-password"
LONG_NS = "payments-production-eu-west"
LONG_POD = "checkout-orchestrator-service-7d9f8b6c5d-abcde"
LONG_POLICY = "allow-checkout-orchestrator-to-cache-and-ledger-writers"
OLD_ANOMALY_ENDPOINT = "shop/old-batch-job-1"


def _insert(warehouse, table, rows):
    with warehouse.session() as session, session.transaction():
        for row in rows:
            text = "INSERT INTO {} ({}) VALUES ({})".format(
                ident(table),
                ", ".join(ident(c) for c in row),
                ", ".join(f":v{i}" for i in range(len(row))),
            )
            session.execute(Query("insert", text, {f"v{i}": v for i, v in enumerate(row.values())}))


def _populate(path: Path, sql) -> None:
    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.migrations import migrate

    warehouse = DuckDBWarehouse(path, lock_timeout=60)
    with warehouse.session() as session:
        migrate(session, sql)
    pods = [
        ("shop", "web-1", "10.0.0.1"),
        ("shop", "api-1", "10.0.0.2"),
        ("data", "db-1", "10.0.0.3"),
    ]
    flows = []
    for hour in range(1, 48):
        end = NOW - dt.timedelta(hours=hour)
        for (sns, spod, sip), (dns, dpod, dip) in [(pods[0], pods[1]), (pods[1], pods[2])]:
            flows.append(
                {
                    "flowStartSeconds": end - dt.timedelta(seconds=60),
                    "flowEndSeconds": end,
                    "sourcePodNamespace": sns,
                    "sourcePodName": spod,
                    "sourceIP": sip,
                    "destinationPodNamespace": dns,
                    "destinationPodName": dpod,
                    "destinationIP": dip,
                    "sourceTransportPort": 40000 + hour,
                    "destinationTransportPort": 8080,
                    "protocolIdentifier": 6,
                    "flowType": 2,
                    "octetDeltaCount": 1000 * hour,
                    "reverseOctetDeltaCount": 300,
                    "clusterUUID": CLUSTER,
                    "ingressNetworkPolicyRuleAction": 0,
                    "egressNetworkPolicyRuleAction": 0,
                }
            )
    spike_day = (NOW - dt.timedelta(days=1)).date()
    for i in range(6):
        end = dt.datetime.combine(spike_day, dt.time(10, i), tzinfo=dt.UTC)
        flows.append(
            {
                "flowStartSeconds": end - dt.timedelta(seconds=5),
                "flowEndSeconds": end,
                "sourcePodNamespace": "shop",
                "sourcePodName": "web-1",
                "sourceIP": "10.0.0.1",
                "destinationPodNamespace": "data",
                "destinationPodName": "db-1",
                "destinationIP": "10.0.0.3",
                "destinationTransportPort": 5432,
                "protocolIdentifier": 6,
                "flowType": 2,
                "octetDeltaCount": 60,
                "clusterUUID": CLUSTER,
                "ingressNetworkPolicyRuleAction": 2,
                "ingressNetworkPolicyName": "deny-web-db",
                "ingressNetworkPolicyNamespace": "data",
                "ingressNetworkPolicyRuleName": "deny-all",
            }
        )
    # Pods of one workload side by side (small, similar traffic), and long names.
    for i in range(8):
        end = NOW - dt.timedelta(hours=3, minutes=i)
        flows.append(
            {
                "flowStartSeconds": end - dt.timedelta(seconds=30),
                "flowEndSeconds": end,
                "sourcePodNamespace": LONG_NS,
                "sourcePodName": LONG_POD,
                "sourceIP": "10.0.1.1",
                "destinationPodNamespace": "data",
                "destinationPodName": f"cache-5c8d7f9b6-{i:05d}",
                "destinationIP": f"10.0.2.{i + 1}",
                "sourceTransportPort": 50000 + i,
                "destinationTransportPort": 6379,
                "protocolIdentifier": 6,
                "flowType": 2,
                "octetDeltaCount": 40 + i,
                "reverseOctetDeltaCount": 10,
                "clusterUUID": CLUSTER,
                "egressNetworkPolicyName": LONG_POLICY,
                "egressNetworkPolicyNamespace": LONG_NS,
                "egressNetworkPolicyRuleAction": 1,
                "ingressNetworkPolicyName": LONG_POLICY + "-ingress",
                "ingressNetworkPolicyNamespace": "data",
                "ingressNetworkPolicyRuleAction": 1,
            }
        )
    _insert(warehouse, "FLOWS", flows)
    _insert(
        warehouse,
        "RECOMMENDATION_RUNS",
        [
            {
                "runId": "e2e-recommendation-run",
                "jobType": "initial",
                "policyType": "k8s-np",
                "status": "succeeded",
                # Stored times carry microseconds; the page shows seconds.
                "startedAt": NOW - dt.timedelta(minutes=5, microseconds=-723672),
                "windowStart": NOW - dt.timedelta(days=7),
                "windowEnd": NOW,
                "policyCount": 1,
                "flowCount": 94,
                "approval": "approved",
                "reviewer": "alice",
                "reviewedAt": NOW - dt.timedelta(minutes=1),
                "preview": json.dumps({
                    "days": 30, "window_start": (NOW - dt.timedelta(days=30)).isoformat(),
                    "window_end": NOW.isoformat(), "tuples": 12, "denied_tuples": 1,
                    "denied_flows": 3, "denied_bytes": 4096, "top_workloads": [], "top_peers": [],
                    "verdicts": {"previous_run_id": "e2e-published-run", "newly_denied": 1,
                                 "newly_allowed": 0},
                }),
            }
        ],
    )
    _insert(
        warehouse,
        "RECOMMENDATION_PREVIEW",
        [
            {  # monthly traffic the 7-day window missed: the new set would deny it
                "runId": "e2e-recommendation-run",
                "tupleId": 1,
                "direction": "ingress",
                "srcNamespace": "shop",
                "srcLabels": '{"app":"report"}',
                "dstNamespace": "data",
                "dstLabels": '{"app":"db"}',
                "dstPort": 5432,
                "protocol": 6,
                "flowType": 2,
                "flowCount": 3,
                "bytes": 4096,
                "firstSeen": NOW - dt.timedelta(days=20),
                "lastSeen": NOW - dt.timedelta(days=20, minutes=-1),
                "denied": True,
                "reason": "isolated",
                "policy": "NetworkPolicy/data/np-db-allow",
                "previousDenied": False,
            }
        ],
    )
    _insert(
        warehouse,
        "RECOMMENDED_POLICIES",
        [
            {
                "runId": "e2e-recommendation-run",
                "position": 0,
                "kind": "NetworkPolicy",
                "apiVersion": "networking.k8s.io/v1",
                "namespace": "data",
                "name": "np-db-allow",
                "yaml": "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n"
                "  name: np-db-allow\n  namespace: data\n",
                "ruleCount": 1,
                "flowCount": 47,
            },
            {  # a static policy of the run's parameters: no evidence
                "runId": "e2e-recommendation-run",
                "position": 1,
                "kind": "ClusterNetworkPolicy",
                "apiVersion": "crd.antrea.io/v1beta1",
                "name": "recommend-reject-all-acnp",
                "yaml": "kind: ClusterNetworkPolicy\nmetadata:\n  name: recommend-reject-all-acnp\n",
                "ruleCount": 0,
                "flowCount": 0,
                "bytes": 0,
            },
        ],
    )
    _insert(
        warehouse,
        "RECOMMENDATION_EVIDENCE",
        [  # one ingress rule of np-db-allow with two peers: the busier one is listed first
            {
                "runId": "e2e-recommendation-run", "kind": "NetworkPolicy", "namespace": "data",
                "name": "np-db-allow", "direction": "ingress", "ruleIndex": 0,
                "peerIndex": peer_index, "peer": peer, "flowCount": flows, "bytes": flows * 100,
                "firstSeen": NOW - dt.timedelta(days=2), "lastSeen": NOW - dt.timedelta(hours=1),
            }
            for peer_index, peer, flows in (
                (0, 'shop/{app=report}', 7), (1, 'shop/{app=web}', 40)
            )
        ],
    )
    _insert(
        warehouse,
        "DROP_ANOMALIES",
        [
            {
                "runId": "e2e-drop-run",
                "anomalyKey": "e2e-key",
                "method": "baseline",
                "granularity": "pod",
                "endpoint": "data/db-1",
                "direction": "ingress",
                "anomalyDate": spike_day,
                "dropCount": 6,
                "baselineMean": 0.0,
                "baselineStdev": 1.0,
                "score": 6.0,
                "topPolicy": "data/deny-web-db",
                "topRule": "deny-all",
                "topPeer": "shop/web-1",
                "detectedAt": NOW,
                "attribution": json.dumps(
                    {
                        "rules": [
                            {
                                "policy_namespace": "data",
                                "policy_name": "deny-web-db",
                                "rule_name": "deny-all",
                                "drops": 6,
                            }
                        ]
                    }
                ),
            },
            {  # before the page's default From (now-7d): shown only for a wider window
                "runId": "e2e-drop-run",
                "anomalyKey": "e2e-old-key",
                "method": "baseline",
                "granularity": "pod",
                "endpoint": OLD_ANOMALY_ENDPOINT,
                "direction": "egress",
                "anomalyDate": (NOW - dt.timedelta(days=12)).date(),
                "dropCount": 9,
                "detectedAt": NOW,
            },
        ],
    )


def _throughput_run(path: Path, sql) -> None:
    """A service port's throughput every 10 s over the last hour, one spike; scored by the
    throughput anomaly detection service (DBSCAN flags the spike only)."""
    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.services.tad import run_throughput_anomaly_detection
    from theia_sf.tad.model import TadConfig
    from theia_sf.timewindow import Window

    warehouse = DuckDBWarehouse(path, lock_timeout=60)
    first = NOW - dt.timedelta(hours=1)
    flows = []
    for i in range(60):
        end = first + dt.timedelta(seconds=10 * i)
        flows.append(
            {
                "flowStartSeconds": end - dt.timedelta(seconds=5),
                "flowEndSeconds": end,
                "sourceIP": "10.0.0.1",
                "destinationIP": "10.0.0.2",
                "destinationServicePortName": "shop/api:http",
                "protocolIdentifier": 6,
                "clusterUUID": CLUSTER,
                "throughput": 900_000_000 if i == 30 else 2_000_000 + 1000 * (i % 5),
            }
        )
    _insert(warehouse, "FLOWS", flows)
    window = Window(NOW - dt.timedelta(days=1), NOW + dt.timedelta(minutes=1))
    config = TadConfig(algorithm="DBSCAN", agg_flow="svc")
    run_throughput_anomaly_detection(warehouse, sql, config, window)


@pytest.fixture(scope="module")
def airflow_server(tmp_path_factory, sql):
    base = tmp_path_factory.mktemp("ui-e2e")
    home = base / "airflow"
    (home / "dags").mkdir(parents=True)
    duckdb_path = base / "theia.duckdb"
    _populate(duckdb_path, sql)
    _throughput_run(duckdb_path, sql)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({"admin": PASSWORD}))
    port = free_port()
    env = {
        **os.environ,
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": "theia-ui-e2e-" + "s" * 64,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW_CONN_THEIA_WAREHOUSE": json.dumps(
            {"conn_type": "duckdb", "host": str(duckdb_path)}
        ),
        "THEIA_SQL_DIR": str(ROOT / "sql"),
        "THEIA_DATA_DIR": str(base / "data"),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), str(ROOT / "plugins")]),
    }
    subprocess.run(
        ["airflow", "db", "migrate"], env=env, check=True, capture_output=True, timeout=600
    )
    log = (base / "api-server.log").open("wb")
    server = subprocess.Popen(
        ["airflow", "api-server", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError((base / "api-server.log").read_text()[-4000:])
            try:
                if http_request(url + "/api/v2/monitor/health")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(1)
        else:
            raise RuntimeError(
                "the API server did not start:\n" + (base / "api-server.log").read_text()[-4000:]
            )
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def token(airflow_server):
    status, body = http_request(
        airflow_server + "/auth/token",
        data=json.dumps({"username": "admin", "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 201, body
    return json.loads(body)["access_token"]


def _open_view(browser, url: str, view: str) -> str:
    browser.call("Page.navigate", url=f"{url}/theia/#{view}")
    browser.wait_for(f"document.body && document.body.dataset.loaded === '{view}'")
    return browser.evaluate("document.body.innerText")


def test_login_through_airflow_then_the_page(airflow_server, browser, artifacts_dir):
    # Without a session the API answers 401 and a browser is sent to Airflow's login page.
    assert http_request(airflow_server + "/theia/api/overview")[0] == 401
    browser.call("Page.navigate", url=airflow_server + "/theia/#overview")
    browser.wait_for(
        "location.pathname.startsWith('/auth/login') && "
        "!!document.querySelector('input[type=password]')",
        timeout=90,
    )
    assert "e2e-recommendation-run" not in browser.evaluate("document.body.innerText")
    for selector, text in (
        ("input:not([type=password])", "admin"),
        ("input[type=password]", PASSWORD),
    ):
        browser.evaluate(f"document.querySelector('{selector}').focus()")
        browser.call("Input.insertText", text=text)
    browser.evaluate("document.querySelector('button[type=submit]').click()")
    browser.wait_for("location.pathname === '/theia/'", timeout=60)
    browser.wait_for("document.body.dataset.loaded === 'overview'")
    assert "e2e-recommendation-run" in browser.evaluate("document.body.innerText")
    shots = artifacts_dir / "theia-ui"
    shots.mkdir(parents=True, exist_ok=True)
    browser.screenshot(shots / "after-login.png")


def test_views_show_the_recommendation_and_the_drop_anomaly(
    airflow_server, token, browser, artifacts_dir
):
    browser.call(
        "Network.setCookie",
        name="_token",
        value=token,
        url=airflow_server + "/",
        path="/",
        httpOnly=True,
    )
    shots = artifacts_dir / "theia-ui"
    shots.mkdir(parents=True, exist_ok=True)

    text = _open_view(browser, airflow_server, "overview")
    assert browser.evaluate("document.getElementById('status').textContent") == ""
    assert "e2e-recommendation-run" in text
    assert "data/db-1 (ingress" in text
    assert "flow records" in text
    browser.screenshot(shots / "overview.png")

    text = _open_view(browser, airflow_server, "flows")
    assert "shop/web-1" in text
    # Newest first: the denied flows of yesterday lie beyond the first 100 rows late in the day,
    # so the Verdict filter picks them out (and is tested with them).
    browser.evaluate(
        "document.getElementById('flow-filters').action.value = 'denied';"
        "document.body.dataset.loaded = 'submitting';"
        "document.getElementById('flow-filters').requestSubmit()"
    )
    browser.wait_for("document.body.dataset.loaded === 'flows'")
    text = browser.evaluate("document.getElementById('flow-table').innerText")
    assert "6 flow records" in text
    assert "data/deny-web-db (Drop)" in text
    assert "shop/api-1" not in text
    browser.screenshot(shots / "flows.png")

    _open_view(browser, airflow_server, "pods")
    assert browser.evaluate("document.querySelectorAll('#sankey-svg path').length") == 3 + 8
    assert browser.evaluate("document.querySelectorAll('#matrix-svg rect').length") == 3
    browser.screenshot(shots / "pods.png")

    text = _open_view(browser, airflow_server, "recommendations")
    assert "e2e-recommendation-run" in text
    assert "np-db-allow" in text
    href = browser.evaluate("document.getElementById('yaml-download').href")
    assert href.endswith("/theia/api/recommendations/e2e-recommendation-run/yaml")
    assert "name: np-db-allow" in browser.evaluate(
        "document.getElementById('policy-yaml').textContent"
    )
    summary = browser.evaluate("document.getElementById('preview-summary').textContent")
    assert "1 of 12 flow tuples would be denied (3 flows" in summary
    assert "e2e-published-run: 1 newly denied, 0 newly allowed" in summary
    denied = browser.evaluate(
        "[...document.querySelectorAll('#recommendation-detail tr')]"
        ".map(r => r.textContent).find(t => t.includes('newly denied'))"
    )
    assert 'shop/{"app":"report"}' in denied and "NetworkPolicy/data/np-db-allow (isolated)" in denied
    browser.screenshot(shots / "recommendations.png")

    text = _open_view(browser, airflow_server, "anomalies")
    assert "data/db-1" in text
    assert "deny-all" in text
    bars = browser.evaluate(
        "[...document.querySelectorAll('#series-svg rect')].map(r => r.getAttribute('fill'))"
    )
    assert bars.count("#e63946") == 1  # the anomaly day is highlighted
    browser.screenshot(shots / "anomalies.png")

    for name in ("overview", "flows", "pods", "recommendations", "anomalies"):
        assert (shots / f"{name}.png").stat().st_size > 5000


def test_airflow_ui_lists_the_theia_view(airflow_server, token, browser, artifacts_dir):
    status, body = http_request(
        airflow_server + "/api/v2/plugins", headers={"Authorization": "Bearer " + token}
    )
    assert status == 200, body
    (theia,) = [p for p in json.loads(body)["plugins"] if p["name"] == "theia"]
    assert theia["external_views"][0]["href"] == "/theia/"
    assert theia["fastapi_apps"][0]["url_prefix"] == "/theia"
    browser.call(
        "Network.setCookie",
        name="_token",
        value=token,
        url=airflow_server + "/",
        path="/",
        httpOnly=True,
    )
    browser.call("Page.navigate", url=airflow_server + "/plugin/theia")
    src = browser.wait_for("(document.querySelector('iframe') || {}).src", timeout=90)
    assert src.endswith("/theia/")
    time.sleep(3)  # let the framed page draw before the screenshot
    shots = artifacts_dir / "theia-ui"
    shots.mkdir(parents=True, exist_ok=True)
    browser.screenshot(shots / "airflow-nav.png")


_TIME_WITH_FRACTION = r"\d{2}:\d{2}:\d{2}\.\d"


@pytest.fixture
def signed_in(airflow_server, token, browser, artifacts_dir):
    browser.call(
        "Network.setCookie", name="_token", value=token, url=airflow_server + "/", path="/",
        httpOnly=True,
    )
    shots = artifacts_dir / "theia-ui"
    shots.mkdir(parents=True, exist_ok=True)
    return browser, shots


def test_times_show_seconds_in_utc_labelled(airflow_server, signed_in):
    browser, _ = signed_in
    text = _open_view(browser, airflow_server, "overview")
    assert not re.search(_TIME_WITH_FRACTION, text)
    newest = browser.evaluate(
        "[...document.querySelectorAll('.card')].find(c => c.textContent.endsWith('newest flow'))"
        ".querySelector('.value').textContent"
    )
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", newest), newest
    assert re.search(r"\d{2}:\d{2}:\d{2} UTC", browser.evaluate(
        "document.getElementById('latest-recommendation').textContent"))
    text = _open_view(browser, airflow_server, "flows")
    assert "flow end (UTC)" in text
    assert not re.search(_TIME_WITH_FRACTION, text)
    text = _open_view(browser, airflow_server, "recommendations")
    assert "started (UTC)" in text
    assert not re.search(_TIME_WITH_FRACTION, text)


def test_the_flow_table_fits_1400_px(airflow_server, signed_in):
    browser, shots = signed_in
    text = _open_view(browser, airflow_server, "flows")
    assert LONG_POD in text
    assert browser.evaluate("window.innerWidth") == 1400
    widths = browser.evaluate(
        "(() => { const t = document.querySelector('#flow-table table');"
        " return [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
        " t.getBoundingClientRect().right]; })()"
    )
    assert widths[0] <= widths[1] and widths[2] <= widths[1], widths
    browser.screenshot(shots / "flows-1400.png")


def test_sankey_labels_do_not_overlap(airflow_server, signed_in):
    browser, shots = signed_in
    _open_view(browser, airflow_server, "pods")
    for side in ("source", "destination"):
        # Label boxes of one side (left: text-anchor end; right: start), top to bottom.
        boxes = browser.evaluate(
            "[...document.querySelectorAll('#sankey-svg text')]"
            f".filter(t => (t.getAttribute('text-anchor') === 'end') === {str(side == 'source').lower()})"
            ".map(t => { const b = t.getBBox(); return [b.y, b.y + b.height]; })"
            ".sort((a, b) => a[0] - b[0])"
        )
        assert len(boxes) >= 3
        for (_, bottom), (top, _) in itertools.pairwise(boxes):
            assert bottom <= top, (side, boxes)
    browser.screenshot(shots / "pods-layout.png")


def test_namespace_matrix_has_a_legend_and_values_on_hover(airflow_server, signed_in):
    browser, _ = signed_in
    _open_view(browser, airflow_server, "pods")
    legend = browser.evaluate(
        "(document.getElementById('matrix-legend') || {}).textContent || ''")
    assert "bytes" in legend and "denied" in legend
    browser.evaluate(
        "document.querySelector('#matrix-svg rect').dispatchEvent(new MouseEvent('mouseenter'))"
    )
    readout = browser.evaluate(
        "(document.getElementById('matrix-readout') || {}).textContent || ''")
    assert "→" in readout and "flows" in readout and "denied" in readout, readout


def test_a_static_policy_says_it_comes_from_parameters(airflow_server, signed_in):
    browser, _ = signed_in
    _open_view(browser, airflow_server, "recommendations")
    row = browser.evaluate(
        "[...[...document.querySelectorAll('#recommendation-detail tr')]"
        ".find(r => r.textContent.includes('recommend-reject-all-acnp'))"
        ".querySelectorAll('td')].map(td => td.textContent)"
    )
    assert "0" not in row[3:6], row  # not "rules 0 / flows 0"
    assert "set by parameters" in row[3], row


def test_a_policy_shows_its_peers_busiest_first_and_the_run_its_approval(
    airflow_server, signed_in
):
    browser, _ = signed_in
    _open_view(browser, airflow_server, "recommendations")
    assert "approved by alice" in browser.evaluate(
        "document.getElementById('run-summary').textContent"
    )
    browser.evaluate(
        "[...document.querySelectorAll('#recommendation-detail tr.clickable')]"
        ".find(r => r.textContent.includes('np-db-allow')).click()"
    )
    browser.wait_for(
        "(document.querySelector('#policy-evidence h3') || {}).textContent"
        " === 'Evidence: data/np-db-allow'"
    )
    heading = browser.evaluate("document.querySelector('#policy-evidence h4').textContent")
    assert heading == "ingress rule 0 (2 peers)"
    peers = browser.evaluate(
        "[...document.querySelectorAll('#policy-evidence tbody tr')]"
        ".map(r => [...r.querySelectorAll('td')].slice(0, 2).map(td => td.textContent))"
    )
    assert peers == [["shop/{app=web}", "40"], ["shop/{app=report}", "7"]]


def test_drop_anomalies_cover_the_from_to_window(airflow_server, signed_in):
    browser, shots = signed_in
    text = _open_view(browser, airflow_server, "anomalies")
    assert "data/db-1" in text
    assert OLD_ANOMALY_ENDPOINT not in text  # 12 days ago, before From=now-7d
    assert "last 30 days" not in text
    window = browser.evaluate("document.getElementById('anomaly-window').textContent")
    assert re.search(r"\d{2}:\d{2}:\d{2} UTC – \d{4}-", window), window
    browser.evaluate("document.getElementById('scope').start.value = 'now-30d'")
    browser.evaluate("document.body.dataset.loaded = ''")
    browser.evaluate("document.querySelector('#scope button[type=submit]').click()")
    browser.wait_for("document.body.dataset.loaded === 'anomalies'")
    assert OLD_ANOMALY_ENDPOINT in browser.evaluate("document.body.innerText")
    browser.screenshot(shots / "anomalies-window.png")


def test_throughput_view_draws_a_series_with_its_flagged_points(
    airflow_server, token, browser, artifacts_dir
):
    browser.call(
        "Network.setCookie",
        name="_token",
        value=token,
        url=airflow_server + "/",
        path="/",
        httpOnly=True,
    )
    text = _open_view(browser, airflow_server, "throughput")
    assert browser.evaluate("document.getElementById('status').textContent") == ""
    assert "DBSCAN" in text and "svc shop/api:http" in text
    assert "900.00 Mbps" in text  # the flagged point in the table
    # The chart: the series as one line of its 60 points, the spike as the one red dot.
    line = browser.evaluate("document.querySelector('#tad-svg polyline').getAttribute('points')")
    assert len(line.split()) == 60
    assert browser.evaluate("document.querySelectorAll('#tad-svg circle.tad-flag').length") == 1
    title = browser.evaluate("document.querySelector('#tad-svg circle.tad-flag title').textContent")
    assert "900.00 Mbps (noise)" in title
    shots = artifacts_dir / "theia-ui"
    shots.mkdir(parents=True, exist_ok=True)
    browser.screenshot(shots / "throughput.png")
    assert (shots / "throughput.png").stat().st_size > 5000
