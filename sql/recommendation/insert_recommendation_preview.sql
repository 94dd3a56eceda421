-- Commit a run's preview verdicts with the evidence of their tuples (times as timestamps).
INSERT INTO RECOMMENDATION_PREVIEW (
    runId, tupleId, direction, srcNamespace, srcLabels, srcIp, dstIp, dstNamespace, dstLabels,
    svcPortName, dstPort, protocol, flowType, flowCount, bytes, firstSeen, lastSeen,
    denied, reason, policy, ruleIndex, previousDenied, previousReason, previousPolicy
)
SELECT
    v.runId, v.tupleId, v.direction, t.srcNamespace, t.srcLabels, t.srcIp, t.dstIp,
    t.dstNamespace, t.dstLabels, t.svcPortName, t.dstPort, t.protocol, t.flowType,
    t.flowCount, t.bytes, TO_TIMESTAMP(t.firstSeen), TO_TIMESTAMP(t.lastSeen),
    v.denied, v.reason, v.policy, v.ruleIndex, v.previousDenied, v.previousReason,
    v.previousPolicy
FROM RECOMMENDATION_PREVIEW_VERDICTS AS v
JOIN RECOMMENDATION_PREVIEW_TUPLES AS t
    ON t.runId = v.runId AND t.tupleId = v.tupleId
WHERE v.runId = :run_id
