-- Sankey: bytes from source pod to destination pod, top 50 pairs.
{% import "dashboards/panel_filters.sql.j2" as f -%}
SELECT
    sourcePodNamespace || '/' || sourcePodName AS "source",
    destinationPodNamespace || '/' || destinationPodName AS "destination",
    SUM(octetDeltaCount) AS "bytes"
FROM FLOWS
WHERE {{ f.in_range() }}
  {{ f.pod_to_pod() }}
GROUP BY 1, 2
ORDER BY 3 DESC, 1, 2
LIMIT 50
