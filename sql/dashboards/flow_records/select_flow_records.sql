-- The newest 1000 flow records. Quoted aliases keep camelCase names on Snowflake, so the
-- panel needs no rename list (theia-sf's list missed egressName and egressIP).
{% import "dashboards/panel_filters.sql.j2" as f -%}
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
WHERE {{ f.in_range() }}
ORDER BY flowEndSeconds DESC
LIMIT 1000
