"""The Theia dashboards: which panel shows which query file, in which unit.

Home, Flow Records, Pod-to-Pod and Network Policy follow theia-sf's dashboards (with its
query bugs fixed in the SQL files); Home adds ingestion health. Panel units: byte counts
use ``decbytes``, rates computed from byte counters ``Bps`` (bytes/s), and Antrea's
``throughput`` fields, which are bits per second, ``bps``.
"""

from __future__ import annotations

from typing import Any

from theia_sf.dashboards.model import Dashboard, Panel, PanelKind

K = PanelKind
CLUSTER_VARIABLE_SQL = "dashboards/variables/select_cluster_ids.sql"

VALUE = ("value",)
SERIES = ("time", "value")


def value_mapping(texts: dict[str, str]) -> dict[str, Any]:
    """A Grafana value mapping: each raw value shown as its text, listed in this order."""
    return {
        "type": "value",
        "options": {v: {"text": text, "index": i} for i, (v, text) in enumerate(texts.items())},
    }


FLOW_TYPE = value_mapping(
    {"1": "Intra-Node", "2": "Inter-Node", "3": "To External", "4": "From External"}
)
RULE_ACTION = value_mapping({"0": "No Action", "1": "Allow", "2": "Drop", "3": "Reject"})
POLICY_TYPE = value_mapping(
    {
        "0": "N/A",
        "1": "K8s NetworkPolicy",
        "2": "Antrea NetworkPolicy",
        "3": "Antrea ClusterNetworkPolicy",
    }
)
PROTOCOL = value_mapping({"6": "TCP", "17": "UDP", "132": "SCTP", "1": "ICMP", "58": "ICMPv6"})
# IPFIX flowEndReason (one mapping; theia-sf carried two conflicting ones).
END_REASON = value_mapping(
    {
        "1": "Idle timeout",
        "2": "Active timeout",
        "3": "End of flow",
        "4": "Forced end",
        "5": "Lack of resources",
    }
)

FLOW_RECORD_COLUMNS = (
    "flowStartSeconds",
    "flowEndSeconds",
    "flowEndReason",
    "sourceIP",
    "sourceTransportPort",
    "sourcePodNamespace",
    "sourcePodName",
    "sourceNodeName",
    "destinationIP",
    "destinationTransportPort",
    "destinationPodNamespace",
    "destinationPodName",
    "destinationNodeName",
    "destinationClusterIP",
    "destinationServicePort",
    "destinationServicePortName",
    "protocolIdentifier",
    "flowType",
    "tcpState",
    "packetDeltaCount",
    "octetDeltaCount",
    "reversePacketDeltaCount",
    "reverseOctetDeltaCount",
    "throughput",
    "reverseThroughput",
    "ingressNetworkPolicyNamespace",
    "ingressNetworkPolicyName",
    "ingressNetworkPolicyRuleName",
    "ingressNetworkPolicyRuleAction",
    "ingressNetworkPolicyType",
    "egressNetworkPolicyNamespace",
    "egressNetworkPolicyName",
    "egressNetworkPolicyRuleName",
    "egressNetworkPolicyRuleAction",
    "egressNetworkPolicyType",
    "egressName",
    "egressIP",
    "clusterUUID",
)

CHORD_COLUMNS = (
    "srcPod",
    "dstPod",
    "srcPort",
    "dstPort",
    "dstSvcPort",
    "dstSvc",
    "dstIP",
    "bytes",
    "revBytes",
    "egressNetworkPolicyName",
    "egressNetworkPolicyRuleAction",
    "ingressNetworkPolicyName",
    "ingressNetworkPolicyRuleAction",
)

OVERVIEW_TEXT = """\
### Theia flow analytics

Network flows exported by Antrea's Flow Aggregator, loaded into the Theia warehouse.
Use the **Cluster** selector (top left) to restrict every panel to some clusters, and the
time picker to choose the window. Policy recommendations and drop anomalies are computed by
the Airflow DAGs `theia_policy_recommendation` and `theia_drop_detection`; the Theia page in
the Airflow UI shows their results.
"""

