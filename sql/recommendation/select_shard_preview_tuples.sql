-- The preview tuples one shard replays, in FlowTuple column order plus the tuple id and which
-- directions the shard decides: egress where it owns the source namespace, ingress where it
-- owns the destination's. Namespaces no shard owns (no flow of the run's window) go to shard 0,
-- whose set holds the static policies, the only ones that can apply to them.
WITH owned AS (
    SELECT namespace FROM RECOMMENDATION_SHARDS WHERE runId = :run_id AND shard = :shard
{%- if shard_zero %}
    UNION
    SELECT ns FROM (
        SELECT srcNamespace AS ns FROM RECOMMENDATION_PREVIEW_TUPLES WHERE runId = :run_id
        UNION
        SELECT dstNamespace FROM RECOMMENDATION_PREVIEW_TUPLES WHERE runId = :run_id
    ) AS seen
    WHERE ns IS NOT NULL AND ns <> ''
        AND ns NOT IN (SELECT namespace FROM RECOMMENDATION_SHARDS WHERE runId = :run_id)
{%- endif %}
),
marked AS (
    SELECT
        t.*,
        t.srcNamespace IN (SELECT namespace FROM owned) AS egress_here,
        t.dstNamespace IN (SELECT namespace FROM owned) AS ingress_here
    FROM RECOMMENDATION_PREVIEW_TUPLES AS t
    WHERE t.runId = :run_id
)
SELECT
    srcNamespace AS src_ns, srcLabels AS src_labels, srcIp AS src_ip, dstIp AS dst_ip,
    dstNamespace AS dst_ns, dstLabels AS dst_labels, svcPortName AS svc_port_name,
    dstPort AS dst_port, protocol, flowType AS flow_type, flowCount AS flow_count, bytes,
    firstSeen AS first_seen, lastSeen AS last_seen, tupleId AS tuple_id,
    COALESCE(egress_here, FALSE) AS egress_here, COALESCE(ingress_here, FALSE) AS ingress_here
FROM marked
WHERE egress_here OR ingress_here
ORDER BY tupleId
