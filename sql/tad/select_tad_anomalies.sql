-- Anomalous points of one run, by series and time.
-- Structure: undelivered_only: only points not yet delivered to sink :sink_id.
-- Binds: :run_id, :sink_id (undelivered_only).
SELECT
    runId, anomalyKey, algorithm, aggType, clusterUUID, seriesLabel, sourceIP,
    sourceTransportPort, destinationIP, destinationTransportPort, protocolIdentifier,
    flowStartSeconds, podNamespace, podLabels, podName, destinationServicePortName, direction,
    flowEndSeconds, throughput, algoCalc, throughputStandardDeviation, detectedAt
FROM TAD_ANOMALIES
WHERE runId = :run_id
{%- if undelivered_only %}
  AND anomalyKey NOT IN (
      SELECT anomalyKey FROM DROP_ALERT_DELIVERIES WHERE sinkId = :sink_id
  )
{%- endif %}
ORDER BY seriesLabel, flowEndSeconds
