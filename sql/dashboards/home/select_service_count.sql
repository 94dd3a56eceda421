-- Distinct services (namespace/name:port) that received traffic; NULL and '' both mean none.
SELECT COUNT(DISTINCT destinationServicePortName) AS "value"
FROM FLOWS
WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
  AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
  AND clusterUUID IN (${clusterID:sqlstring})
  AND COALESCE(destinationServicePortName, '') <> ''
