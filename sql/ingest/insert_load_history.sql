-- Written in the same transaction as the file's rows: a crash before COMMIT loses both.
INSERT INTO LOAD_HISTORY (
    fileKey, etag, contentHash, sizeBytes, lastModified, layout, rowsLoaded, rowsRejected,
    outcome, note
)
VALUES (
    :file_key, :etag, :content_hash, :size_bytes, :last_modified, :layout, :rows_loaded,
    :rows_rejected, :outcome, :note
);
