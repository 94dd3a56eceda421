-- Anomalous points of one throughput anomaly detection run, by series and time.
-- Structure: limit (an integer); with_series: only the points of series :series.
-- Binds: :run_id, :series (with_series).
SELECT
    anomalyKey AS anomaly_key,
    algorithm,
    aggType AS agg_flow,
    seriesLabel AS series,
    sourceIP AS source_ip,
    sourceTransportPort AS source_port,
    destinationIP AS destination_ip,
    destinationTransportPort AS destination_port,
    protocolIdentifier AS protocol,
    flowStartSeconds AS flow_start,
    podNamespace AS pod_namespace,
    podLabels AS pod_labels,
    podName AS pod_name,
    destinationServicePortName AS service_port_name,
    direction,
    flowEndSeconds AS flow_end,
    throughput,
    algoCalc AS algo_calc,
    throughputStandardDeviation AS stddev
FROM TAD_ANOMALIES
WHERE runId = :run_id
{%- if with_series %}
  AND seriesLabel = :series
{%- endif %}
ORDER BY seriesLabel, flowEndSeconds
LIMIT {{ limit | int }}
