-- Policy recommendation runs, newest first, with their approval (see select_recommendation_run).
-- Structure: limit (an integer).
SELECT
    runId AS run_id,
    jobType AS job_type,
    policyType AS policy_type,
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
    previousRunId AS previous_run_id,
    diff,
    error,
    yamlUri AS yaml_uri,
    publishedAt AS published_at,
    approval,
    reviewer,
    reviewedAt AS reviewed_at
FROM RECOMMENDATION_RUNS
ORDER BY startedAt DESC NULLS LAST, runId
LIMIT {{ limit | int }}
