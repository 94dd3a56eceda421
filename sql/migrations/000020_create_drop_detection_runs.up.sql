-- One row per drop-detection run (read by dashboards; keep the names).
--   runId          deterministic id of (method, parameters, window, cluster): re-running the
--                  same window with the same parameters replaces this row and its anomalies
--   method         'baseline' or 'theia'
--   granularity    'pod' (ns/pod, or the IP of a non-pod endpoint) or 'workload'
--   parameters     JSON text of every parameter of the run (sigma, min_history_days, ...)
--   windowStart    inclusive start of the analysed window (UTC, flowStartSeconds >= it)
--   windowEnd      exclusive end of the analysed window (UTC, flowEndSeconds < it)
--   clusterUUID    cluster filter, NULL when every cluster was analysed
--   status         'succeeded' or 'failed'
--   droppedFlows   dropped or rejected flow records counted in the window
--   seriesCount    (endpoint, direction) series analysed
--   anomalyCount   anomalies found (rows in DROP_ANOMALIES for this runId)
--   message        error text of a failed run, NULL otherwise
--   startedAt      when the run started
--   finishedAt     when the run ended
CREATE TABLE IF NOT EXISTS DROP_DETECTION_RUNS (
    runId STRING(64) NOT NULL,
    method STRING(16) NOT NULL,
    granularity STRING(16) NOT NULL,
    parameters STRING,
    windowStart TIMESTAMP_TZ NOT NULL,
    windowEnd TIMESTAMP_TZ NOT NULL,
    clusterUUID STRING(36),
    status STRING(16) NOT NULL,
    droppedFlows NUMBER(20,0),
    seriesCount NUMBER(20,0),
    anomalyCount NUMBER(20,0),
    message STRING,
    startedAt TIMESTAMP_TZ,
    finishedAt TIMESTAMP_TZ
);
