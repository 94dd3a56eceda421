-- Flow records per one-minute slice.
SELECT TIME_SLICE(flowEndSeconds, 60, 'SECOND', 'START') AS "time", COUNT(*) AS "value"
FROM FLOWS
WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
  AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
  AND clusterUUID IN (${clusterID:sqlstring})
GROUP BY 1
ORDER BY 1
