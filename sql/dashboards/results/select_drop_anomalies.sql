-- Drop anomalies of the range with the policy rule and peer behind most of their drops, as
-- stored by the latest run that found each one.
SELECT
    anomalyDate AS "day",
    endpoint AS "endpoint",
    direction AS "direction",
    dropCount AS "drops",
    baselineMean AS "baseline",
    score AS "score",
    topPolicy AS "topPolicy",
    topRule AS "topRule",
    topPeer AS "topPeer",
    method AS "method"
FROM DROP_ANOMALIES
WHERE anomalyDate >= CAST($__timeFrom()::TIMESTAMP_TZ AS DATE)
  AND anomalyDate <= CAST($__timeTo()::TIMESTAMP_TZ AS DATE)
  AND (clusterUUID IS NULL OR clusterUUID IN (${clusterID:sqlstring}))
QUALIFY ROW_NUMBER() OVER (PARTITION BY anomalyKey ORDER BY detectedAt DESC, runId) = 1
ORDER BY anomalyDate DESC, score DESC, endpoint
LIMIT 500
