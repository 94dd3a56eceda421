"""The Theia page's data queries on a migrated DuckDB file with inserted rows."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from theia_sf.sql import Query, ident
from theia_sf.timewindow import Window
from theia_sf.ui.views import (
    DataUnavailableError,
    Direction,
    FlowAction,
    FlowFilter,
    InvalidRequestError,
    NotFoundError,
    Scope,
    TheiaViews,
)

pytestmark = pytest.mark.integration

END = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
START = END - dt.timedelta(days=7)
C1 = "11111111-1111-1111-1111-111111111111"
C2 = "22222222-2222-2222-2222-222222222222"


def insert(warehouse, table: str, rows: list[dict]) -> None:
    """INSERT rows with bound values; column names are checked identifiers."""
    with warehouse.session() as session, session.transaction():
        for row in rows:
            columns = [ident(c) for c in row]
            text = "INSERT INTO {} ({}) VALUES ({})".format(
                ident(table), ", ".join(columns), ", ".join(f":v{i}" for i in range(len(row)))
            )
            session.execute(Query("insert", text, {f"v{i}": v for i, v in enumerate(row.values())}))


def flow(src, dst, end=END - dt.timedelta(hours=1), **extra):
    row = {
        "flowStartSeconds": end - dt.timedelta(seconds=30),
        "flowEndSeconds": end,
        "sourcePodNamespace": src[0],
        "sourcePodName": src[1],
        "sourceIP": src[2],
        "sourceTransportPort": 40000,
        "destinationPodNamespace": dst[0],
        "destinationPodName": dst[1],
        "destinationIP": dst[2],
        "destinationTransportPort": 8080,
        "protocolIdentifier": 6,
        "flowType": 2,
        "octetDeltaCount": 1000,
        "reverseOctetDeltaCount": 200,
        "clusterUUID": C1,
        "ingressNetworkPolicyRuleAction": 0,
        "egressNetworkPolicyRuleAction": 0,
    }
    row.update(extra)
    return row


WEB = ("shop", "web-7d9f8b6c5d-abcde", "10.0.0.1")
API = ("shop", "api-1", "10.0.0.2")
DB = ("data", "db-1", "10.0.0.3")
EXT = (None, None, "8.8.8.8")


@pytest.fixture
def views(duckdb_warehouse, sql):
    drops = [
        flow(
            WEB,
            DB,
            end=END - dt.timedelta(days=d, hours=1),
            ingressNetworkPolicyRuleAction=2,
            ingressNetworkPolicyName="deny-web",
            ingressNetworkPolicyNamespace="data",
            ingressNetworkPolicyRuleName="rule-0",
        )
        for d, n in ((1, 1), (2, 1), (2, 1), (3, 1))
        for _ in range(n)
    ]
    insert(
        duckdb_warehouse,
        "FLOWS",
        [
            flow(
                WEB,
                API,
                ingressNetworkPolicyName="allow-web",
                ingressNetworkPolicyNamespace="shop",
                ingressNetworkPolicyRuleAction=1,
                destinationServicePortName="shop/api:http",
            ),
            flow(API, DB, protocolIdentifier=17),
            flow(WEB, EXT, flowType=3, octetDeltaCount=5000),
            flow(API, WEB, clusterUUID=C2),
            flow(WEB, API, end=START - dt.timedelta(hours=1)),
            *drops,
        ],
    )
    return TheiaViews(duckdb_warehouse, sql)


SCOPE = Scope(Window(START, END))


def test_overview_numbers(views):
    data = views.overview(SCOPE)
    f = data["flows"]
    assert f["flow_records"] == 8
    assert f["pods"] == 3
    assert f["namespaces"] == 2
    assert f["services"] == 1
    assert f["clusters"] == 2
    assert f["denied_flows"] == 4
    assert f["unprotected_flows"] == 3
    assert f["bytes"] == 7 * 1200 + 5200
    assert f["last_flow_end"] == (END - dt.timedelta(hours=1)).isoformat()
    assert data["ingestion"]["files_loaded"] == 0
    assert views.overview(Scope(Window(START, END), C2))["flows"]["flow_records"] == 1


def test_clusters(views):
    assert views.clusters() == [C1, C2]


def test_flow_records_filters(views):
    rows = views.flow_records(SCOPE, FlowFilter())
    assert len(rows) == 8
    assert [r["flow_end"] for r in rows] == sorted((r["flow_end"] for r in rows), reverse=True)
    assert {
        r["source_namespace"] for r in views.flow_records(SCOPE, FlowFilter(namespace="data"))
    } == {"shop"}
    assert len(views.flow_records(SCOPE, FlowFilter(namespace="data"))) == 5
    assert len(views.flow_records(SCOPE, FlowFilter(pod="web-7d9f"))) == 7
    assert len(views.flow_records(SCOPE, FlowFilter(protocol=17))) == 1
    assert len(views.flow_records(SCOPE, FlowFilter(flow_type=3))) == 1
    assert len(views.flow_records(SCOPE, FlowFilter(action=FlowAction.DENIED))) == 4
    assert len(views.flow_records(SCOPE, FlowFilter(action=FlowAction.ALLOWED))) == 4
    assert len(views.flow_records(SCOPE, FlowFilter(action=FlowAction.UNPROTECTED))) == 3
    assert len(views.flow_records(SCOPE, FlowFilter(limit=2))) == 2
    (external,) = views.flow_records(SCOPE, FlowFilter(flow_type=3))
    assert external["destination_pod"] is None
    assert external["destination_ip"] == "8.8.8.8"


def test_filter_values_are_bound_not_spliced(views):
    assert views.flow_records(SCOPE, FlowFilter(namespace="x' OR '1'='1")) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"protocol": 300}, "protocol"),
        ({"flow_type": 9}, "flow_type"),
    ],
)
def test_flow_filter_validation(kwargs, match):
    with pytest.raises(InvalidRequestError, match=match):
        FlowFilter(**kwargs)


def test_scope_rejects_a_bad_cluster():
    with pytest.raises(InvalidRequestError, match="cluster"):
        Scope(Window(START, END), "not a uuid; drop")


def test_pod_edges_and_matrix(views):
    edges = views.pod_edges(SCOPE, limit=10)
    assert edges[0] == {
        "source": "shop/web-7d9f8b6c5d-abcde",
        "destination": "data/db-1",
        "bytes": 4 * 1200,
        "flows": 4,
    }
    assert {(e["source"], e["destination"]) for e in edges} == {
        ("shop/web-7d9f8b6c5d-abcde", "data/db-1"),
        ("shop/web-7d9f8b6c5d-abcde", "shop/api-1"),
        ("shop/api-1", "data/db-1"),
        ("shop/api-1", "shop/web-7d9f8b6c5d-abcde"),  # cluster C2
    }
    c1_edges = views.pod_edges(Scope(Window(START, END), C1), limit=10)
    assert len(c1_edges) == 3
    matrix = views.namespace_matrix(SCOPE)
    assert matrix["namespaces"] == ["data", "shop"]
    cells = {(c["source_namespace"], c["destination_namespace"]): c for c in matrix["cells"]}
    assert cells[("shop", "data")]["flows"] == 5
    assert cells[("shop", "data")]["denied_flows"] == 4
    assert cells[("shop", "shop")]["bytes"] == 2400
    with pytest.raises(InvalidRequestError):
        views.pod_edges(SCOPE, limit=1000)


def _policy_yaml(name: str, port: int) -> str:
    return f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  port: {port}\n"


@pytest.fixture
def runs(views, duckdb_warehouse):
    base = {
        "jobType": "initial",
        "policyType": "k8s-np",
        "engine": "duckdb",
        "status": "succeeded",
        "windowStart": START,
        "windowEnd": END,
    }
    insert(
        duckdb_warehouse,
        "RECOMMENDATION_RUNS",
        [
            {**base, "runId": "run-1", "startedAt": END, "policyCount": 2},
            {
                **base,
                "runId": "run-2",
                "startedAt": END + dt.timedelta(hours=1),
                "policyCount": 2,
                "previousRunId": "run-1",
                "warnings": json.dumps(["empty selector"]),
                "diff": json.dumps(
                    {
                        "previous_run_id": "run-1",
                        "added": ["a"],
                        "removed": ["b"],
                        "changed": ["c"],
                        "unchanged": [],
                    }
                ),
            },
        ],
    )
    pol = {
        "kind": "NetworkPolicy",
        "apiVersion": "networking.k8s.io/v1",
        "ruleCount": 1,
        "flowCount": 3,
        "bytes": 100,
    }
    insert(
        duckdb_warehouse,
        "RECOMMENDED_POLICIES",
        [
            {
                **pol,
                "runId": "run-1",
                "position": 0,
                "namespace": "shop",
                "name": "np-api",
                "yaml": _policy_yaml("np-api", 80),
            },
            {
                **pol,
                "runId": "run-1",
                "position": 1,
                "namespace": "shop",
                "name": "np-old",
                "yaml": _policy_yaml("np-old", 1),
            },
            {
                **pol,
                "runId": "run-2",
                "position": 0,
                "namespace": "shop",
                "name": "np-api",
                "yaml": _policy_yaml("np-api", 8080),
            },
            {
                **pol,
                "runId": "run-2",
                "position": 1,
                "namespace": "data",
                "name": "np-db",
                "yaml": _policy_yaml("np-db", 5432),
            },
        ],
    )
    return views


def test_recommendation_runs_newest_first_with_diff_counts(runs):
    listed = runs.recommendation_runs()
    assert [r["run_id"] for r in listed] == ["run-2", "run-1"]
    assert listed[0]["diff"] == {"added": 1, "removed": 1, "changed": 1, "unchanged": 0}
    assert listed[1]["diff"] is None


def test_recommendation_run_detail(runs):
    run = runs.recommendation_run("run-2")
    assert run["warnings"] == ["empty selector"]
    assert [p["name"] for p in run["policies"]] == ["np-api", "np-db"]
    assert "yaml" not in run["policies"][0]
    assert run["namespaces"] == [
        {"namespace": "data", "kind": "NetworkPolicy", "policies": 1},
        {"namespace": "shop", "kind": "NetworkPolicy", "policies": 1},
    ]
    with pytest.raises(NotFoundError):
        runs.recommendation_run("run-9")
    with pytest.raises(InvalidRequestError):
        runs.recommendation_run("../etc")


def test_recommendation_yaml_is_the_documents_in_order(runs):
    text = runs.recommendation_yaml("run-2")
    assert text == _policy_yaml("np-api", 8080) + "---\n" + _policy_yaml("np-db", 5432)
    with pytest.raises(NotFoundError):
        runs.recommendation_yaml("run-9")


def test_recommendation_diff_against_previous_run(runs):
    diff = runs.recommendation_diff("run-2")
    assert diff["previous_run_id"] == "run-1"
    assert diff["added"] == ["NetworkPolicy/data/np-db"]
    assert diff["removed"] == ["NetworkPolicy/shop/np-old"]
    (changed,) = diff["changed"]
    assert changed["key"] == "NetworkPolicy/shop/np-api"
    assert "-  port: 80\n" in changed["diff"]
    assert "+  port: 8080\n" in changed["diff"]
    first = runs.recommendation_diff("run-1")
    assert first["previous_run_id"] is None
    assert first["added"] == []


@pytest.fixture
def anomalies(views, duckdb_warehouse):
    day = (END - dt.timedelta(days=2)).date()
    insert(
        duckdb_warehouse,
        "DROP_DETECTION_RUNS",
        [
            {
                "runId": "d-1",
                "method": "baseline",
                "granularity": "pod",
                "windowStart": START,
                "windowEnd": END,
                "status": "succeeded",
                "droppedFlows": 4,
                "seriesCount": 1,
                "anomalyCount": 1,
                "startedAt": END,
            },
        ],
    )
    base = {
        "anomalyKey": "k1",
        "method": "baseline",
        "granularity": "pod",
        "endpoint": "data/db-1",
        "direction": "ingress",
        "anomalyDate": day,
        "dropCount": 2,
        "baselineMean": 0.5,
        "baselineStdev": 0.5,
        "score": 3.0,
        "topPolicy": "data/deny-web",
        "topRule": "rule-0",
        "topPeer": "shop/web-7d9f8b6c5d-abcde",
        "attribution": json.dumps(
            {"rules": [{"policy_namespace": "data", "policy_name": "deny-web", "drops": 2}]}
        ),
    }
    insert(
        duckdb_warehouse,
        "DROP_ANOMALIES",
        [
            {**base, "runId": "d-0", "detectedAt": END - dt.timedelta(days=1), "score": 9.0},
            {**base, "runId": "d-1", "detectedAt": END},
            {
                **base,
                "runId": "d-1",
                "anomalyKey": "k-old",
                "anomalyDate": day - dt.timedelta(days=30),
                "detectedAt": END,
            },
        ],
    )
    return views


def test_drop_anomalies_latest_per_key_inside_the_window(anomalies):
    (row,) = anomalies.drop_anomalies(SCOPE)
    assert row["run_id"] == "d-1"
    assert row["score"] == 3.0
    assert row["anomaly_date"] == (END - dt.timedelta(days=2)).date().isoformat()
    assert row["attribution"]["rules"][0]["policy_name"] == "deny-web"
    assert anomalies.drop_runs()[0]["anomaly_count"] == 1


def test_endpoint_drop_series_is_zero_filled(anomalies):
    series = anomalies.endpoint_drops(SCOPE, "data/db-1", Direction.INGRESS)
    assert len(series) == 8  # 7 x 24 h from noon to noon touch 8 UTC days
    by_day = {p["day"]: p["drops"] for p in series}
    assert by_day[(END - dt.timedelta(days=2)).date().isoformat()] == 2
    assert by_day[(END - dt.timedelta(days=1)).date().isoformat()] == 1
    assert sum(by_day.values()) == 4
    assert (
        sum(p["drops"] for p in anomalies.endpoint_drops(SCOPE, "data/db-1", Direction.EGRESS)) == 0
    )


def test_missing_schema_is_reported_as_unavailable(tmp_path, sql):
    from theia_sf.adapters.duckdb import DuckDBWarehouse

    empty = DuckDBWarehouse(tmp_path / "empty.duckdb", lock_timeout=5)
    with empty.session():
        pass
    with pytest.raises(DataUnavailableError, match="theia_onboard"):
        TheiaViews(empty, sql).clusters()
    with pytest.raises(DataUnavailableError):
        TheiaViews(DuckDBWarehouse(tmp_path / "none.duckdb", lock_timeout=5), sql).clusters()


def test_endpoint_drop_series_by_workload(views, duckdb_warehouse):
    from theia_sf.ui.views import Granularity

    # Two pods of one ReplicaSet (Kubernetes' suffix alphabet has no vowels).
    pods = [
        ("shop", "cart-7d9f8b6c5d-x2x7k", "10.0.0.8"),
        ("shop", "cart-7d9f8b6c5d-qq2lm", "10.0.0.9"),
    ]
    insert(
        duckdb_warehouse,
        "FLOWS",
        [
            flow(pod, EXT, end=END - dt.timedelta(hours=3), egressNetworkPolicyRuleAction=action)
            for pod, action in zip(pods, (2, 3), strict=True)
        ],
    )
    by_pod = views.endpoint_drops(SCOPE, "shop/cart-7d9f8b6c5d-x2x7k", Direction.EGRESS)
    by_workload = views.endpoint_drops(
        SCOPE, "shop/cart", Direction.EGRESS, granularity=Granularity.WORKLOAD
    )
    assert sum(p["drops"] for p in by_pod) == 1
    assert sum(p["drops"] for p in by_workload) == 2
    assert sum(p["drops"] for p in views.endpoint_drops(SCOPE, "shop/cart", Direction.EGRESS)) == 0


def test_static_policies_are_marked_as_set_by_parameters(runs, duckdb_warehouse):
    insert(duckdb_warehouse, "RECOMMENDED_POLICIES", [{
        "runId": "run-2", "position": 2, "kind": "ClusterNetworkPolicy",
        "apiVersion": "crd.antrea.io/v1beta1", "name": "recommend-reject-all-acnp",
        "yaml": "kind: ClusterNetworkPolicy\n", "ruleCount": 0, "flowCount": 0, "bytes": 0,
    }])
    policies = {p["name"]: p for p in runs.recommendation_run("run-2")["policies"]}
    assert policies["recommend-reject-all-acnp"]["basis"] == "parameters"
    assert policies["np-db"]["basis"] == "flows"


def test_the_namespace_matrix_is_bounded(views, monkeypatch):
    from theia_sf.ui import views as views_module

    every = views.namespace_matrix(SCOPE)
    assert len(every["cells"]) == 2
    assert every["truncated"] is False
    monkeypatch.setattr(views_module, "MAX_MATRIX_CELLS", 1)
    matrix = views.namespace_matrix(SCOPE)
    assert matrix["truncated"] is True
    # The largest pairs by bytes are kept.
    largest = sorted((c["bytes"] for c in every["cells"]), reverse=True)[:1]
    assert [c["bytes"] for c in matrix["cells"]] == largest


def test_scope_bounds_the_window():
    with pytest.raises(InvalidRequestError, match="90 days"):
        Scope(Window(END - dt.timedelta(days=91), END))
    with pytest.raises(InvalidRequestError, match="between 1970"):
        Scope(Window(dt.datetime(1969, 12, 31, tzinfo=dt.UTC), dt.datetime(1970, 1, 2, tzinfo=dt.UTC)))
    Scope(Window(END - dt.timedelta(days=90), END))
