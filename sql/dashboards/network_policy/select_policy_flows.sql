-- Chord: bytes per source/destination and the policies that matched, top 25. Column aliases
-- are the ones the Theia chord panel reads. External endpoints (no pod) show their IP.
SELECT
    COALESCE(sourcePodNamespace || '/' || sourcePodName, sourceIP) AS "srcPod",
    COALESCE(destinationPodNamespace || '/' || destinationPodName, destinationIP) AS "dstPod",
    sourceTransportPort AS "srcPort",
    destinationTransportPort AS "dstPort",
    destinationServicePort AS "dstSvcPort",
    COALESCE(destinationServicePortName, '') AS "dstSvc",
    destinationIP AS "dstIP",
    SUM(octetDeltaCount) AS "bytes",
    SUM(reverseOctetDeltaCount) AS "revBytes",
    COALESCE(egressNetworkPolicyName, '') AS "egressNetworkPolicyName",
    egressNetworkPolicyRuleAction AS "egressNetworkPolicyRuleAction",
    COALESCE(ingressNetworkPolicyName, '') AS "ingressNetworkPolicyName",
    ingressNetworkPolicyRuleAction AS "ingressNetworkPolicyRuleAction"
FROM FLOWS
WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
  AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
  AND clusterUUID IN (${clusterID:sqlstring})
  AND COALESCE(sourcePodNamespace, '') NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND COALESCE(destinationPodNamespace, '') NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
GROUP BY 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13
HAVING SUM(octetDeltaCount) > 0
ORDER BY 8 DESC, 1, 2
LIMIT 25
