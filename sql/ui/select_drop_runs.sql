-- Drop detection runs, newest first.
-- Structure: limit (an integer).
SELECT
    runId AS run_id,
    method,
    granularity,
    windowStart AS window_start,
    windowEnd AS window_end,
    clusterUUID AS cluster_uuid,
    status,
    droppedFlows AS dropped_flows,
    seriesCount AS series_count,
    anomalyCount AS anomaly_count,
    message,
    startedAt AS started_at,
    finishedAt AS finished_at
FROM DROP_DETECTION_RUNS
ORDER BY startedAt DESC NULLS LAST, runId
LIMIT {{ limit | int }}
