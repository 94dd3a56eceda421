-- Flow records that ended in the range.
SELECT COUNT(*) AS "value"
FROM FLOWS
WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
  AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
  AND clusterUUID IN (${clusterID:sqlstring})
