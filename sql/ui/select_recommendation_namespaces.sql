-- Policies per namespace (cluster-scoped policies under '') of one recommendation run.
-- Binds: :run_id.
SELECT COALESCE(namespace, '') AS namespace, kind, COUNT(*) AS policies
FROM RECOMMENDED_POLICIES
WHERE runId = :run_id
GROUP BY 1, 2
ORDER BY 1, 2
