-- What ingestion has loaded so far (quick start summary, ingestion health).
SELECT
    COUNT(CASE WHEN outcome = 'loaded' THEN 1 END) AS files,
    COALESCE(SUM(rowsLoaded), 0) AS rows_loaded,
    COALESCE(SUM(rowsRejected), 0) AS rows_rejected
FROM LOAD_HISTORY;