INTRO_TEXT = """\
### Pre-built dashboards

* **Flow Records**: every flow record in the window, newest first, with filters per column.
* **Pod-to-Pod**: bytes and throughput between pods, per pod and per namespace.
* **Network Policy**: traffic per ingress/egress policy, allowed and denied.
* **Recommendations and Drop Anomalies**: the latest recommended policies and what changed,
  drop anomalies per day and the policy rules behind them.
"""


def _home(prefix: str) -> tuple[Panel, ...]:
    def stat(title: str, name: str, unit: str = "short", description: str = "") -> Panel:
        return Panel(
            title,
            K.STAT,
            f"{prefix}/{name}.sql",
            VALUE,
            unit=unit,
            width=4,
            height=4,
            description=description,
        )

    return (
        Panel("Cluster Overview", K.ROW),
        stat("Pods", "select_pod_count"),
        stat("Services", "select_service_count"),
        stat("Nodes", "select_node_count"),
        stat(
            "Active Connections",
            "select_active_connection_count",
            description="Connections (5-tuples) with a record ended by an active timeout.",
        ),
        stat("Stopped Connections", "select_stopped_connection_count"),
        stat(
            "Denied Connections",
            "select_denied_connection_count",
            description="Connections dropped or rejected by an ingress or egress rule.",
        ),
        stat("Data Transmitted", "select_data_transmitted", "decbytes"),
        stat(
            "Overall Throughput",
            "select_overall_throughput",
            "Bps",
            "Bytes per second over the last minute of the selected range.",
        ),
        stat("Network Policies", "select_network_policy_count"),
        stat("Data Transmitted With External", "select_external_data_transmitted", "decbytes"),
        stat("Throughput With External", "select_external_throughput", "Bps"),
        stat("Connections To External", "select_external_connection_count"),
        Panel("Overview of Project Theia", K.TEXT, width=12, height=7, content=OVERVIEW_TEXT),
        Panel(
            "Introduction of Pre-built Dashboards", K.TEXT, width=12, height=7, content=INTRO_TEXT
        ),
        Panel(
            "Top 10 Active Source Pods",
            K.BARGAUGE,
            f"{prefix}/select_top_source_pods.sql",
            ("pod", "bytes"),
            unit="decbytes",
            width=12,
            height=9,
        ),
        Panel("Dashboard Links", K.DASHLIST, width=12, height=9),
        Panel(
            "Flow Records Per Minute",
            K.TIMESERIES,
            f"{prefix}/select_flow_records_per_minute.sql",
            SERIES,
            unit="short",
            width=24,
            height=8,
        ),
        Panel("Ingestion Health", K.ROW),
        stat(
            "Files Loaded",
            "select_files_loaded",
            description="Flow files loaded by the embedded engine in the range "
            "(Snowpipe loads are listed in Snowflake's COPY_HISTORY).",
        ),
        stat("Rows Loaded", "select_rows_loaded"),
        stat(
            "Rows Rejected",
            "select_rows_rejected",
            description="Malformed lines kept in REJECTED_FLOW_RECORDS with file, line and reason.",
        ),
        Panel(
            "Ingestion Lag",
            K.STAT,
            f"{prefix}/select_ingestion_lag.sql",
            ("sinceLastLoad", "sinceNewestFlow"),
            unit="s",
            width=12,
            height=4,
            description="Seconds since the last file was loaded and since the newest flow "
            "record ended.",
        ),
    )


def _flow_records(prefix: str) -> tuple[Panel, ...]:
    mapped = {
        "flowType": FLOW_TYPE,
        "ingressNetworkPolicyRuleAction": RULE_ACTION,
        "egressNetworkPolicyRuleAction": RULE_ACTION,
        "ingressNetworkPolicyType": POLICY_TYPE,
        "egressNetworkPolicyType": POLICY_TYPE,
        "protocolIdentifier": PROTOCOL,
        "flowEndReason": END_REASON,
    }
    overrides = [
        {
            "matcher": {"id": "byName", "options": column},
            "properties": [{"id": "mappings", "value": [mapping]}],
        }
        for column, mapping in mapped.items()
    ]
    return (
        Panel(
            "Flow Records Count",
            K.STAT,
            f"{prefix}/select_flow_record_count.sql",
            VALUE,
            width=6,
            height=6,
        ),
        Panel(
            "Flow Records Per Minute",
            K.TIMESERIES,
            "dashboards/home/select_flow_records_per_minute.sql",
            SERIES,
            width=18,
            height=6,
        ),
        Panel(
            "Flow Records Table",
            K.TABLE,
            f"{prefix}/select_flow_records.sql",
            FLOW_RECORD_COLUMNS,
            width=24,
            height=18,
            description="The newest 1000 flow records in the range.",
            overrides=tuple(overrides),
        ),
    )


