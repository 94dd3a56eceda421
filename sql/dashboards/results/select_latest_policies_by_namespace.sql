-- Policies of the latest published recommendation run per namespace (cluster-scoped
-- policies under "(cluster)").
WITH latest AS (
    SELECT runId, previousRunId
    FROM RECOMMENDATION_RUNS
    WHERE status = 'succeeded'
      AND (approval IS NULL OR approval = 'approved')  -- what latest/ holds
      AND (clusterUUID IS NULL OR clusterUUID IN (${clusterID:sqlstring}))
    ORDER BY startedAt DESC, runId
    LIMIT 1
)
SELECT COALESCE(NULLIF(p.namespace, ''), '(cluster)') AS "namespace", COUNT(*) AS "policies"
FROM RECOMMENDED_POLICIES AS p
JOIN latest AS l ON p.runId = l.runId
GROUP BY 1
ORDER BY 2 DESC, 1
