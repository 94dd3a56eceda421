-- Record that sink :sink_id accepted a message carrying these anomalies (:row_count rows).
INSERT INTO DROP_ALERT_DELIVERIES (
    anomalyKey, sinkId, runId, endpoint, direction, anomalyDate, deliveredAt
) VALUES
{%- for i in range(row_count) %}
    (:anomaly_key_{{ i }}, :sink_id, :run_id, :endpoint_{{ i }}, :direction_{{ i }},
     CAST(:anomaly_date_{{ i }} AS DATE), :delivered_at){{ "," if not loop.last }}
{%- endfor %}
