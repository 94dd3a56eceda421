-- Flow records that ended in the range.
{% import "dashboards/panel_filters.sql.j2" as f -%}
SELECT COUNT(*) AS "value"
FROM FLOWS
WHERE {{ f.in_range() }}
