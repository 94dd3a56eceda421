-- Pie: bytes sent per source namespace.
SELECT sourcePodNamespace AS "namespace", SUM(octetDeltaCount) AS "bytes"
FROM FLOWS
WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
  AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
  AND clusterUUID IN (${clusterID:sqlstring})
  AND flowType IN (1, 2)
  AND COALESCE(sourcePodName, '') <> ''
  AND COALESCE(destinationPodName, '') <> ''
  AND COALESCE(sourcePodNamespace, '') NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND COALESCE(destinationPodNamespace, '') NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
GROUP BY 1
ORDER BY 2 DESC, 1
