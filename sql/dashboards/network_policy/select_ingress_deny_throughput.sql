-- Bytes per second per minute of flows dropped or rejected by an ingress rule; one series per
-- "src -> dst : policy".
{% import "dashboards/panel_filters.sql.j2" as f -%}
SELECT
    TIME_SLICE(flowEndSeconds, 60, 'SECOND', 'START') AS "time",
    {{ f.flow_pair_label("ingress") }} AS "pair",
    SUM(octetDeltaCount) / 60 AS "value"
FROM FLOWS
WHERE {{ f.in_range() }}
  {{ f.user_namespaces() }}
  AND ingressNetworkPolicyRuleAction IN (2, 3)
GROUP BY 1, 2
HAVING SUM(octetDeltaCount) > 0
ORDER BY 1, 2
LIMIT 1000
