-- Network-policy projection used by dashboards (theia-sf migration 000003).
CREATE OR REPLACE VIEW POLICIES AS
SELECT
    flowEndSeconds,
    octetDeltaCount,
    reverseOctetDeltaCount,
    egressNetworkPolicyName,
    egressNetworkPolicyNamespace,
    egressNetworkPolicyRuleAction,
    ingressNetworkPolicyName,
    ingressNetworkPolicyNamespace,
    ingressNetworkPolicyRuleAction,
    sourcePodName,
    sourcePodNamespace,
    sourceTransportPort,
    destinationIP,
    destinationPodName,
    destinationPodNamespace,
    destinationTransportPort,
    destinationServicePortName,
    destinationServicePort,
    throughput,
    flowType,
    clusterUUID
FROM FLOWS;
