-- Written in the same transaction as the file's rows: a crash before COMMIT loses both.
INSERT INTO LOAD_HISTORY (fileKey, etag, sizeBytes, lastModified, layout, rowsLoaded, rowsRejected)
VALUES (:file_key, :etag, :size_bytes, :last_modified, :layout, :rows_loaded, :rows_rejected);
