-- One policy recommendation run with its parameters, counts, warnings, diff and approval
-- (NULL: none asked; pending, approved, rejected or timed_out, with the reviewer).
-- Binds: :run_id.
SELECT
    runId AS run_id,
    jobType AS job_type,
    policyType AS policy_type,
    parameters,
    status,
    windowStart AS window_start,
    windowEnd AS window_end,
    clusterUUID AS cluster_uuid,
    engine,
    startedAt AS started_at,
    finishedAt AS finished_at,
    tupleCount AS tuple_count,
    flowCount AS flow_count,
    policyCount AS policy_count,
    skippedTuples AS skipped_tuples,
    skippedFlows AS skipped_flows,
    warnings,
    previousRunId AS previous_run_id,
    diff,
    error,
    yamlUri AS yaml_uri,
    publishedAt AS published_at,
    preview,
    approval,
    reviewer,
    reviewedAt AS reviewed_at
FROM RECOMMENDATION_RUNS
WHERE runId = :run_id
