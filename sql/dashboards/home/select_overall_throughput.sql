-- Bytes per second over the last 60 s of the selected range. theia-sf wrote
-- DATEDIFF(second, now, flowEndSeconds) < 60, which is true for every past row.
SELECT (COALESCE(SUM(octetDeltaCount), 0) + COALESCE(SUM(reverseOctetDeltaCount), 0)) / 60
    AS "value"
FROM FLOWS
WHERE flowEndSeconds >= DATEADD(second, -60, $__timeTo()::TIMESTAMP_TZ)
  AND flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
  AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
  AND clusterUUID IN (${clusterID:sqlstring})
