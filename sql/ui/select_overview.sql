-- Headline numbers of the Theia page for a window (and optionally one cluster).
-- Structure: with_cluster. Binds: :start_ts, :end_ts, :cluster_uuid (with_cluster).
{% import "ui/flow_filters.sql.j2" as f -%}
WITH f AS (
    SELECT *
    FROM FLOWS
    WHERE {{ f.in_window(with_cluster, "      ") }}
),
pods AS (
    SELECT COALESCE(sourcePodNamespace, '') AS ns, sourcePodName AS pod
    FROM f
    WHERE COALESCE(sourcePodName, '') <> ''
    UNION
    SELECT COALESCE(destinationPodNamespace, '') AS ns, destinationPodName AS pod
    FROM f
    WHERE COALESCE(destinationPodName, '') <> ''
),
totals AS (
    SELECT
        COUNT(*) AS flow_records,
        {{ f.total_bytes() }} AS bytes,
        COUNT(DISTINCT CASE WHEN COALESCE(destinationServicePortName, '') <> ''
            THEN destinationServicePortName END) AS services,
        COUNT(DISTINCT clusterUUID) AS clusters,
        {{ f.denied_count("            ") }} AS denied_flows,
        COALESCE(SUM(CASE WHEN COALESCE(ingressNetworkPolicyName, '') = ''
            AND COALESCE(egressNetworkPolicyName, '') = '' THEN 1 ELSE 0 END), 0)
            AS unprotected_flows,
        MIN(flowEndSeconds) AS first_flow_end,
        MAX(flowEndSeconds) AS last_flow_end
    FROM f
)
SELECT
    t.flow_records,
    t.bytes,
    (SELECT COUNT(*) FROM pods) AS pods,
    (SELECT COUNT(DISTINCT ns) FROM pods) AS namespaces,
    t.services,
    t.clusters,
    t.denied_flows,
    t.unprotected_flows,
    t.first_flow_end,
    t.last_flow_end
FROM totals AS t
