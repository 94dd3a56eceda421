-- Policy recommendation results (dashboards read these tables; keep names and columns stable).
--
-- RECOMMENDATION_RUNS: one row per run.
--   runId            UUID of the run (also the object-store key segment: recommendation/runs/<runId>/)
--   jobType          'initial' (the only job type)
--   policyType       anp-deny-applied | anp-deny-all | k8s-np
--   parameters       JSON object of the options that shape the output (policy type, lists,
--                    to_services, cluster UUID, limit, Antrea API version)
--   parametersHash   SHA-256 of that JSON; runs with equal hashes are diffed against each other
--   windowStart      inclusive start of the analysed window (flowEndSeconds >= windowStart)
--   windowEnd        exclusive end (flowEndSeconds < windowEnd)
--   clusterUUID      cluster filter, NULL for all clusters
--   engine           duckdb | snowflake
--   status           running | succeeded | failed
--   startedAt, finishedAt
--   tupleCount       distinct flow tuples read from FLOWS
--   flowCount        flow records behind those tuples
--   policyCount      policies emitted (static ones included)
--   skippedTuples    tuples that produced no rule
--   skippedFlows     JSON object reason -> {"tuples": n, "flows": m}
--   warnings         JSON array of strings (for example empty selectors)
--   previousRunId    the previous succeeded run with the same parametersHash, if any
--   diff             JSON {"previous_run_id", "added", "removed", "changed", "unchanged"}
--                    (policy keys "Kind/namespace/name")
--   error            failure message (status failed)
--   yamlUri, reportUri  where the run's YAML and JSON report were published
--   publishedAt      when they were published (NULL until then)
CREATE TABLE IF NOT EXISTS RECOMMENDATION_RUNS (
    runId STRING(36) NOT NULL PRIMARY KEY,
    jobType STRING(16) NOT NULL,
    policyType STRING(32) NOT NULL,
    parameters STRING,
    parametersHash STRING(64),
    windowStart TIMESTAMP_TZ,
    windowEnd TIMESTAMP_TZ,
    clusterUUID STRING(36),
    engine STRING(16),
    status STRING(16) NOT NULL,
    startedAt TIMESTAMP_TZ,
    finishedAt TIMESTAMP_TZ,
    tupleCount NUMBER(20,0),
    flowCount NUMBER(20,0),
    policyCount NUMBER(20,0),
    skippedTuples NUMBER(20,0),
    skippedFlows STRING,
    warnings STRING,
    previousRunId STRING(36),
    diff STRING,
    error STRING,
    yamlUri STRING(2048),
    reportUri STRING(2048),
    publishedAt TIMESTAMP_TZ
);

-- RECOMMENDED_POLICIES: one row per emitted policy of a run.
--   runId            RECOMMENDATION_RUNS.runId
--   position         0-based order in the published multi-document YAML
--   kind             NetworkPolicy | ClusterNetworkPolicy
--   apiVersion       networking.k8s.io/v1 | crd.antrea.io/v1beta1 | crd.antrea.io/v1alpha1
--   namespace        policy namespace (NULL for cluster-scoped policies)
--   name             stable policy name
--   yaml             the policy document
--   yamlSha256       digest of yaml (used by the run diff)
--   ruleCount        rules with evidence (static policies: 0)
--   flowCount, bytes, firstSeen, lastSeen   evidence summed over the rules
--   evidence         JSON array, one object per rule: direction, rule (index), peer, ports,
--                    flow_count, bytes, first_seen, last_seen
CREATE TABLE IF NOT EXISTS RECOMMENDED_POLICIES (
    runId STRING(36) NOT NULL,
    position NUMBER(10,0) NOT NULL,
    kind STRING(64) NOT NULL,
    apiVersion STRING(64) NOT NULL,
    namespace STRING(256),
    name STRING(253) NOT NULL,
    yaml STRING,
    yamlSha256 STRING(64),
    ruleCount NUMBER(10,0),
    flowCount NUMBER(20,0),
    bytes NUMBER(20,0),
    firstSeen TIMESTAMP_TZ,
    lastSeen TIMESTAMP_TZ,
    evidence STRING,
    PRIMARY KEY (runId, position)
);
