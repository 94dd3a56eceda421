-- One run record. Binds: :run_id.
SELECT
    runId, algorithm, aggType, variant, parameters, windowStart, windowEnd, clusterUUID,
    status, seriesCount, pointCount, skippedSeries, anomalyCount, message, startedAt,
    finishedAt
FROM TAD_RUNS
WHERE runId = :run_id
