-- {{ rows }} policies per statement; every value is bound (:<column>_<row>).
INSERT INTO RECOMMENDED_POLICIES (
    runId, position, kind, apiVersion, namespace, name, yaml, yamlSha256,
    ruleCount, flowCount, bytes, firstSeen, lastSeen, evidence
) VALUES
{%- for i in range(rows) %}
    (:run_id, :position_{{ i }}, :kind_{{ i }}, :api_version_{{ i }}, :namespace_{{ i }},
     :name_{{ i }}, :yaml_{{ i }}, :yaml_sha256_{{ i }}, :rule_count_{{ i }}, :flow_count_{{ i }},
     :bytes_{{ i }}, :first_seen_{{ i }}, :last_seen_{{ i }}, :evidence_{{ i }})
    {{- "," if not loop.last }}
{%- endfor %}
