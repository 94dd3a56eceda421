-- What a policy recommendation run keeps in the warehouse while its shards work, and the
-- per-peer evidence it leaves behind. The staging tables are emptied when the run finishes
-- (or fails); RECOMMENDATION_EVIDENCE stays with the run's policies.
--
-- RECOMMENDATION_TUPLES: the run's reduction (select_flow_tuples.sql), computed once per run.
--   runId, tupleId   the run, and a number per distinct tuple within it
--   srcNamespace ... flowType   the tuple (FlowTuple columns)
--   flowCount, bytes, firstSeen, lastSeen   evidence (times in Unix seconds)
CREATE TABLE IF NOT EXISTS RECOMMENDATION_TUPLES (
    runId STRING(36) NOT NULL,
    tupleId NUMBER(20,0) NOT NULL,
    srcNamespace STRING,
    srcLabels STRING,
    srcIp STRING,
    dstIp STRING,
    dstNamespace STRING,
    dstLabels STRING,
    svcPortName STRING,
    dstPort NUMBER(10,0),
    protocol NUMBER(10,0),
    flowType NUMBER(10,0),
    flowCount NUMBER(38,0),
    bytes NUMBER(38,0),
    firstSeen NUMBER(20,0),
    lastSeen NUMBER(20,0)
);

-- RECOMMENDATION_SHARDS: which shard of a run makes the policies of each namespace.
CREATE TABLE IF NOT EXISTS RECOMMENDATION_SHARDS (
    runId STRING(36) NOT NULL,
    namespace STRING NOT NULL,
    shard NUMBER(10,0) NOT NULL
);

-- RECOMMENDATION_STAGED_POLICIES: the policies a shard made and checked, before the run
-- commits them to RECOMMENDED_POLICIES in the run's order (orderGroup, orderNamespace,
-- orderLabels, orderIndex: static policies first, then by workload).
CREATE TABLE IF NOT EXISTS RECOMMENDATION_STAGED_POLICIES (
    runId STRING(36) NOT NULL,
    shard NUMBER(10,0) NOT NULL,
    orderGroup NUMBER(10,0) NOT NULL,
    orderNamespace STRING NOT NULL,
    orderLabels STRING NOT NULL,
    orderIndex NUMBER(10,0) NOT NULL,
    kind STRING(64) NOT NULL,
    apiVersion STRING(64) NOT NULL,
    namespace STRING(256),
    name STRING(253) NOT NULL,
    yaml STRING,
    yamlSha256 STRING(64),
    ruleCount NUMBER(10,0)
);

-- RECOMMENDATION_RULE_PEERS: every peer of every rule a shard made, numbered per shard
-- (cellId), and RECOMMENDATION_TUPLE_CELLS: for each tuple that fed a rule in a shard, the
-- cells its egress and its ingress side fed (NULL: none there). The warehouse sums the tuples
-- of each peer into RECOMMENDATION_EVIDENCE.
CREATE TABLE IF NOT EXISTS RECOMMENDATION_RULE_PEERS (
    runId STRING(36) NOT NULL,
    shard NUMBER(10,0) NOT NULL,
    cellId NUMBER(20,0) NOT NULL,
    kind STRING(64) NOT NULL,
    namespace STRING(256),
    name STRING(253) NOT NULL,
    direction STRING(8) NOT NULL,
    ruleIndex NUMBER(10,0) NOT NULL,
    peerIndex NUMBER(10,0) NOT NULL,
    peer STRING NOT NULL
);

CREATE TABLE IF NOT EXISTS RECOMMENDATION_TUPLE_CELLS (
    runId STRING(36) NOT NULL,
    shard NUMBER(10,0) NOT NULL,
    tupleId NUMBER(20,0) NOT NULL,
    egressCell NUMBER(20,0),
    ingressCell NUMBER(20,0)
);

-- RECOMMENDATION_EVIDENCE: one row per peer of a rule of a recommended policy.
--   runId, kind, namespace, name   the policy (RECOMMENDED_POLICIES)
--   direction        egress | ingress
--   ruleIndex        0-based position of the rule in that direction
--   peerIndex        0-based position of the peer in the rule's peer list (or toServices)
--   peer             the peer as the report shows it: a CIDR, "service ns/name" or
--                    "ns/{k=v,...}"
--   flowCount, bytes, firstSeen, lastSeen   the flows behind that peer in that rule
CREATE TABLE IF NOT EXISTS RECOMMENDATION_EVIDENCE (
    runId STRING(36) NOT NULL,
    kind STRING(64) NOT NULL,
    namespace STRING(256),
    name STRING(253) NOT NULL,
    direction STRING(8) NOT NULL,
    ruleIndex NUMBER(10,0) NOT NULL,
    peerIndex NUMBER(10,0) NOT NULL,
    peer STRING NOT NULL,
    flowCount NUMBER(38,0),
    bytes NUMBER(38,0),
    firstSeen TIMESTAMP_TZ,
    lastSeen TIMESTAMP_TZ
);

-- The run record says how many shards made it, and which ipBlocks external-peer compaction
-- widened (JSON array of {"cidr", "seen", "unseen"}: addresses admitted beyond those seen).
ALTER TABLE RECOMMENDATION_RUNS ADD COLUMN shardCount NUMBER(10,0);
ALTER TABLE RECOMMENDATION_RUNS ADD COLUMN widenedBlocks STRING;
