SELECT position, kind, namespace, name, yaml
FROM RECOMMENDED_POLICIES
WHERE runId = :run_id
ORDER BY position
