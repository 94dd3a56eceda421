SELECT
    runId AS run_id, jobType AS job_type, policyType AS policy_type, parameters,
    parametersHash AS parameters_hash, windowStart AS window_start, windowEnd AS window_end,
    clusterUUID AS cluster_uuid, engine, status, startedAt AS started_at,
    finishedAt AS finished_at, tupleCount AS tuple_count, flowCount AS flow_count,
    policyCount AS policy_count, skippedTuples AS skipped_tuples, skippedFlows AS skipped_flows,
    warnings, previousRunId AS previous_run_id, diff, error, yamlUri AS yaml_uri,
    reportUri AS report_uri, publishedAt AS published_at, shardCount AS shard_count,
    widenedBlocks AS widened_blocks, preview, approval, reviewer, reviewedAt AS reviewed_at
FROM RECOMMENDATION_RUNS
WHERE runId = :run_id
