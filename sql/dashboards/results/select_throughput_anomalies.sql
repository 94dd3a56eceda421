-- Anomalous throughput points per series over time (each point once, however many runs or
-- algorithms flagged it): the series drawn as its flagged values.
SELECT
    flowEndSeconds AS "time",
    seriesLabel AS "series",
    MAX(throughput) AS "value"
FROM TAD_ANOMALIES
WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
  AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
  AND (clusterUUID IS NULL OR clusterUUID IN (${clusterID:sqlstring}))
GROUP BY 1, 2
ORDER BY 1, 2
