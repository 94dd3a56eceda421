-- A reduction (select_flow_tuples.sql) kept under the run id for its shards: the run's window,
-- reduced once per run however many shards read it, or with `preview` the longer preview
-- window, whose tuples the shards replay through the recommended set.
INSERT INTO {{ "RECOMMENDATION_PREVIEW_TUPLES" if preview else "RECOMMENDATION_TUPLES" }} (
    runId, tupleId, srcNamespace, srcLabels, srcIp, dstIp, dstNamespace, dstLabels,
    svcPortName, dstPort, protocol, flowType, flowCount, bytes, firstSeen, lastSeen
)
SELECT
    :run_id,
    ROW_NUMBER() OVER (ORDER BY reduced.flow_count),
    reduced.src_ns, reduced.src_labels, reduced.src_ip, reduced.dst_ip, reduced.dst_ns,
    reduced.dst_labels, reduced.svc_port_name, reduced.dst_port, reduced.protocol,
    reduced.flow_type, reduced.flow_count, reduced.bytes, reduced.first_seen, reduced.last_seen
FROM (
{% include "recommendation/select_flow_tuples.sql" %}
) AS reduced
