-- Grafana variable clusterID: the cluster UUIDs present in FLOWS (multi-select, "All" default).
SELECT DISTINCT clusterUUID AS "clusterID"
FROM FLOWS
WHERE clusterUUID IS NOT NULL AND clusterUUID <> ''
ORDER BY 1
