-- File versions already handled (loaded, or recorded as duplicate or rejected); ingestion
-- skips them without reading them again.
SELECT fileKey, etag FROM LOAD_HISTORY;
