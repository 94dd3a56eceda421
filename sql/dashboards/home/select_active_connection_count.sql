-- Connections (5-tuples) with a record ended by an active timeout (flowEndReason 2).
-- theia-sf concatenated the two IPs without a separator, which can merge distinct pairs.
{% import "dashboards/panel_filters.sql.j2" as f -%}
{% call f.connection_count() %}flowEndReason = 2{% endcall %}
