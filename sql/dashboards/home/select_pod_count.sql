-- Distinct pods seen as source or destination. Both branches read the same filtered CTE,
-- so the cluster filter applies to destinations too (theia-sf missed it there).
{% import "dashboards/panel_filters.sql.j2" as f -%}
WITH f AS (
    SELECT sourcePodNamespace, sourcePodName, destinationPodNamespace, destinationPodName
    FROM FLOWS
    WHERE {{ f.in_range("      ") }}
)
SELECT COUNT(*) AS "value"
FROM (
    SELECT COALESCE(sourcePodNamespace, '') AS ns, sourcePodName AS pod
    FROM f
    WHERE COALESCE(sourcePodName, '') <> ''
    UNION
    SELECT COALESCE(destinationPodNamespace, '') AS ns, destinationPodName AS pod
    FROM f
    WHERE COALESCE(destinationPodName, '') <> ''
) AS pods
