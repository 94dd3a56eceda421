-- The tuples of one shard of a run, in FlowTuple column order plus the tuple id: those with an
-- end in a namespace the shard owns, and (structure: orphans) those with no namespace at all.
SELECT
    srcNamespace AS src_ns, srcLabels AS src_labels, srcIp AS src_ip, dstIp AS dst_ip,
    dstNamespace AS dst_ns, dstLabels AS dst_labels, svcPortName AS svc_port_name,
    dstPort AS dst_port, protocol, flowType AS flow_type, flowCount AS flow_count, bytes,
    firstSeen AS first_seen, lastSeen AS last_seen, tupleId AS tuple_id
FROM RECOMMENDATION_TUPLES
WHERE runId = :run_id
    AND (
        srcNamespace IN (
            SELECT namespace FROM RECOMMENDATION_SHARDS WHERE runId = :run_id AND shard = :shard
        )
        OR dstNamespace IN (
            SELECT namespace FROM RECOMMENDATION_SHARDS WHERE runId = :run_id AND shard = :shard
        )
{%- if orphans %}
        OR (COALESCE(srcNamespace, '') = '' AND COALESCE(dstNamespace, '') = '')
{%- endif %}
    )
