-- One row per flow file loaded by the embedded engine, written in the same transaction as
-- the file's rows: a file whose (key, etag) is here is never loaded again.
CREATE TABLE IF NOT EXISTS LOAD_HISTORY (
    fileKey STRING(1024) NOT NULL,
    etag STRING(256) NOT NULL,
    sizeBytes NUMBER(20,0),
    lastModified TIMESTAMP_TZ,
    layout STRING(16),
    rowsLoaded NUMBER(20,0),
    rowsRejected NUMBER(20,0),
    loadedAt TIMESTAMP_TZ DEFAULT CURRENT_TIMESTAMP(),
    PRIMARY KEY (fileKey, etag)
);

-- Lines that could not be loaded, with where they came from and why.
CREATE TABLE IF NOT EXISTS REJECTED_FLOW_RECORDS (
    fileKey STRING(1024) NOT NULL,
    etag STRING(256),
    lineNumber NUMBER(20,0),
    reason STRING(1024),
    line STRING,
    rejectedAt TIMESTAMP_TZ DEFAULT CURRENT_TIMESTAMP()
);
