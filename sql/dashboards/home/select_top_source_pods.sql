-- The 10 source pods that sent the most bytes (unit: bytes).
{% import "dashboards/panel_filters.sql.j2" as f -%}
SELECT sourcePodNamespace || '/' || sourcePodName AS "pod", SUM(octetDeltaCount) AS "bytes"
FROM FLOWS
WHERE {{ f.in_range() }}
  AND COALESCE(sourcePodName, '') <> ''
GROUP BY 1
ORDER BY 2 DESC, 1
LIMIT 10
