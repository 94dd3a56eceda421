-- The busiest ends of a run's denied preview tuples (by flows): the workloads whose traffic
-- the set denies (structure: side = "workload", the end the denying policy applies to) or the
-- peers on the other end (side = "peer"). A workload is "namespace/{labels}", an address
-- outside the cluster its IP, a Service destination "service ns/name:port".
WITH ends AS (
    SELECT
        tupleId,
{%- if side == "workload" %}
        CASE WHEN direction = 'egress'
            THEN NULLIF(srcNamespace, '') || '/' || COALESCE(srcLabels, '')
            ELSE NULLIF(dstNamespace, '') || '/' || COALESCE(dstLabels, '')
        END AS name,
{%- else %}
        CASE WHEN direction = 'egress'
            THEN COALESCE(
                NULLIF(dstNamespace, '') || '/' || COALESCE(dstLabels, ''),
                'service ' || NULLIF(svcPortName, ''),
                dstIp
            )
            ELSE COALESCE(NULLIF(srcNamespace, '') || '/' || COALESCE(srcLabels, ''), srcIp)
        END AS name,
{%- endif %}
        MAX(flowCount) AS flow_count
    FROM RECOMMENDATION_PREVIEW
    WHERE runId = :run_id AND denied
    GROUP BY tupleId, 2
)
SELECT name, COUNT(DISTINCT tupleId) AS denied_tuples, SUM(flow_count) AS denied_flows
FROM ends
WHERE name IS NOT NULL
GROUP BY name
ORDER BY denied_flows DESC, name
LIMIT :top
