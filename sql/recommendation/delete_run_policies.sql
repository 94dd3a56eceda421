-- The policies a failed run had stored before it failed (they are stored in several commits).
DELETE FROM RECOMMENDED_POLICIES
WHERE runId = :run_id
