-- Connections (5-tuples) with a record ended by idle timeout or end of flow.
{% import "dashboards/panel_filters.sql.j2" as f -%}
{% call f.connection_count() %}flowEndReason <> 2{% endcall %}
