-- Distinct nodes on either side, cluster filter on both branches.
WITH f AS (
    SELECT sourceNodeName, destinationNodeName
    FROM FLOWS
    WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
      AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
      AND clusterUUID IN (${clusterID:sqlstring})
)
SELECT COUNT(*) AS "value"
FROM (
    SELECT sourceNodeName AS node FROM f WHERE COALESCE(sourceNodeName, '') <> ''
    UNION
    SELECT destinationNodeName AS node FROM f WHERE COALESCE(destinationNodeName, '') <> ''
) AS nodes
