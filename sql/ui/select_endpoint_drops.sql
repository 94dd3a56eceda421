-- Daily dropped or rejected flow records of one endpoint and direction: the series behind a
-- drop anomaly. Endpoints, directions and days follow drop detection (detection/
-- endpoint.sql.j2, detection/dropped_flows.sql.j2): 'ingress' when the ingress rule dropped
-- (the endpoint is the destination), else 'egress' (the source); ns/pod, or the IP of a
-- non-pod endpoint; with granularity 'workload' the pod name loses its generated suffix;
-- the day is the UTC day of flowStartSeconds.
-- Structure: granularity ('pod' | 'workload'), with_cluster.
-- Binds: :start_ts, :end_ts, :cluster_uuid (with_cluster), :endpoint, :direction.
{%- macro endpoint(ns, pod, ip) -%}
CASE WHEN NULLIF({{ pod }}, '') IS NOT NULL
{%- if granularity == 'workload' %}
     THEN {{ ns }} || '/' || REGEXP_REPLACE({{ pod }}, '(-[a-z0-9]{6,10})?-[bcdfghjklmnpqrstvwxz2456789]{5}$', '')
{%- else %}
     THEN {{ ns }} || '/' || {{ pod }}
{%- endif %}
     ELSE {{ ip }} END
{%- endmacro %}
WITH dropped AS (
    SELECT
        CASE WHEN ingressNetworkPolicyRuleAction IN (2, 3) THEN 'ingress' ELSE 'egress' END
            AS direction,
        TO_DATE(flowStartSeconds) AS day,
        CASE WHEN ingressNetworkPolicyRuleAction IN (2, 3)
             THEN {{ endpoint('destinationPodNamespace', 'destinationPodName', 'destinationIP') }}
             ELSE {{ endpoint('sourcePodNamespace', 'sourcePodName', 'sourceIP') }} END
            AS endpoint
    FROM FLOWS
    WHERE (ingressNetworkPolicyRuleAction IN (2, 3) OR egressNetworkPolicyRuleAction IN (2, 3))
      AND flowStartSeconds >= :start_ts
      AND flowEndSeconds < :end_ts
{%- if with_cluster %}
      AND clusterUUID = :cluster_uuid
{%- endif %}
)
SELECT day, COUNT(*) AS drops
FROM dropped
WHERE endpoint = :endpoint
  AND direction = :direction
GROUP BY day
ORDER BY day
