-- The approval of a succeeded run: asked (pending), approved, or rejected / timed out (the
-- run then becomes 'rejected'). A run answered once keeps its first answer.
UPDATE RECOMMENDATION_RUNS SET
    status = :status,
    approval = :approval,
    reviewer = :reviewer,
    reviewedAt = :reviewed_at
WHERE runId = :run_id
    AND status = 'succeeded'
    AND (approval IS NULL OR approval = 'pending')
