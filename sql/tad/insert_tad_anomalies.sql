-- One anomalous point; the service runs it for every point of a run (Session.insert_rows).
-- Binds: :run_id, :algorithm, :agg_type, :cluster_uuid, :detected_at; per row, one per
-- other column.
INSERT INTO TAD_ANOMALIES (
    runId, anomalyKey, algorithm, aggType, clusterUUID, seriesLabel, sourceIP,
    sourceTransportPort, destinationIP, destinationTransportPort, protocolIdentifier,
    flowStartSeconds, podNamespace, podLabels, podName, destinationServicePortName, direction,
    flowEndSeconds, throughput, algoCalc, throughputStandardDeviation, detectedAt
) VALUES (
    :run_id, :anomaly_key, :algorithm, :agg_type, :cluster_uuid, :series, :source_ip,
    :source_port, :destination_ip, :destination_port, :protocol, :flow_start, :pod_namespace,
    :pod_labels, :pod_name, :service_port_name, :direction, :flow_end, :throughput,
    :algo_calc, :stddev, :detected_at
)
