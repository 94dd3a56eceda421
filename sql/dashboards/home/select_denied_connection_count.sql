-- Connections (5-tuples) dropped or rejected by an ingress or egress rule (actions 2, 3).
{% import "dashboards/panel_filters.sql.j2" as f -%}
{% call f.connection_count() %}(ingressNetworkPolicyRuleAction IN (2, 3) OR egressNetworkPolicyRuleAction IN (2, 3)){% endcall %}
