-- Donut: bytes per ingress policy (namespace/name, or name for cluster-scoped policies).
{% import "dashboards/panel_filters.sql.j2" as f -%}
SELECT
    {{ f.policy_label("ingress", "    ") }} AS "policy",
    SUM(octetDeltaCount) AS "bytes"
FROM FLOWS
WHERE {{ f.in_range() }}
  {{ f.user_namespaces() }}
  AND COALESCE(ingressNetworkPolicyName, '') <> ''
GROUP BY 1
ORDER BY 2 DESC, 1
