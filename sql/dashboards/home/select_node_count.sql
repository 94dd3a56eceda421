-- Distinct nodes on either side, cluster filter on both branches.
{% import "dashboards/panel_filters.sql.j2" as f -%}
WITH f AS (
    SELECT sourceNodeName, destinationNodeName
    FROM FLOWS
    WHERE {{ f.in_range("      ") }}
)
SELECT COUNT(*) AS "value"
FROM (
    SELECT sourceNodeName AS node FROM f WHERE COALESCE(sourceNodeName, '') <> ''
    UNION
    SELECT destinationNodeName AS node FROM f WHERE COALESCE(destinationNodeName, '') <> ''
) AS nodes
