-- Donut: bytes per ingress policy (namespace/name, or name for cluster-scoped policies).
SELECT
    CASE
        WHEN COALESCE(ingressNetworkPolicyNamespace, '') <> ''
            THEN ingressNetworkPolicyNamespace || '/' || ingressNetworkPolicyName
        ELSE ingressNetworkPolicyName
    END AS "policy",
    SUM(octetDeltaCount) AS "bytes"
FROM FLOWS
WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
  AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
  AND clusterUUID IN (${clusterID:sqlstring})
  AND COALESCE(sourcePodNamespace, '') NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND COALESCE(destinationPodNamespace, '') NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND COALESCE(ingressNetworkPolicyName, '') <> ''
GROUP BY 1
ORDER BY 2 DESC, 1
