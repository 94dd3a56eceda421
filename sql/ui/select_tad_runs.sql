-- Throughput anomaly detection runs, newest first.
-- Structure: limit (an integer).
SELECT
    runId AS run_id,
    algorithm,
    aggType AS agg_flow,
    variant,
    windowStart AS window_start,
    windowEnd AS window_end,
    clusterUUID AS cluster_uuid,
    status,
    seriesCount AS series_count,
    pointCount AS point_count,
    skippedSeries AS skipped_series,
    anomalyCount AS anomaly_count,
    parameters,
    startedAt AS started_at,
    finishedAt AS finished_at
FROM TAD_RUNS
ORDER BY startedAt DESC NULLS LAST, runId
LIMIT {{ limit | int }}
