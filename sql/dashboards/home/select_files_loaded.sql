-- Ingestion health: flow files loaded in the range (embedded engine; Snowpipe loads are in
-- Snowflake's COPY_HISTORY instead).
SELECT COUNT(*) AS "value"
FROM LOAD_HISTORY
WHERE outcome = 'loaded'
  AND loadedAt >= $__timeFrom()::TIMESTAMP_TZ
  AND loadedAt < $__timeTo()::TIMESTAMP_TZ
