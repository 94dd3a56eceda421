-- Unprotected flows (no ingress and no egress policy) whose record ended in [:start_ts, :end_ts),
-- reduced to distinct tuples with evidence. Peer IPs are kept only where a rule needs them
-- (from-external sources, to-external destinations), so churning pod IPs do not multiply tuples.
SELECT
    sourcePodNamespace AS src_ns,
    sourcePodLabels AS src_labels,
    CASE WHEN flowType = 4 THEN sourceIP END AS src_ip,
    CASE WHEN flowType = 3 THEN destinationIP END AS dst_ip,
    destinationPodNamespace AS dst_ns,
    destinationPodLabels AS dst_labels,
    destinationServicePortName AS svc_port_name,
    destinationTransportPort AS dst_port,
    protocolIdentifier AS protocol,
    flowType AS flow_type,
    COUNT(*) AS flow_count,
    SUM(COALESCE(octetDeltaCount, 0) + COALESCE(reverseOctetDeltaCount, 0)) AS bytes,
    -- Unix seconds: converting hundreds of thousands of TIMESTAMP_TZ values in the client is slow.
    DATE_PART(EPOCH_SECOND, MIN(flowStartSeconds)) AS first_seen,
    DATE_PART(EPOCH_SECOND, MAX(flowEndSeconds)) AS last_seen
FROM FLOWS
-- (IS NULL OR = '' rather than COALESCE(...) = '': the same rows, and DuckDB filters it faster)
WHERE (ingressNetworkPolicyName IS NULL OR ingressNetworkPolicyName = '')
    AND (egressNetworkPolicyName IS NULL OR egressNetworkPolicyName = '')
    AND flowEndSeconds >= :start_ts
    AND flowEndSeconds < :end_ts
{%- if cluster_uuid %}
    AND clusterUUID = :cluster_uuid
{%- endif %}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
{%- if limit %}
-- With a limit, keep the busiest tuples (ties broken on every column, so runs repeat).
ORDER BY flow_count DESC, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
LIMIT :limit
{%- endif %}
