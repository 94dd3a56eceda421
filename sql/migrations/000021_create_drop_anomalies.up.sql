-- One row per anomalous (endpoint, direction, day) found by a drop-detection run (read by
-- dashboards; keep the names).
--   runId          the run (DROP_DETECTION_RUNS.runId) that found it
--   anomalyKey     stable id of (cluster, granularity, endpoint, direction, day); the same
--                  anomaly found by later runs has the same key, which alert dedup relies on
--   method         'baseline' or 'theia'
--   granularity    'pod' or 'workload'
--   clusterUUID    cluster filter of the run, NULL for all clusters
--   endpoint       ns/pod, ns/workload, or the IP of a non-pod endpoint
--   direction      'ingress' (the ingress rule dropped) or 'egress'
--   anomalyDate    UTC day (of flowStartSeconds) of the anomaly
--   dropCount      dropped or rejected flow records of that endpoint, direction and day
--   baselineMean   mean the day was compared with (theia: all days; baseline: preceding days)
--   baselineStdev  spread the day was compared with (sample standard deviation; baseline:
--                  never below the floor, see the detection documentation)
--   score          (dropCount - baselineMean) / baselineStdev
--   historyDays    number of days behind baselineMean
--   topPolicy      namespace/name of the policy that dropped most of its flows
--   topRule        rule name of that policy
--   topPeer        the peer endpoint with most dropped flows
--   attribution    JSON text: {"rules": [{policy_namespace, policy_name, rule_name,
--                  policy_type, drops}], "peers": [{peer, drops}]}, largest first
--   detectedAt     when the run stored it
CREATE TABLE IF NOT EXISTS DROP_ANOMALIES (
    runId STRING(64) NOT NULL,
    anomalyKey STRING(64) NOT NULL,
    method STRING(16) NOT NULL,
    granularity STRING(16) NOT NULL,
    clusterUUID STRING(36),
    endpoint STRING(600) NOT NULL,
    direction STRING(8) NOT NULL,
    anomalyDate DATE NOT NULL,
    dropCount NUMBER(20,0) NOT NULL,
    baselineMean DOUBLE,
    baselineStdev DOUBLE,
    score DOUBLE,
    historyDays NUMBER(10,0),
    topPolicy STRING(600),
    topRule STRING(256),
    topPeer STRING(600),
    attribution STRING,
    detectedAt TIMESTAMP_TZ
);
