-- The run record. Binds: one per column.
INSERT INTO DROP_DETECTION_RUNS (
    runId, method, granularity, parameters, windowStart, windowEnd, clusterUUID, status,
    droppedFlows, seriesCount, anomalyCount, message, startedAt, finishedAt
) VALUES (
    :run_id, :method, :granularity, :parameters, :window_start, :window_end, :cluster_uuid,
    :status, :dropped_flows, :series_count, :anomaly_count, :message, :started_at, :finished_at
)