def _pod_to_pod(prefix: str) -> tuple[Panel, ...]:
    def p(name: str) -> str:
        return f"{prefix}/{name}.sql"

    return (
        Panel(
            "Cumulative Bytes of Pod-to-Pod",
            K.SANKEY,
            p("select_pod_to_pod_bytes"),
            ("source", "destination", "bytes"),
            unit="decbytes",
            width=12,
            height=16,
        ),
        Panel(
            "Cumulative Reverse Bytes of Pod-to-Pod",
            K.SANKEY,
            p("select_pod_to_pod_reverse_bytes"),
            ("source", "destination", "bytes"),
            unit="decbytes",
            width=12,
            height=16,
        ),
        Panel(
            "Throughput of Pod-to-Pod",
            K.TIMESERIES,
            p("select_pod_to_pod_throughput"),
            ("time", "pair", "value"),
            unit="bps",
            width=12,
            height=10,
        ),
        Panel(
            "Reverse Throughput of Pod-to-Pod",
            K.TIMESERIES,
            p("select_pod_to_pod_reverse_throughput"),
            ("time", "pair", "value"),
            unit="bps",
            width=12,
            height=10,
        ),
        Panel(
            "Throughput of Pod as Source",
            K.TIMESERIES,
            p("select_source_pod_throughput"),
            ("time", "pod", "value"),
            unit="Bps",
            width=12,
            height=10,
        ),
        Panel(
            "Cumulative Bytes of Source Pod Namespace",
            K.PIECHART,
            p("select_source_namespace_bytes"),
            ("namespace", "bytes"),
            unit="decbytes",
            width=12,
            height=10,
        ),
        Panel(
            "Throughput of Pod as Destination",
            K.TIMESERIES,
            p("select_destination_pod_throughput"),
            ("time", "pod", "value"),
            unit="Bps",
            width=12,
            height=10,
        ),
        Panel(
            "Cumulative Bytes of Destination Pod Namespace",
            K.PIECHART,
            p("select_destination_namespace_bytes"),
            ("namespace", "bytes"),
            unit="decbytes",
            width=12,
            height=10,
        ),
    )


def _network_policy(prefix: str) -> tuple[Panel, ...]:
    def p(name: str) -> str:
        return f"{prefix}/{name}.sql"

    series = ("time", "pair", "value")
    return (
        Panel(
            "Cumulative Bytes of Flows with NetworkPolicy Information",
            K.CHORD,
            p("select_policy_flows"),
            CHORD_COLUMNS,
            unit="decbytes",
            width=24,
            height=18,
        ),
        Panel(
            "Cumulative Bytes of Ingress Network Policy",
            K.PIECHART,
            p("select_ingress_policy_bytes"),
            ("policy", "bytes"),
            unit="decbytes",
            width=12,
            height=10,
        ),
        Panel(
            "Cumulative Bytes of Egress Network Policy",
            K.PIECHART,
            p("select_egress_policy_bytes"),
            ("policy", "bytes"),
            unit="decbytes",
            width=12,
            height=10,
        ),
        Panel(
            "Throughput of Ingress Allow NetworkPolicy",
            K.TIMESERIES,
            p("select_ingress_allow_throughput"),
            series,
            unit="bps",
            width=12,
            height=10,
        ),
        Panel(
            "Throughput of Egress Allow NetworkPolicy",
            K.TIMESERIES,
            p("select_egress_allow_throughput"),
            series,
            unit="bps",
            width=12,
            height=10,
        ),
        Panel(
            "Throughput of Ingress Deny NetworkPolicy",
            K.TIMESERIES,
            p("select_ingress_deny_throughput"),
            series,
            unit="Bps",
            width=12,
            height=10,
        ),
        Panel(
            "Throughput of Egress Deny NetworkPolicy",
            K.TIMESERIES,
            p("select_egress_deny_throughput"),
            series,
            unit="Bps",
            width=12,
            height=10,
        ),
    )


