-- Distinct services (namespace/name:port) that received traffic; NULL and '' both mean none.
{% import "dashboards/panel_filters.sql.j2" as f -%}
SELECT COUNT(DISTINCT destinationServicePortName) AS "value"
FROM FLOWS
WHERE {{ f.in_range() }}
  AND COALESCE(destinationServicePortName, '') <> ''
