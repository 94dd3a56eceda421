-- Average reverse throughput (bits/s) per pod pair and minute. The HAVING tests the reverse
-- throughput itself (theia-sf tested the forward one).
{% import "dashboards/panel_filters.sql.j2" as f -%}
SELECT
    TIME_SLICE(flowEndSeconds, 60, 'SECOND', 'START') AS "time",
    sourcePodNamespace || '/' || sourcePodName || ' -> '
        || destinationPodNamespace || '/' || destinationPodName AS "pair",
    AVG(reverseThroughput) AS "value"
FROM FLOWS
WHERE {{ f.in_range() }}
  {{ f.pod_to_pod() }}
GROUP BY 1, 2
HAVING AVG(reverseThroughput) > 0
ORDER BY 1, 2
LIMIT 1000
