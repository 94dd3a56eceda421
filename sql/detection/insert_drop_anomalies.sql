-- Anomalies of one run, :row_count rows per statement (structure), values bound per row i.
INSERT INTO DROP_ANOMALIES (
    runId, anomalyKey, method, granularity, clusterUUID, endpoint, direction, anomalyDate,
    dropCount, baselineMean, baselineStdev, score, historyDays, topPolicy, topRule, topPeer,
    attribution, detectedAt
) VALUES
{%- for i in range(row_count) %}
    (:run_id, :anomaly_key_{{ i }}, :method, :granularity, :cluster_uuid, :endpoint_{{ i }},
     :direction_{{ i }}, CAST(:anomaly_date_{{ i }} AS DATE), :drop_count_{{ i }},
     :baseline_mean_{{ i }}, :baseline_stdev_{{ i }}, :score_{{ i }}, :history_days_{{ i }},
     :top_policy_{{ i }}, :top_rule_{{ i }}, :top_peer_{{ i }}, :attribution_{{ i }},
     :detected_at){{ "," if not loop.last }}
{%- endfor %}
