-- What ingestion has loaded so far (quick start summary, ingestion health).
SELECT
    COUNT(*) AS files,
    COALESCE(SUM(rowsLoaded), 0) AS rows_loaded,
    COALESCE(SUM(rowsRejected), 0) AS rows_rejected
FROM LOAD_HISTORY;
