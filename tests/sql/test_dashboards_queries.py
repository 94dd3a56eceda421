"""Every Grafana panel query, after macro substitution, runs on DuckDB against inserted flow
rows and returns the panel's columns; the fixed reference bugs are checked on exact values."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowrows import insert_rows, migrated_duckdb_file
from theia_sf.dashboards import DASHBOARDS, panel_sql, substitute_macros
from theia_sf.sql import Query, ident

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "sql"

END = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
START = END - timedelta(hours=1)
C1 = "11111111-1111-1111-1111-111111111111"
C2 = "22222222-2222-2222-2222-222222222222"

DEFAULTS = {
    "flowEndReason": 3,
    "protocolIdentifier": 6,
    "sourceTransportPort": 40000,
    "destinationTransportPort": 8080,
    "octetDeltaCount": 1000,
    "reverseOctetDeltaCount": 500,
    "packetDeltaCount": 10,
    "reversePacketDeltaCount": 5,
    "throughput": 800,
    "reverseThroughput": 400,
    "flowType": 2,
    "clusterUUID": C1,
    "ingressNetworkPolicyRuleAction": 0,
    "egressNetworkPolicyRuleAction": 0,
}


def insert_flows(warehouse, rows: list[dict]) -> None:
    """INSERT rows into FLOWS with bound values (column names are checked identifiers)."""
    with warehouse.session() as session, session.transaction():
        for row in rows:
            values = {**DEFAULTS, **row}
            end = values.setdefault("flowEndSeconds", END - timedelta(minutes=5))
            values.setdefault("flowStartSeconds", end - timedelta(seconds=30))
            columns = [ident(c) for c in values]
            text = "INSERT INTO FLOWS ({}) VALUES ({})".format(
                ", ".join(columns), ", ".join(f":v{i}" for i in range(len(columns)))
            )
            session.execute(
                Query("insert_flow", text, {f"v{i}": v for i, v in enumerate(values.values())})
            )


def pod(ns, name, node="node-a", ip="10.0.0.1"):
    return {"ns": ns, "name": name, "node": node, "ip": ip}


def flow(src, dst, **extra):
    row = {
        "sourcePodNamespace": src["ns"],
        "sourcePodName": src["name"],
        "sourceNodeName": src["node"],
        "sourceIP": src["ip"],
        "destinationPodNamespace": dst["ns"],
        "destinationPodName": dst["name"],
        "destinationNodeName": dst["node"],
        "destinationIP": dst["ip"],
    }
    row.update(extra)
    return row


WEB = pod("shop", "web-1", "node-a", "10.0.0.1")
API = pod("shop", "api-1", "node-b", "10.0.0.2")
DB = pod("data", "db-1", "node-b", "10.0.0.3")
OTHER = pod("other", "x-1", "node-z", "10.9.0.1")  # only in cluster C2
DNS = pod("kube-system", "coredns-1", "node-a", "10.0.0.53")
EXTERNAL = {"ns": None, "name": None, "node": None, "ip": "8.8.8.8"}


def dataset() -> list[dict]:
    return [
        # web -> api, allowed by a namespaced ingress policy, active connection.
        flow(
            WEB,
            API,
            flowEndReason=2,
            ingressNetworkPolicyName="allow-web",
            ingressNetworkPolicyNamespace="shop",
            ingressNetworkPolicyRuleAction=1,
            destinationServicePortName="shop/api:http",
            destinationServicePort=80,
        ),
        # api -> db, egress allowed by a cluster-scoped policy (NULL namespace).
        flow(
            API,
            DB,
            egressNetworkPolicyName="acnp-allow-db",
            egressNetworkPolicyRuleAction=1,
            destinationServicePortName="",
        ),
        # web -> db, dropped by an ingress rule; reply only (forward throughput 0).
        flow(
            WEB,
            DB,
            sourceTransportPort=40001,
            ingressNetworkPolicyName="deny-web-db",
            ingressNetworkPolicyNamespace="data",
            ingressNetworkPolicyRuleAction=2,
            throughput=0,
            reverseThroughput=300,
        ),
        # api -> web, rejected by a namespaced egress rule.
        flow(
            API,
            WEB,
            egressNetworkPolicyName="no-api-web",
            egressNetworkPolicyNamespace="shop",
            egressNetworkPolicyRuleAction=3,
        ),
        # web -> outside the cluster, in the last minute of the window.
        flow(
            WEB,
            EXTERNAL,
            flowType=3,
            flowEndSeconds=END - timedelta(seconds=30),
            octetDeltaCount=6000,
            reverseOctetDeltaCount=0,
        ),
        # system namespace traffic (excluded by pod-to-pod and policy panels).
        flow(WEB, DNS, flowType=1, destinationTransportPort=53, protocolIdentifier=17),
        # a pod of cluster C2 as destination only: filtered out when C1 is selected.
        flow(API, OTHER, clusterUUID=C2),
        # outside the window.
        flow(WEB, API, flowEndSeconds=START - timedelta(minutes=1)),
        flow(WEB, API, flowEndSeconds=END),
    ]


def insert_results(warehouse) -> None:
    """Recommendation runs (the second diffed against the first) and drop anomalies."""
    run = {
        "jobType": "initial",
        "policyType": "anp-deny-applied",
        "windowStart": START,
        "windowEnd": END,
        "flowCount": 10,
    }
    insert_rows(
        warehouse,
        "RECOMMENDATION_RUNS",
        [
            {**run, "runId": "r1", "status": "succeeded", "startedAt": END - timedelta(days=1)},
            {
                **run,
                "runId": "r2",
                "status": "succeeded",
                "startedAt": END,
                "clusterUUID": C1,
                "previousRunId": "r1",
                "policyCount": 3,
            },
            {**run, "runId": "r3", "status": "failed", "startedAt": END + timedelta(hours=1)},
            {
                **run,
                "runId": "r4",
                "status": "succeeded",
                "clusterUUID": C2,
                "startedAt": END + timedelta(hours=2),
            },
            # Newest, but waiting for approval: its policies are not what latest/ holds.
            {
                **run,
                "runId": "r5",
                "status": "succeeded",
                "approval": "pending",
                "startedAt": END + timedelta(hours=3),
            },
        ],
    )
    pol = {"apiVersion": "crd.antrea.io/v1beta1", "yaml": "x"}
    np, cnp = "NetworkPolicy", "ClusterNetworkPolicy"
    insert_rows(
        warehouse,
        "RECOMMENDED_POLICIES",
        [
            {
                **pol,
                "runId": "r1",
                "position": 0,
                "kind": np,
                "namespace": "shop",
                "name": "a",
                "yamlSha256": "1",
            },
            {
                **pol,
                "runId": "r1",
                "position": 1,
                "kind": np,
                "namespace": "shop",
                "name": "b",
                "yamlSha256": "2",
            },
            {
                **pol,
                "runId": "r1",
                "position": 2,
                "kind": cnp,
                "namespace": None,
                "name": "c",
                "yamlSha256": "3",
            },
            {
                **pol,
                "runId": "r2",
                "position": 0,
                "kind": np,
                "namespace": "shop",
                "name": "a",
                "yamlSha256": "1",
            },
            {
                **pol,
                "runId": "r2",
                "position": 1,
                "kind": np,
                "namespace": "data",
                "name": "d",
                "yamlSha256": "4",
            },
            {
                **pol,
                "runId": "r2",
                "position": 2,
                "kind": cnp,
                "namespace": None,
                "name": "c",
                "yamlSha256": "33",
            },
        ],
    )
    anomaly = {
        "method": "baseline",
        "granularity": "pod",
        "dropCount": 5,
        "anomalyDate": END.date(),
        "direction": "ingress",
        "score": 4.0,
        "topPolicy": "data/deny-web-db",
        "topRule": "rule-0",
        "topPeer": "shop/web-1",
    }
    insert_rows(
        warehouse,
        "DROP_ANOMALIES",
        [
            {
                **anomaly,
                "runId": "d1",
                "anomalyKey": "k1",
                "endpoint": "data/db-1",
                "detectedAt": END - timedelta(hours=1),
            },
            {
                **anomaly,
                "runId": "d2",
                "anomalyKey": "k1",
                "endpoint": "data/db-1",
                "detectedAt": END,
            },
            {
                **anomaly,
                "runId": "d2",
                "anomalyKey": "k2",
                "endpoint": "shop/web-1",
                "direction": "egress",
                "topPolicy": "shop/no-egress",
                "dropCount": 2,
                "detectedAt": END,
                "clusterUUID": C2,
            },
            {
                **anomaly,
                "runId": "d2",
                "anomalyKey": "k3",
                "endpoint": "old/pod",
                "anomalyDate": (START - timedelta(days=3)).date(),
                "detectedAt": END,
            },
        ],
    )
    point = {
        "algorithm": "EWMA",
        "aggType": "svc",
        "seriesLabel": "svc shop/api:http",
        "destinationServicePortName": "shop/api:http",
        "flowEndSeconds": END - timedelta(minutes=10),
        "throughput": 9e8,
        "algoCalc": 4.5e8,
        "throughputStandardDeviation": 1e8,
    }
    insert_rows(
        warehouse,
        "TAD_ANOMALIES",
        [
            # The same point found by two runs of one algorithm and by DBSCAN.
            {**point, "runId": "t1", "anomalyKey": "p1", "detectedAt": END - timedelta(hours=1),
             "algoCalc": 1.0},
            {**point, "runId": "t2", "anomalyKey": "p1", "detectedAt": END},
            {**point, "runId": "t3", "anomalyKey": "p1", "detectedAt": END, "algorithm": "DBSCAN",
             "algoCalc": 0.0},
            {**point, "runId": "t2", "anomalyKey": "p2", "detectedAt": END, "clusterUUID": C2,
             "seriesLabel": "external 203.0.113.9", "throughput": 5e8},
            {**point, "runId": "t2", "anomalyKey": "p3", "detectedAt": END,
             "flowEndSeconds": START - timedelta(minutes=1)},
        ],
    )  # fmt: skip


@pytest.fixture(scope="module")
def populated(tmp_path_factory, sql):
    """One migrated, populated DuckDB file per module; tests copy it when they write."""
    path = tmp_path_factory.mktemp("dashboards") / "theia.duckdb"
    warehouse = migrated_duckdb_file(path, sql)
    insert_flows(warehouse, dataset())
    insert_results(warehouse)
    return path


@pytest.fixture
def warehouse(populated):
    from theia_sf.adapters.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(populated, lock_timeout=60)


@pytest.fixture
def writable_warehouse(populated, tmp_path):
    from theia_sf.adapters.duckdb import DuckDBWarehouse

    copy = tmp_path / "theia.duckdb"
    shutil.copyfile(populated, copy)
    return DuckDBWarehouse(copy, lock_timeout=60)


def run(warehouse, relative: str, clusters=(C1,)):
    query = substitute_macros(
        panel_sql(SQL, relative),
        time_from=START,
        time_to=END,
        clusters=list(clusters),
        name=relative,
    )
    with warehouse.session(read_only=True) as session:
        return session.fetch_rows(query)


def value(warehouse, relative: str, clusters=(C1,)):
    columns, rows = run(warehouse, relative, clusters)
    assert columns == ["value"]
    (row,) = rows
    return row[0]


QUERY_PANELS = [
    pytest.param(panel, id=f"{d.name}:{panel.sql.split('/')[-1]}")
    for d in DASHBOARDS
    for panel in d.query_panels()
]


@pytest.mark.parametrize("panel", QUERY_PANELS)
def test_panel_query_runs_and_returns_the_panel_columns(warehouse, panel):
    columns, rows = run(warehouse, panel.sql)
    assert columns == [c.lower() for c in panel.columns]
    if "LOAD_HISTORY" not in panel_sql(SQL, panel.sql) and "REJECTED" not in panel_sql(
        SQL, panel.sql
    ):
        assert rows, f"{panel.title}: no rows from the generated flows"


def test_cluster_variable_lists_distinct_clusters(warehouse):
    columns, rows = run(warehouse, "dashboards/variables/select_cluster_ids.sql")
    assert columns == ["clusterid"]
    assert rows == [(C1,), (C2,)]


def test_pod_count_applies_the_cluster_filter_to_destinations(warehouse):
    # web, api, db, coredns in C1; x-1 only in C2.
    assert value(warehouse, "dashboards/home/select_pod_count.sql") == 4
    assert value(warehouse, "dashboards/home/select_pod_count.sql", (C1, C2)) == 5
    assert value(warehouse, "dashboards/home/select_node_count.sql") == 2
    assert value(warehouse, "dashboards/home/select_node_count.sql", (C2,)) == 2


def test_services_ignore_null_and_empty_names(warehouse):
    assert value(warehouse, "dashboards/home/select_service_count.sql") == 1


def test_connection_counts(warehouse):
    assert value(warehouse, "dashboards/home/select_active_connection_count.sql") == 1
    assert value(warehouse, "dashboards/home/select_stopped_connection_count.sql") == 5
    assert value(warehouse, "dashboards/home/select_denied_connection_count.sql") == 2
    assert value(warehouse, "dashboards/home/select_external_connection_count.sql") == 1


def test_network_policy_count_includes_cluster_scoped_policies(warehouse):
    # allow-web, deny-web-db (ingress); acnp-allow-db (egress, no namespace), no-api-web.
    assert value(warehouse, "dashboards/home/select_network_policy_count.sql") == 4


def test_overall_throughput_covers_only_the_last_minute(warehouse):
    # Only the external flow ended in the last 60 s: 6000 bytes / 60 s.
    assert value(warehouse, "dashboards/home/select_overall_throughput.sql") == 100
    assert value(warehouse, "dashboards/home/select_external_throughput.sql") == 100
    total = 5 * 1500 + 6000  # five 1500-byte flows in C1 and the window, plus the external one
    assert value(warehouse, "dashboards/home/select_data_transmitted.sql") == total


def test_reverse_throughput_keeps_pairs_with_zero_forward_throughput(warehouse):
    _, forward = run(warehouse, "dashboards/pod_to_pod/select_pod_to_pod_throughput.sql")
    _, reverse = run(warehouse, "dashboards/pod_to_pod/select_pod_to_pod_reverse_throughput.sql")
    assert "shop/web-1 -> data/db-1" not in {r[1] for r in forward}
    assert "shop/web-1 -> data/db-1" in {r[1] for r in reverse}


def test_pod_to_pod_excludes_system_namespaces_and_external(warehouse):
    _, rows = run(warehouse, "dashboards/pod_to_pod/select_pod_to_pod_bytes.sql")
    assert sorted((s, d, b) for s, d, b in rows) == [
        ("shop/api-1", "data/db-1", 1000),
        ("shop/api-1", "shop/web-1", 1000),
        ("shop/web-1", "data/db-1", 1000),
        ("shop/web-1", "shop/api-1", 1000),
    ]


def test_source_pod_throughput_is_bytes_per_second(warehouse):
    _, rows = run(warehouse, "dashboards/pod_to_pod/select_source_pod_throughput.sql")
    by_pod = {}
    for _, pod_name, rate in rows:
        by_pod[pod_name] = by_pod.get(pod_name, 0) + rate
    assert by_pod["shop/web-1"] == pytest.approx(2000 / 60)


def test_policy_panels_keep_external_and_cluster_scoped(warehouse):
    _, rows = run(warehouse, "dashboards/network_policy/select_egress_policy_bytes.sql")
    assert sorted(rows) == [("acnp-allow-db", 1000), ("shop/no-api-web", 1000)]
    _, rows = run(warehouse, "dashboards/network_policy/select_ingress_policy_bytes.sql")
    assert sorted(rows) == [("data/deny-web-db", 1000), ("shop/allow-web", 1000)]
    columns, rows = run(warehouse, "dashboards/network_policy/select_policy_flows.sql")
    dst = columns.index("dstpod")
    assert "8.8.8.8" in {r[dst] for r in rows}
    assert "kube-system/coredns-1" not in {r[dst] for r in rows}


def test_deny_series_label_names_the_policy(warehouse):
    _, rows = run(warehouse, "dashboards/network_policy/select_ingress_deny_throughput.sql")
    assert {r[1] for r in rows} == {"shop/web-1:40001 -> data/db-1:8080 : data/deny-web-db"}
    _, rows = run(warehouse, "dashboards/network_policy/select_egress_allow_throughput.sql")
    assert {r[1] for r in rows} == {"shop/api-1:40000 -> data/db-1:8080 : acnp-allow-db"}


def test_flow_records_table_is_newest_first_inside_the_window(warehouse):
    columns, rows = run(warehouse, "dashboards/flow_records/select_flow_records.sql")
    ends = [r[columns.index("flowendseconds")] for r in rows]
    assert ends == sorted(ends, reverse=True)
    assert len(rows) == 6
    assert all(START <= e < END for e in ends)


def test_ingestion_health(writable_warehouse):
    warehouse = writable_warehouse
    with warehouse.session() as session:
        session.execute(
            Query(
                "lh",
                "INSERT INTO LOAD_HISTORY (fileKey, etag, rowsLoaded, rowsRejected, loadedAt) "
                "VALUES (:k, 'e', 7, 1, :t), (:k2, 'e', 3, 0, :t2)",
                {
                    "k": "a.csv",
                    "k2": "b.csv",
                    "t": END - timedelta(minutes=2),
                    "t2": START - timedelta(days=1),
                },
            )
        )
        session.execute(
            Query(
                "rj",
                "INSERT INTO REJECTED_FLOW_RECORDS (fileKey, lineNumber, reason, rejectedAt) "
                "VALUES ('a.csv', 3, 'bad', :t)",
                {"t": END - timedelta(minutes=2)},
            )
        )
    assert value(warehouse, "dashboards/home/select_files_loaded.sql") == 1
    assert value(warehouse, "dashboards/home/select_rows_loaded.sql") == 7
    assert value(warehouse, "dashboards/home/select_rows_rejected.sql") == 1
    columns, ((since_load, since_flow),) = run(
        warehouse, "dashboards/home/select_ingestion_lag.sql"
    )
    assert columns == ["sincelastload", "sincenewestflow"]
    now = datetime.now(UTC)
    assert abs(since_load - (now - (END - timedelta(minutes=2))).total_seconds()) < 120
    assert abs(since_flow - (now - END).total_seconds()) < 120


def test_unknown_macros_are_rejected():
    with pytest.raises(ValueError, match="unsupported Grafana macro"):
        substitute_macros(
            "SELECT 1 FROM FLOWS WHERE $__timeFilter(flowEndSeconds)",
            time_from=START,
            time_to=END,
            clusters=[C1],
        )
    with pytest.raises(ValueError, match="unsupported"):
        substitute_macros("SELECT ${namespace:raw}", time_from=START, time_to=END, clusters=[C1])
    with pytest.raises(ValueError, match="at least one"):
        substitute_macros("SELECT 1", time_from=START, time_to=END, clusters=[])


def test_macros_become_binds_not_text():
    query = substitute_macros(
        "SELECT 1 FROM FLOWS WHERE t >= $__timeFrom()::TIMESTAMP_TZ AND c IN (${clusterID:sqlstring})",
        time_from=START,
        time_to=END,
        clusters=["a'b", C2],
    )
    assert "a'b" not in query.text
    assert query.placeholders() == {"grafana_time_from", "grafana_cluster_0", "grafana_cluster_1"}
    assert query.binds["grafana_cluster_0"] == "a'b"


def test_latest_recommendation_run_respects_status_approval_and_cluster(warehouse):
    columns, rows = run(warehouse, "dashboards/results/select_latest_recommendation_run.sql")
    assert [r[columns.index("run")] for r in rows] == ["r2"]
    _, rows = run(warehouse, "dashboards/results/select_latest_recommendation_run.sql", (C2,))
    assert [r[0] for r in rows] == ["r4"]


def test_policies_by_namespace_of_the_latest_run(warehouse):
    _, rows = run(warehouse, "dashboards/results/select_latest_policies_by_namespace.sql")
    assert sorted(rows) == [("(cluster)", 1), ("data", 1), ("shop", 1)]


def test_diff_counts_against_the_previous_run(warehouse):
    columns, rows = run(warehouse, "dashboards/results/select_latest_recommendation_diff.sql")
    assert columns == ["added", "removed", "changed"]
    assert rows == [(1, 1, 1)]  # +data/d, -shop/b, ~c (digest changed), a unchanged


def test_throughput_anomalies_once_per_point_inside_the_range_and_cluster(warehouse):
    columns, rows = run(warehouse, "dashboards/results/select_throughput_anomalies.sql")
    assert [(r[1], r[2]) for r in rows] == [("svc shop/api:http", 9e8)]
    _, rows = run(warehouse, "dashboards/results/select_throughput_anomalies.sql", (C1, C2))
    assert sorted(r[1] for r in rows) == ["external 203.0.113.9", "svc shop/api:http"]
    columns, rows = run(warehouse, "dashboards/results/select_throughput_anomaly_points.sql")
    assert columns == ["time", "series", "throughput", "algorithm", "algocalc", "stddev"]
    # Once per algorithm, from its latest run.
    assert sorted((r[3], r[4]) for r in rows) == [("DBSCAN", 0.0), ("EWMA", 4.5e8)]


def test_anomalies_once_per_key_inside_the_range_and_cluster(warehouse):
    columns, rows = run(warehouse, "dashboards/results/select_drop_anomalies.sql")
    assert [r[columns.index("endpoint")] for r in rows] == ["data/db-1"]
    _, rows = run(warehouse, "dashboards/results/select_drop_anomalies.sql", (C1, C2))
    assert sorted(r[1] for r in rows) == ["data/db-1", "shop/web-1"]
    _, rows = run(warehouse, "dashboards/results/select_drop_anomalies_per_day.sql", (C1, C2))
    assert sorted((r[1], r[2]) for r in rows) == [("egress", 1), ("ingress", 1)]
    _, rows = run(warehouse, "dashboards/results/select_drop_anomaly_rules.sql", (C1, C2))
    assert rows == [("data/deny-web-db rule-0", 1, 5), ("shop/no-egress rule-0", 1, 2)]
