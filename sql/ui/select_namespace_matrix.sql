-- Namespace-to-namespace matrix: bytes, flow records and denied flow records per
-- (source namespace, destination namespace) of pod-to-pod traffic, largest first.
-- Structure: with_cluster, limit (an integer). Binds: :start_ts, :end_ts, :cluster_uuid.
{% import "ui/flow_filters.sql.j2" as f -%}
SELECT
    sourcePodNamespace AS source_namespace,
    destinationPodNamespace AS destination_namespace,
    {{ f.total_bytes() }} AS bytes,
    COUNT(*) AS flows,
    {{ f.denied_count() }} AS denied_flows
FROM FLOWS
WHERE {{ f.in_window(with_cluster) }}
  {{ f.pod_to_pod() }}
GROUP BY 1, 2
ORDER BY 3 DESC, 1, 2
LIMIT {{ limit | int }}
