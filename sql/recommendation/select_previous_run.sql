-- The latest succeeded run with the same parameters, other than the current one.
SELECT runId AS run_id
FROM RECOMMENDATION_RUNS
WHERE parametersHash = :parameters_hash
    AND status = 'succeeded'
    AND runId <> :run_id
ORDER BY startedAt DESC, runId DESC
LIMIT 1
