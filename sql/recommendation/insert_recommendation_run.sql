-- A run starts as 'running'; finish_recommendation_run.sql records the outcome.
INSERT INTO RECOMMENDATION_RUNS (
    runId, jobType, policyType, parameters, parametersHash, windowStart, windowEnd,
    clusterUUID, engine, status, startedAt
) VALUES (
    :run_id, :job_type, :policy_type, :parameters, :parameters_hash, :window_start, :window_end,
    :cluster_uuid, :engine, 'running', :started_at
)
