-- Ingestion health: seconds since the last file was loaded and since the newest flow ended
-- (not limited to the range: lag is about now).
SELECT
    (
        SELECT DATEDIFF(second, MAX(loadedAt), CURRENT_TIMESTAMP())
        FROM LOAD_HISTORY
        WHERE outcome = 'loaded'
    ) AS "sinceLastLoad",
    (
        SELECT DATEDIFF(second, MAX(flowEndSeconds), CURRENT_TIMESTAMP())
        FROM FLOWS
        WHERE clusterUUID IN (${clusterID:sqlstring})
    ) AS "sinceNewestFlow"
