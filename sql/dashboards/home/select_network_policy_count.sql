-- Distinct policies that matched a flow, per direction. A cluster-scoped policy has no
-- namespace: theia-sf concatenated NULL parts and so missed those policies.
{% import "dashboards/panel_filters.sql.j2" as f -%}
WITH f AS (
    SELECT ingressNetworkPolicyNamespace, ingressNetworkPolicyName,
        egressNetworkPolicyNamespace, egressNetworkPolicyName
    FROM FLOWS
    WHERE {{ f.in_range("      ") }}
)
SELECT COUNT(*) AS "value"
FROM (
    SELECT 'ingress' AS direction, COALESCE(ingressNetworkPolicyNamespace, '') AS ns,
        ingressNetworkPolicyName AS name
    FROM f
    WHERE COALESCE(ingressNetworkPolicyName, '') <> ''
    UNION
    SELECT 'egress' AS direction, COALESCE(egressNetworkPolicyNamespace, '') AS ns,
        egressNetworkPolicyName AS name
    FROM f
    WHERE COALESCE(egressNetworkPolicyName, '') <> ''
) AS policies
