UPDATE RECOMMENDATION_RUNS SET
    status = :status,
    finishedAt = :finished_at,
    tupleCount = :tuple_count,
    flowCount = :flow_count,
    policyCount = :policy_count,
    skippedTuples = :skipped_tuples,
    skippedFlows = :skipped_flows,
    warnings = :warnings,
    previousRunId = :previous_run_id,
    diff = :diff,
    error = :error,
    widenedBlocks = :widened_blocks,
    preview = COALESCE(:preview, preview)
WHERE runId = :run_id
    -- A run ends once: a later failure (a shard still running) keeps the first outcome.
    AND status = 'running'
