-- The newest 1000 flow records. Quoted aliases keep camelCase names on Snowflake, so the
-- panel needs no rename list (theia-sf's list missed egressName and egressIP).
SELECT
    flowStartSeconds AS "flowStartSeconds",
    flowEndSeconds AS "flowEndSeconds",
    flowEndReason AS "flowEndReason",
    sourceIP AS "sourceIP",
    sourceTransportPort AS "sourceTransportPort",
    sourcePodNamespace AS "sourcePodNamespace",
    sourcePodName AS "sourcePodName",
    sourceNodeName AS "sourceNodeName",
    destinationIP AS "destinationIP",
    destinationTransportPort AS "destinationTransportPort",
    destinationPodNamespace AS "destinationPodNamespace",
    destinationPodName AS "destinationPodName",
    destinationNodeName AS "destinationNodeName",
    destinationClusterIP AS "destinationClusterIP",
    destinationServicePort AS "destinationServicePort",
    destinationServicePortName AS "destinationServicePortName",
    protocolIdentifier AS "protocolIdentifier",
    flowType AS "flowType",
    tcpState AS "tcpState",
    packetDeltaCount AS "packetDeltaCount",
    octetDeltaCount AS "octetDeltaCount",
    reversePacketDeltaCount AS "reversePacketDeltaCount",
    reverseOctetDeltaCount AS "reverseOctetDeltaCount",
    throughput AS "throughput",
    reverseThroughput AS "reverseThroughput",
    ingressNetworkPolicyNamespace AS "ingressNetworkPolicyNamespace",
    ingressNetworkPolicyName AS "ingressNetworkPolicyName",
    ingressNetworkPolicyRuleName AS "ingressNetworkPolicyRuleName",
    ingressNetworkPolicyRuleAction AS "ingressNetworkPolicyRuleAction",
    ingressNetworkPolicyType AS "ingressNetworkPolicyType",
    egressNetworkPolicyNamespace AS "egressNetworkPolicyNamespace",
    egressNetworkPolicyName AS "egressNetworkPolicyName",
    egressNetworkPolicyRuleName AS "egressNetworkPolicyRuleName",
    egressNetworkPolicyRuleAction AS "egressNetworkPolicyRuleAction",
    egressNetworkPolicyType AS "egressNetworkPolicyType",
    egressName AS "egressName",
    egressIP AS "egressIP",
    clusterUUID AS "clusterUUID"
FROM FLOWS
WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
  AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
  AND clusterUUID IN (${clusterID:sqlstring})
ORDER BY flowEndSeconds DESC
LIMIT 1000
