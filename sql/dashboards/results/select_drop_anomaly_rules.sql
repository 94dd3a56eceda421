-- The policy rules behind the anomalies of the range: anomalies and dropped flows per rule.
WITH latest AS (
    SELECT topPolicy, topRule, dropCount
    FROM DROP_ANOMALIES
    WHERE anomalyDate >= CAST($__timeFrom()::TIMESTAMP_TZ AS DATE)
      AND anomalyDate <= CAST($__timeTo()::TIMESTAMP_TZ AS DATE)
      AND (clusterUUID IS NULL OR clusterUUID IN (${clusterID:sqlstring}))
    QUALIFY ROW_NUMBER() OVER (PARTITION BY anomalyKey ORDER BY detectedAt DESC, runId) = 1
)
SELECT
    COALESCE(topPolicy, '(unknown)') || ' ' || COALESCE(topRule, '') AS "rule",
    COUNT(*) AS "anomalies",
    SUM(dropCount) AS "drops"
FROM latest
GROUP BY 1
ORDER BY 3 DESC, 1
LIMIT 20
