-- Donut: bytes per egress policy (namespace/name, or name for cluster-scoped policies).
{% import "dashboards/panel_filters.sql.j2" as f -%}
SELECT
    {{ f.policy_label("egress", "    ") }} AS "policy",
    SUM(octetDeltaCount) AS "bytes"
FROM FLOWS
WHERE {{ f.in_range() }}
  {{ f.user_namespaces() }}
  AND COALESCE(egressNetworkPolicyName, '') <> ''
GROUP BY 1
ORDER BY 2 DESC, 1
