-- Anomalies of one run, in a stable order.
-- Structure: undelivered_only: only anomalies not yet delivered to sink :sink_id.
-- Binds: :run_id, :sink_id (undelivered_only).
SELECT
    runId, anomalyKey, method, granularity, clusterUUID, endpoint, direction, anomalyDate,
    dropCount, baselineMean, baselineStdev, score, historyDays, topPolicy, topRule, topPeer,
    attribution, detectedAt
FROM DROP_ANOMALIES
WHERE runId = :run_id
{%- if undelivered_only %}
  AND anomalyKey NOT IN (
      SELECT anomalyKey FROM DROP_ALERT_DELIVERIES WHERE sinkId = :sink_id
  )
{%- endif %}
ORDER BY anomalyDate, endpoint, direction
