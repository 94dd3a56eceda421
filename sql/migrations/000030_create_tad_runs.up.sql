-- One row per throughput anomaly detection run (read by dashboards and the Theia page; keep
-- the names).
--   runId          deterministic id of (algorithm, aggregation, filters, variant, window,
--                  cluster): re-running the same window with the same parameters replaces
--                  this row and its anomalies
--   algorithm      'EWMA', 'ARIMA' or 'DBSCAN'
--   aggType        series: 'none' (per connection), 'external', 'pod' or 'svc'
--   variant        'theia' (standard Theia's definitions) or 'corrected'
--   parameters     JSON text of every parameter of the run (filters, ignore list, ...)
--   windowStart    inclusive start (UTC, flowStartSeconds >= it)
--   windowEnd      exclusive end (UTC, flowEndSeconds < it)
--   clusterUUID    cluster filter, NULL when every cluster was analysed
--   status         'succeeded' or 'failed'
--   seriesCount    series formed in the window
--   pointCount     points (distinct flowEndSeconds per series) in those series
--   skippedSeries  series the algorithm could not score (ARIMA: too short, a zero or a
--                  constant value for Box-Cox, a failed fit), as standard Theia skips them
--   anomalyCount   anomalous points found (rows in TAD_ANOMALIES for this runId)
--   message        error text of a failed run, NULL otherwise
--   startedAt      when the run started
--   finishedAt     when the run ended
CREATE TABLE IF NOT EXISTS TAD_RUNS (
    runId STRING(64) NOT NULL,
    algorithm STRING(8) NOT NULL,
    aggType STRING(8) NOT NULL,
    variant STRING(16) NOT NULL,
    parameters STRING,
    windowStart TIMESTAMP_TZ NOT NULL,
    windowEnd TIMESTAMP_TZ NOT NULL,
    clusterUUID STRING(36),
    status STRING(16) NOT NULL,
    seriesCount NUMBER(20,0),
    pointCount NUMBER(20,0),
    skippedSeries NUMBER(20,0),
    anomalyCount NUMBER(20,0),
    message STRING,
    startedAt TIMESTAMP_TZ,
    finishedAt TIMESTAMP_TZ
);
