-- Alert dedup: one row per anomaly delivered to one alert sink. An anomaly (anomalyKey) with
-- a row for a sink is never sent to that sink again; a row is written only after the sink
-- accepted the message, so a failed delivery leaves the anomaly un-alerted.
--   anomalyKey     DROP_ANOMALIES.anomalyKey
--   sinkId         the Airflow connection id of the sink
--   runId          the run whose message carried it
--   endpoint, direction, anomalyDate   copied from the anomaly, for reading
--   deliveredAt    when the sink accepted the message
CREATE TABLE IF NOT EXISTS DROP_ALERT_DELIVERIES (
    anomalyKey STRING(64) NOT NULL,
    sinkId STRING(256) NOT NULL,
    runId STRING(64) NOT NULL,
    endpoint STRING(600),
    direction STRING(8),
    anomalyDate DATE,
    deliveredAt TIMESTAMP_TZ
);
