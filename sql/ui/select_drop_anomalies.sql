-- Drop anomalies whose day lies in the window, newest first. The same anomaly (anomalyKey)
-- found by several runs is shown once, as stored by the latest run.
-- Structure: with_cluster, limit (an integer).
-- Binds: :start_day, :end_day (end exclusive), :cluster_uuid (with_cluster).
SELECT
    anomalyKey AS anomaly_key,
    runId AS run_id,
    method,
    granularity,
    clusterUUID AS cluster_uuid,
    endpoint,
    direction,
    anomalyDate AS anomaly_date,
    dropCount AS drop_count,
    baselineMean AS baseline_mean,
    baselineStdev AS baseline_stdev,
    score,
    topPolicy AS top_policy,
    topRule AS top_rule,
    topPeer AS top_peer,
    attribution,
    detectedAt AS detected_at
FROM DROP_ANOMALIES
WHERE anomalyDate >= CAST(:start_day AS DATE)
  AND anomalyDate < CAST(:end_day AS DATE)
{%- if with_cluster %}
  AND (clusterUUID = :cluster_uuid OR clusterUUID IS NULL)
{%- endif %}
QUALIFY ROW_NUMBER() OVER (PARTITION BY anomalyKey ORDER BY detectedAt DESC, runId) = 1
ORDER BY anomalyDate DESC, score DESC NULLS LAST, endpoint, direction
LIMIT {{ limit | int }}
