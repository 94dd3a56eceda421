-- Connections (5-tuples) with a record ended by idle timeout or end of flow.
SELECT COUNT(*) AS "value"
FROM (
    SELECT DISTINCT sourceIP, sourceTransportPort, destinationIP, destinationTransportPort,
        protocolIdentifier
    FROM FLOWS
    WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
      AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
      AND clusterUUID IN (${clusterID:sqlstring})
      AND flowEndReason <> 2
) AS connections
