-- The denied or verdict-changed directions of a run's impact preview, busiest first.
-- Binds: :run_id, :limit.
SELECT
    direction,
    srcNamespace AS src_namespace, srcLabels AS src_labels, srcIp AS src_ip,
    dstNamespace AS dst_namespace, dstLabels AS dst_labels, dstIp AS dst_ip,
    svcPortName AS service, dstPort AS port, protocol, flowCount AS flow_count, bytes,
    firstSeen AS first_seen, lastSeen AS last_seen,
    denied, reason, policy, ruleIndex AS rule_index,
    previousDenied AS previous_denied, previousPolicy AS previous_policy
FROM RECOMMENDATION_PREVIEW
WHERE runId = :run_id
ORDER BY denied DESC, flowCount DESC, tupleId, direction
LIMIT :limit
