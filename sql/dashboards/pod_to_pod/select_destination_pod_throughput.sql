-- Bytes per second received by each destination pod, per minute (unit: bytes/s).
SELECT
    TIME_SLICE(flowEndSeconds, 60, 'SECOND', 'START') AS "time",
    destinationPodNamespace || '/' || destinationPodName AS "pod",
    SUM(octetDeltaCount) / 60 AS "value"
FROM FLOWS
WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
  AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
  AND clusterUUID IN (${clusterID:sqlstring})
  AND flowType IN (1, 2)
  AND COALESCE(sourcePodName, '') <> ''
  AND COALESCE(destinationPodName, '') <> ''
  AND COALESCE(sourcePodNamespace, '') NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND COALESCE(destinationPodNamespace, '') NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
GROUP BY 1, 2
ORDER BY 1, 2
LIMIT 1000
