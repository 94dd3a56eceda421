-- A flow file is identified by its content: contentHash is the SHA-256 of its bytes as
-- stored (gzip included). The etag stays the listing's version tag (S3 ETag; size and
-- modification time of a local file), which only spares re-reading a version already seen.
-- outcome says what became of that version: 'loaded' (its rows are in FLOWS), 'duplicate'
-- (same content as a loaded file: touched, renamed or copied; nothing loaded) or 'rejected'
-- (nothing loaded, for the reason in note, e.g. a loaded file rewritten with new content).
ALTER TABLE LOAD_HISTORY ADD COLUMN IF NOT EXISTS contentHash STRING(64);
ALTER TABLE LOAD_HISTORY ADD COLUMN IF NOT EXISTS outcome STRING(16) DEFAULT 'loaded';
ALTER TABLE LOAD_HISTORY ADD COLUMN IF NOT EXISTS note STRING(1024);
