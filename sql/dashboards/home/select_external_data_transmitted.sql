-- Bytes in both directions to destinations outside the cluster (flowType 3).
{% import "dashboards/panel_filters.sql.j2" as f -%}
SELECT COALESCE(SUM(octetDeltaCount), 0) + COALESCE(SUM(reverseOctetDeltaCount), 0) AS "value"
FROM FLOWS
WHERE {{ f.in_range() }}
  AND flowType = 3
