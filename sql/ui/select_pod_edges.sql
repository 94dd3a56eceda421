-- Pod-to-pod edges for the Sankey diagram: bytes in both directions and flow records per
-- (source pod, destination pod), largest first.
-- Structure: with_cluster, limit (an integer). Binds: :start_ts, :end_ts, :cluster_uuid.
SELECT
    sourcePodNamespace || '/' || sourcePodName AS source,
    destinationPodNamespace || '/' || destinationPodName AS destination,
    COALESCE(SUM(octetDeltaCount), 0) + COALESCE(SUM(reverseOctetDeltaCount), 0) AS bytes,
    COUNT(*) AS flows
FROM FLOWS
WHERE flowEndSeconds >= :start_ts
  AND flowEndSeconds < :end_ts
{%- if with_cluster %}
  AND clusterUUID = :cluster_uuid
{%- endif %}
  AND COALESCE(sourcePodName, '') <> ''
  AND COALESCE(destinationPodName, '') <> ''
GROUP BY 1, 2
ORDER BY 3 DESC, 1, 2
LIMIT {{ limit | int }}
