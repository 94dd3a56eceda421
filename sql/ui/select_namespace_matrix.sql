-- Namespace-to-namespace matrix: bytes, flow records and denied flow records per
-- (source namespace, destination namespace) of pod-to-pod traffic, largest first.
-- Structure: with_cluster, limit (an integer). Binds: :start_ts, :end_ts, :cluster_uuid.
SELECT
    sourcePodNamespace AS source_namespace,
    destinationPodNamespace AS destination_namespace,
    COALESCE(SUM(octetDeltaCount), 0) + COALESCE(SUM(reverseOctetDeltaCount), 0) AS bytes,
    COUNT(*) AS flows,
    COALESCE(SUM(CASE WHEN ingressNetworkPolicyRuleAction IN (2, 3)
        OR egressNetworkPolicyRuleAction IN (2, 3) THEN 1 ELSE 0 END), 0) AS denied_flows
FROM FLOWS
WHERE flowEndSeconds >= :start_ts
  AND flowEndSeconds < :end_ts
{%- if with_cluster %}
  AND clusterUUID = :cluster_uuid
{%- endif %}
  AND COALESCE(sourcePodName, '') <> ''
  AND COALESCE(destinationPodName, '') <> ''
GROUP BY 1, 2
ORDER BY 3 DESC, 1, 2
LIMIT {{ limit | int }}
