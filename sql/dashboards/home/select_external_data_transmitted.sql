-- Bytes in both directions to destinations outside the cluster (flowType 3).
SELECT COALESCE(SUM(octetDeltaCount), 0) + COALESCE(SUM(reverseOctetDeltaCount), 0) AS "value"
FROM FLOWS
WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
  AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
  AND clusterUUID IN (${clusterID:sqlstring})
  AND flowType = 3
