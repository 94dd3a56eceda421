-- Databases that may belong to a stack (theirs are named ANTREA_<SUFFIX> and carry the
-- stack's COMMENT); the caller keeps the exact matches.
SHOW DATABASES LIKE 'ANTREA_%'
