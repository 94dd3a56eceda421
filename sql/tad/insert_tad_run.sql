-- The run record. Binds: one per column.
INSERT INTO TAD_RUNS (
    runId, algorithm, aggType, variant, parameters, windowStart, windowEnd, clusterUUID,
    status, seriesCount, pointCount, skippedSeries, anomalyCount, message, startedAt,
    finishedAt
) VALUES (
    :run_id, :algorithm, :agg_type, :variant, :parameters, :window_start, :window_end,
    :cluster_uuid, :status, :series_count, :point_count, :skipped_series, :anomaly_count,
    :message, :started_at, :finished_at
)
