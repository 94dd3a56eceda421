-- Average throughput (bits/s, as Antrea reports it) per pod pair and minute.
{% import "dashboards/panel_filters.sql.j2" as f -%}
SELECT
    TIME_SLICE(flowEndSeconds, 60, 'SECOND', 'START') AS "time",
    sourcePodNamespace || '/' || sourcePodName || ' -> '
        || destinationPodNamespace || '/' || destinationPodName AS "pair",
    AVG(throughput) AS "value"
FROM FLOWS
WHERE {{ f.in_range() }}
  {{ f.pod_to_pod() }}
GROUP BY 1, 2
HAVING AVG(throughput) > 0
ORDER BY 1, 2
LIMIT 1000