def _results(prefix: str) -> tuple[Panel, ...]:
    def p(name: str) -> str:
        return f"{prefix}/{name}.sql"

    return (
        Panel("Policy Recommendation", K.ROW),
        Panel(
            "Latest Recommendation Run",
            K.TABLE,
            p("select_latest_recommendation_run"),
            ("run", "policyType", "startedAt", "windowStart", "windowEnd", "flows", "policies"),
            width=24,
            height=4,
            description="The latest succeeded run of the theia_policy_recommendation DAG.",
        ),
        Panel(
            "Recommended Policies by Namespace",
            K.BARGAUGE,
            p("select_latest_policies_by_namespace"),
            ("namespace", "policies"),
            unit="short",
            width=16,
            height=8,
        ),
        Panel(
            "Changes Since the Previous Run",
            K.STAT,
            p("select_latest_recommendation_diff"),
            ("added", "removed", "changed"),
            unit="short",
            width=8,
            height=8,
            description="Policies added, removed and changed against the previous run with "
            "the same parameters.",
        ),
        Panel("Drop Detection", K.ROW),
        Panel(
            "Drop Anomalies per Day",
            K.TIMESERIES,
            p("select_drop_anomalies_per_day"),
            ("time", "direction", "value"),
            unit="short",
            width=14,
            height=9,
            options={"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
        ),
        Panel(
            "Rules Behind the Anomalies",
            K.BARGAUGE,
            p("select_drop_anomaly_rules"),
            ("rule", "anomalies", "drops"),
            unit="short",
            width=10,
            height=9,
        ),
        Panel(
            "Drop Anomalies",
            K.TABLE,
            p("select_drop_anomalies"),
            (
                "day",
                "endpoint",
                "direction",
                "drops",
                "baseline",
                "score",
                "topPolicy",
                "topRule",
                "topPeer",
                "method",
            ),
            width=24,
            height=12,
            description="Each anomaly with the policy rule and peer behind most of its drops.",
        ),
        Panel("Throughput Anomaly Detection", K.ROW),
        Panel(
            "Anomalous Throughput Points",
            K.TIMESERIES,
            p("select_throughput_anomalies"),
            ("time", "series", "value"),
            unit="bps",
            width=24,
            height=9,
            description="Points the theia_throughput_anomaly_detection DAG flagged, per series.",
            options={"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
        ),
        Panel(
            "Throughput Anomalies",
            K.TABLE,
            p("select_throughput_anomaly_points"),
            ("time", "series", "throughput", "algorithm", "algoCalc", "stddev"),
            width=24,
            height=10,
            description="Each flagged point with the algorithm's value (EWMA, ARIMA forecast; "
            "0 for DBSCAN) and the threshold.",
        ),
    )


DASHBOARDS: tuple[Dashboard, ...] = (
    Dashboard(
        "homepage",
        "theia-home",
        "Theia Home",
        _home("dashboards/home"),
        description="Cluster overview and ingestion health.",
    ),
    Dashboard(
        "flow_records_dashboard",
        "theia-flow-records",
        "Theia Flow Records",
        _flow_records("dashboards/flow_records"),
    ),
    Dashboard(
        "pod_to_pod_dashboard",
        "theia-pod-to-pod",
        "Theia Pod-to-Pod",
        _pod_to_pod("dashboards/pod_to_pod"),
    ),
    Dashboard(
        "networkpolicy_dashboard",
        "theia-network-policy",
        "Theia Network Policy",
        _network_policy("dashboards/network_policy"),
    ),
    Dashboard(
        "results_dashboard",
        "theia-results",
        "Theia Recommendations and Drop Anomalies",
        _results("dashboards/results"),
        description="Results of the policy recommendation and drop detection DAGs.",
        time_from="now-30d",
    ),
)
