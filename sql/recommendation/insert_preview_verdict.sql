-- One direction of a preview tuple that a set denies; run for each (insert_rows).
INSERT INTO RECOMMENDATION_PREVIEW_VERDICTS (
    runId, shard, tupleId, direction, denied, reason, policy, ruleIndex,
    previousDenied, previousReason, previousPolicy
)
VALUES (
    :run_id, :shard, :tuple_id, :direction, :denied, :reason, :policy, :rule_index,
    :previous_denied, :previous_reason, :previous_policy
)
