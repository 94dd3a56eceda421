-- Pod-to-pod edges for the Sankey diagram: bytes in both directions and flow records per
-- (source pod, destination pod), largest first.
-- Structure: with_cluster, limit (an integer). Binds: :start_ts, :end_ts, :cluster_uuid.
{% import "ui/flow_filters.sql.j2" as f -%}
SELECT
    sourcePodNamespace || '/' || sourcePodName AS source,
    destinationPodNamespace || '/' || destinationPodName AS destination,
    {{ f.total_bytes() }} AS bytes,
    COUNT(*) AS flows
FROM FLOWS
WHERE {{ f.in_window(with_cluster) }}
  {{ f.pod_to_pod() }}
GROUP BY 1, 2
ORDER BY 3 DESC, 1, 2
LIMIT {{ limit | int }}
