-- One run record. Binds: :run_id.
SELECT
    runId, method, granularity, parameters, windowStart, windowEnd, clusterUUID, status,
    droppedFlows, seriesCount, anomalyCount, message, startedAt, finishedAt
FROM DROP_DETECTION_RUNS
WHERE runId = :run_id
