-- Ingestion health over all time: files and rows loaded, rows rejected, last load.
SELECT
    (SELECT COUNT(*) FROM LOAD_HISTORY WHERE outcome = 'loaded') AS files_loaded,
    (SELECT COALESCE(SUM(rowsLoaded), 0) FROM LOAD_HISTORY) AS rows_loaded,
    (SELECT COUNT(*) FROM REJECTED_FLOW_RECORDS) AS rows_rejected,
    (SELECT MAX(loadedAt) FROM LOAD_HISTORY WHERE outcome = 'loaded') AS last_loaded_at,
    (SELECT MAX(flowEndSeconds) FROM FLOWS) AS newest_flow_end
