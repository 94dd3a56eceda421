-- One row per anomalous point of a throughput series (standard Theia's tadetector columns,
-- plus the run's scope). Series key columns that the aggregation does not use are NULL.
--   runId                       the run (TAD_RUNS.runId) that found it
--   anomalyKey                  stable id of (cluster, aggregation, series, flowEndSeconds): a
--                               point flagged again by a later run has the same key, which
--                               alert dedup (DROP_ALERT_DELIVERIES, shared with drop
--                               anomalies) relies on
--   algorithm, aggType, clusterUUID   as in TAD_RUNS
--   seriesLabel                 the series in one readable line (e.g. "svc shop/web:http")
--   sourceIP, sourceTransportPort, destinationIP, destinationTransportPort,
--   protocolIdentifier, flowStartSeconds   the connection (aggType 'none'); destinationIP
--                               alone for 'external'
--   podNamespace, podLabels, podName, direction   the pod series ('pod'; direction
--                               'inbound' or 'outbound'); podLabels without the
--                               pod-template-hash, controller-revision-hash and
--                               pod-template-generation keys
--   destinationServicePortName  the service port ('svc')
--   flowEndSeconds              the point's time
--   throughput                  the point's value: max over the connection's records with that
--                               flowEndSeconds ('none'), else the sum over the series' flows
--   algoCalc                    the algorithm's value: EWMA, ARIMA's prediction, 0 for DBSCAN
--   throughputStandardDeviation the threshold: the series' sample standard deviation
--                               ('corrected' variant: without the points it flags at first)
--   detectedAt                  when the run stored it
CREATE TABLE IF NOT EXISTS TAD_ANOMALIES (
    runId STRING(64) NOT NULL,
    anomalyKey STRING(64) NOT NULL,
    algorithm STRING(8) NOT NULL,
    aggType STRING(8) NOT NULL,
    clusterUUID STRING(36),
    seriesLabel STRING(10400) NOT NULL,
    sourceIP STRING(50),
    sourceTransportPort NUMBER(5,0),
    destinationIP STRING(50),
    destinationTransportPort NUMBER(5,0),
    protocolIdentifier NUMBER(3,0),
    flowStartSeconds TIMESTAMP_TZ,
    podNamespace STRING(256),
    podLabels STRING(10000),
    podName STRING(256),
    destinationServicePortName STRING(256),
    direction STRING(8),
    flowEndSeconds TIMESTAMP_TZ NOT NULL,
    throughput DOUBLE NOT NULL,
    algoCalc DOUBLE,
    throughputStandardDeviation DOUBLE,
    detectedAt TIMESTAMP_TZ
);
