-- Average throughput (bits/s) per minute of flows allowed by an ingress rule and not denied
-- on the egress side; one series per "src -> dst : policy".
SELECT
    TIME_SLICE(flowEndSeconds, 60, 'SECOND', 'START') AS "time",
    CASE
            WHEN COALESCE(sourcePodName, '') = '' THEN sourceIP
            WHEN COALESCE(sourceTransportPort, 0) <> 0
                THEN sourcePodNamespace || '/' || sourcePodName || ':' || sourceTransportPort
            ELSE sourcePodNamespace || '/' || sourcePodName
        END || ' -> ' || CASE
            WHEN COALESCE(destinationServicePortName, '') <> '' AND COALESCE(destinationServicePort, 0) <> 0
                THEN destinationServicePortName || ':' || destinationServicePort
            WHEN COALESCE(destinationServicePortName, '') <> '' THEN destinationServicePortName
            WHEN COALESCE(destinationPodName, '') <> '' AND COALESCE(destinationTransportPort, 0) <> 0
                THEN destinationPodNamespace || '/' || destinationPodName || ':' || destinationTransportPort
            WHEN COALESCE(destinationPodName, '') <> ''
                THEN destinationPodNamespace || '/' || destinationPodName
            ELSE destinationIP
        END || ' : ' || CASE
            WHEN COALESCE(ingressNetworkPolicyNamespace, '') <> ''
                THEN ingressNetworkPolicyNamespace || '/' || ingressNetworkPolicyName
            ELSE COALESCE(ingressNetworkPolicyName, '')
        END AS "pair",
    AVG(throughput) AS "value"
FROM FLOWS
WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
  AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
  AND clusterUUID IN (${clusterID:sqlstring})
  AND COALESCE(sourcePodNamespace, '') NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND COALESCE(destinationPodNamespace, '') NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND ingressNetworkPolicyRuleAction = 1
  AND COALESCE(egressNetworkPolicyRuleAction, 0) NOT IN (2, 3)
GROUP BY 1, 2
HAVING AVG(throughput) > 0
ORDER BY 1, 2
LIMIT 1000
