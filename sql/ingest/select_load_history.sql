-- Files already loaded (their rows are in FLOWS); ingestion skips them.
SELECT fileKey, etag FROM LOAD_HISTORY;
