-- Connections (5-tuples) dropped or rejected by an ingress or egress rule (actions 2, 3).
SELECT COUNT(*) AS "value"
FROM (
    SELECT DISTINCT sourceIP, sourceTransportPort, destinationIP, destinationTransportPort,
        protocolIdentifier
    FROM FLOWS
    WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
      AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
      AND clusterUUID IN (${clusterID:sqlstring})
      AND (ingressNetworkPolicyRuleAction IN (2, 3) OR egressNetworkPolicyRuleAction IN (2, 3))
) AS connections
