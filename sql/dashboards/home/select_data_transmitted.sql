-- Bytes in both directions (unit: bytes). NULL counters count as zero.
{% import "dashboards/panel_filters.sql.j2" as f -%}
SELECT COALESCE(SUM(octetDeltaCount), 0) + COALESCE(SUM(reverseOctetDeltaCount), 0) AS "value"
FROM FLOWS
WHERE {{ f.in_range() }}
