-- One policy a shard made and checked; run for each (insert_rows).
INSERT INTO RECOMMENDATION_STAGED_POLICIES (
    runId, shard, orderGroup, orderNamespace, orderLabels, orderIndex, kind, apiVersion,
    namespace, name, yaml, yamlSha256, ruleCount
) VALUES (
    :run_id, :shard, :order_group, :order_namespace, :order_labels, :order_index, :kind,
    :api_version, :namespace, :name, :yaml, :yaml_sha256, :rule_count
)
