-- Files the pipe failed to load (fully or partly) since :start_time.
SELECT
    file_name,
    last_load_time,
    status,
    row_count,
    row_parsed,
    error_count,
    first_error_message
FROM TABLE({{ database | ident }}.INFORMATION_SCHEMA.COPY_HISTORY(
    TABLE_NAME => :table_name,
    START_TIME => :start_time
))
WHERE status <> 'Loaded'
ORDER BY last_load_time
