-- Ingestion health: flow rows loaded in the range.
SELECT COALESCE(SUM(rowsLoaded), 0) AS "value"
FROM LOAD_HISTORY
WHERE loadedAt >= $__timeFrom()::TIMESTAMP_TZ
  AND loadedAt < $__timeTo()::TIMESTAMP_TZ
