-- Average throughput (bits/s) per minute of flows allowed by an egress rule and not denied
-- on the ingress side; one series per "src -> dst : policy".
{% import "dashboards/panel_filters.sql.j2" as f -%}
SELECT
    TIME_SLICE(flowEndSeconds, 60, 'SECOND', 'START') AS "time",
    {{ f.flow_pair_label("egress") }} AS "pair",
    AVG(throughput) AS "value"
FROM FLOWS
WHERE {{ f.in_range() }}
  {{ f.user_namespaces() }}
  AND egressNetworkPolicyRuleAction = 1
  AND COALESCE(ingressNetworkPolicyRuleAction, 0) NOT IN (2, 3)
GROUP BY 1, 2
HAVING AVG(throughput) > 0
ORDER BY 1, 2
LIMIT 1000
