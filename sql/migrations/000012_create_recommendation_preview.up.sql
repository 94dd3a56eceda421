-- The impact preview of a run: which traffic of a longer window (preview_days, ending where the
-- run's window ends) the recommended set would deny, and how that differs from the previously
-- published set.
--
-- RECOMMENDATION_PREVIEW_TUPLES: the preview window's unprotected flows reduced to distinct
-- tuples (select_flow_tuples.sql), kept under the run id while its shards replay them; same
-- columns as RECOMMENDATION_TUPLES. Emptied when the run finishes.
CREATE TABLE IF NOT EXISTS RECOMMENDATION_PREVIEW_TUPLES (
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

-- RECOMMENDATION_PREVIEW_VERDICTS: what a shard decided for one direction of a preview tuple
-- (egress: the source's shard, ingress: the destination's), written only where the new set or
-- the previously published set denies it. Emptied when the run finishes.
CREATE TABLE IF NOT EXISTS RECOMMENDATION_PREVIEW_VERDICTS (
    runId STRING(36) NOT NULL,
    shard NUMBER(10,0) NOT NULL,
    tupleId NUMBER(20,0) NOT NULL,
    direction STRING(8) NOT NULL,
    denied BOOLEAN NOT NULL,
    reason STRING(16),
    policy STRING,
    ruleIndex NUMBER(10,0),
    previousDenied BOOLEAN NOT NULL,
    previousReason STRING(16),
    previousPolicy STRING
);

-- RECOMMENDATION_PREVIEW: one row per direction of a preview tuple that the run's set denies
-- (denied) or the previously published set denied (previousDenied), with the tuple's evidence.
--   runId, tupleId, direction   the run, the tuple (numbered per run), egress | ingress
--   srcNamespace ... flowType   the tuple (as RECOMMENDATION_TUPLES)
--   flowCount, bytes, firstSeen, lastSeen   the flows behind the tuple in the preview window
--   denied, reason, policy, ruleIndex       the run's set: whether it denies this direction,
--                    how ("rule": a Drop/Reject rule, "isolated": a Kubernetes NetworkPolicy
--                    selects the pod and no rule admits the flow), the deciding policy
--                    ("Kind/namespace/name") and its rule (0-based, in that direction)
--   previousDenied, previousReason, previousPolicy   the same for the previously published
--                    set (RECOMMENDATION_RUNS.preview.verdicts.previous_run_id)
CREATE TABLE IF NOT EXISTS RECOMMENDATION_PREVIEW (
    runId STRING(36) NOT NULL,
    tupleId NUMBER(20,0) NOT NULL,
    direction STRING(8) NOT NULL,
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
    firstSeen TIMESTAMP_TZ,
    lastSeen TIMESTAMP_TZ,
    denied BOOLEAN NOT NULL,
    reason STRING(16),
    policy STRING,
    ruleIndex NUMBER(10,0),
    previousDenied BOOLEAN NOT NULL,
    previousReason STRING(16),
    previousPolicy STRING
);

-- The run record's summary of its preview (JSON, NULL when the preview is off): the window,
-- counts, the busiest denied workloads and peers, and the verdict diff.
ALTER TABLE RECOMMENDATION_RUNS ADD COLUMN preview STRING;
