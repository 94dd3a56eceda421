-- Snowpipe's own view of the pipe (JSON: executionState, pendingFileCount, ...).
SELECT SYSTEM$PIPE_STATUS(:pipe_name) AS pipe_status
