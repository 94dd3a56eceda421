-- Sankey: reply bytes (destination back to source), top 50 pairs.
SELECT
    sourcePodNamespace || '/' || sourcePodName AS "source",
    destinationPodNamespace || '/' || destinationPodName AS "destination",
    SUM(reverseOctetDeltaCount) AS "bytes"
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
ORDER BY 3 DESC, 1, 2
LIMIT 50
