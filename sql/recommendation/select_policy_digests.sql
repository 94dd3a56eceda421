SELECT kind, namespace, name, yamlSha256 AS yaml_sha256
FROM RECOMMENDED_POLICIES
WHERE runId = :run_id
