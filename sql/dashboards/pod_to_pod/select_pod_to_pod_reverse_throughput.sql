-- Average reverse throughput (bits/s) per pod pair and minute. The HAVING tests the reverse
-- throughput itself (theia-sf tested the forward one).
SELECT
    TIME_SLICE(flowEndSeconds, 60, 'SECOND', 'START') AS "time",
    sourcePodNamespace || '/' || sourcePodName || ' -> '
        || destinationPodNamespace || '/' || destinationPodName AS "pair",
    AVG(reverseThroughput) AS "value"
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
HAVING AVG(reverseThroughput) > 0
ORDER BY 1, 2
LIMIT 1000
