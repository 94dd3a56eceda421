-- The latest published policy recommendation run (for all clusters or a selected one).
SELECT
    runId AS "run",
    policyType AS "policyType",
    startedAt AS "startedAt",
    windowStart AS "windowStart",
    windowEnd AS "windowEnd",
    flowCount AS "flows",
    policyCount AS "policies"
FROM RECOMMENDATION_RUNS
WHERE status = 'succeeded'
  AND (approval IS NULL OR approval = 'approved')  -- what latest/ holds
  AND (clusterUUID IS NULL OR clusterUUID IN (${clusterID:sqlstring}))
ORDER BY startedAt DESC, runId
LIMIT 1
