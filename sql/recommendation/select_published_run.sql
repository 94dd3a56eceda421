-- The run whose policies are at recommendation/latest/: the most recently published succeeded
-- run other than the current one (the set a cluster most likely runs now). A run still waiting
-- for approval has published only its own files, not latest/.
SELECT runId AS run_id
FROM RECOMMENDATION_RUNS
WHERE status = 'succeeded'
    AND publishedAt IS NOT NULL
    AND (approval IS NULL OR approval = 'approved')
    AND runId <> :run_id
ORDER BY publishedAt DESC, runId DESC
LIMIT 1
