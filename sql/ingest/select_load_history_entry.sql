-- Inside a file's load transaction: what LOAD_HISTORY knows of this version, this key and
-- this content (another run may have handled it meanwhile).
SELECT fileKey, etag, contentHash, outcome, loadedAt
FROM LOAD_HISTORY
WHERE fileKey = :file_key OR contentHash = :content_hash
ORDER BY loadedAt;
