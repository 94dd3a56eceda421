-- Cluster UUIDs present in FLOWS, for the cluster selector.
SELECT DISTINCT clusterUUID AS cluster_uuid
FROM FLOWS
WHERE COALESCE(clusterUUID, '') <> ''
ORDER BY 1
