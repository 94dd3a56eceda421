-- Connections (5-tuples) from pods to destinations outside the cluster (flowType 3).
{% import "dashboards/panel_filters.sql.j2" as f -%}
{% call f.connection_count() %}flowType = 3{% endcall %}
