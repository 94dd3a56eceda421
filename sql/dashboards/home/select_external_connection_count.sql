-- Connections (5-tuples) from pods to destinations outside the cluster (flowType 3).
SELECT COUNT(*) AS "value"
FROM (
    SELECT DISTINCT sourceIP, sourceTransportPort, destinationIP, destinationTransportPort,
        protocolIdentifier
    FROM FLOWS
    WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
      AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
      AND clusterUUID IN (${clusterID:sqlstring})
      AND flowType = 3
) AS connections
