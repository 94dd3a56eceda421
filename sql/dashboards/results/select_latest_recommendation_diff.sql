-- Policies added, removed and changed by the latest published run against the previous run
-- with the same parameters, compared by kind/namespace/name and YAML digest.
WITH latest AS (
    SELECT runId, previousRunId
    FROM RECOMMENDATION_RUNS
    WHERE status = 'succeeded'
      AND (approval IS NULL OR approval = 'approved')  -- what latest/ holds
      AND (clusterUUID IS NULL OR clusterUUID IN (${clusterID:sqlstring}))
    ORDER BY startedAt DESC, runId
    LIMIT 1
),
cur AS (
    SELECT kind, COALESCE(namespace, '') AS ns, name, yamlSha256
    FROM RECOMMENDED_POLICIES
    WHERE runId = (SELECT runId FROM latest)
),
prev AS (
    SELECT kind, COALESCE(namespace, '') AS ns, name, yamlSha256
    FROM RECOMMENDED_POLICIES
    WHERE runId = (SELECT previousRunId FROM latest)
),
pairs AS (
    SELECT cur.yamlSha256 AS cur_sha, prev.yamlSha256 AS prev_sha,
        cur.name AS cur_name, prev.name AS prev_name
    FROM cur
    FULL OUTER JOIN prev
      ON cur.kind = prev.kind AND cur.ns = prev.ns AND cur.name = prev.name
)
SELECT
    COALESCE(SUM(CASE WHEN prev_name IS NULL THEN 1 ELSE 0 END), 0) AS "added",
    COALESCE(SUM(CASE WHEN cur_name IS NULL THEN 1 ELSE 0 END), 0) AS "removed",
    COALESCE(SUM(CASE WHEN cur_name IS NOT NULL AND prev_name IS NOT NULL
        AND COALESCE(cur_sha, '') <> COALESCE(prev_sha, '') THEN 1 ELSE 0 END), 0) AS "changed"
FROM pairs
