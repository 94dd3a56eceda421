-- The 10 source pods that sent the most bytes (unit: bytes).
SELECT sourcePodNamespace || '/' || sourcePodName AS "pod", SUM(octetDeltaCount) AS "bytes"
FROM FLOWS
WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
  AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
  AND clusterUUID IN (${clusterID:sqlstring})
  AND COALESCE(sourcePodName, '') <> ''
GROUP BY 1
ORDER BY 2 DESC, 1
LIMIT 10
