-- Anomalous throughput points in the time range, newest first, with the algorithm's value
-- and threshold (each point once per algorithm, from its latest run).
SELECT
    flowEndSeconds AS "time",
    seriesLabel AS "series",
    throughput AS "throughput",
    algorithm AS "algorithm",
    algoCalc AS "algoCalc",
    throughputStandardDeviation AS "stddev"
FROM TAD_ANOMALIES
WHERE flowEndSeconds >= $__timeFrom()::TIMESTAMP_TZ
  AND flowEndSeconds < $__timeTo()::TIMESTAMP_TZ
  AND (clusterUUID IS NULL OR clusterUUID IN (${clusterID:sqlstring}))
QUALIFY ROW_NUMBER() OVER (PARTITION BY anomalyKey, algorithm ORDER BY detectedAt DESC) = 1
ORDER BY 1 DESC, 2
LIMIT 500
