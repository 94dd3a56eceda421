-- Pie: bytes received per destination namespace.
{% import "dashboards/panel_filters.sql.j2" as f -%}
SELECT destinationPodNamespace AS "namespace", SUM(octetDeltaCount) AS "bytes"
FROM FLOWS
WHERE {{ f.in_range() }}
  {{ f.pod_to_pod() }}
GROUP BY 1
ORDER BY 2 DESC, 1
