-- One stored policy; the service runs it for every policy of a run (Session.insert_rows).
INSERT INTO RECOMMENDED_POLICIES (
    runId, position, kind, apiVersion, namespace, name, yaml, yamlSha256,
    ruleCount, flowCount, bytes, firstSeen, lastSeen, evidence
) VALUES (
    :run_id, :position, :kind, :api_version, :namespace, :name, :yaml, :yaml_sha256,
    :rule_count, :flow_count, :bytes, :first_seen, :last_seen, :evidence
)
