-- Flow records per one-minute slice.
{% import "dashboards/panel_filters.sql.j2" as f -%}
SELECT TIME_SLICE(flowEndSeconds, 60, 'SECOND', 'START') AS "time", COUNT(*) AS "value"
FROM FLOWS
WHERE {{ f.in_range() }}
GROUP BY 1
ORDER BY 1
