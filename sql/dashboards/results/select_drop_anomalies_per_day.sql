-- Drop anomalies per UTC day and direction (each anomaly once, however many runs found it).
SELECT
    CAST(anomalyDate AS TIMESTAMP_TZ) AS "time",
    direction AS "direction",
    COUNT(DISTINCT anomalyKey) AS "value"
FROM DROP_ANOMALIES
WHERE anomalyDate >= CAST($__timeFrom()::TIMESTAMP_TZ AS DATE)
  AND anomalyDate <= CAST($__timeTo()::TIMESTAMP_TZ AS DATE)
  AND (clusterUUID IS NULL OR clusterUUID IN (${clusterID:sqlstring}))
GROUP BY 1, 2
ORDER BY 1, 2
