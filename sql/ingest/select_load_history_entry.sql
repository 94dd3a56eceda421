-- Inside a file's load transaction: has another run loaded this exact file meanwhile?
SELECT COUNT(*) AS n FROM LOAD_HISTORY WHERE fileKey = :file_key AND etag = :etag;
