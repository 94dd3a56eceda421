-- Bytes per second sent by each source pod, per minute (unit: bytes/s, not bits/s).
{% import "dashboards/panel_filters.sql.j2" as f -%}
SELECT
    TIME_SLICE(flowEndSeconds, 60, 'SECOND', 'START') AS "time",
    sourcePodNamespace || '/' || sourcePodName AS "pod",
    SUM(octetDeltaCount) / 60 AS "value"
FROM FLOWS
WHERE {{ f.in_range() }}
  {{ f.pod_to_pod() }}
GROUP BY 1, 2
ORDER BY 1, 2
LIMIT 1000
