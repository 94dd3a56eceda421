-- Chord: bytes per source/destination and the policies that matched, top 25. Column aliases
-- are the ones the Theia chord panel reads. External endpoints (no pod) show their IP.
{% import "dashboards/panel_filters.sql.j2" as f -%}
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
WHERE {{ f.in_range() }}
  {{ f.user_namespaces() }}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13
HAVING SUM(octetDeltaCount) > 0
ORDER BY 8 DESC, 1, 2
LIMIT 25
