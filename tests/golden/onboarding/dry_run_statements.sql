-- step create_storage_integration
CREATE STORAGE INTEGRATION IF NOT EXISTS ANTREA_FLOWS_STORAGE_INTEGRATION_XXXXXXXXXXXXXXXX
    TYPE = EXTERNAL_STAGE
    STORAGE_PROVIDER = 'S3'
    ENABLED = TRUE
    STORAGE_AWS_ROLE_ARN = 'arn:aws:iam::000000000000:role/theia/antrea-sf-storage-iam-role-xxxxxxxxxxxxxxxx'
    STORAGE_ALLOWED_LOCATIONS = ('s3://antrea-flows-xxxxxxxxxxxxxxxx/flows/');
DESCRIBE INTEGRATION ANTREA_FLOWS_STORAGE_INTEGRATION_XXXXXXXXXXXXXXXX;
-- step create_notification_integration
CREATE NOTIFICATION INTEGRATION IF NOT EXISTS ANTREA_FLOWS_NOTIFICATION_INTEGRATION_XXXXXXXXXXXXXXXX
    ENABLED = TRUE
    TYPE = QUEUE
    NOTIFICATION_PROVIDER = AWS_SNS
    DIRECTION = OUTBOUND
    AWS_SNS_TOPIC_ARN = 'arn:aws:sns:us-west-2:000000000000:antrea-flows-xxxxxxxxxxxxxxxx'
    AWS_SNS_ROLE_ARN = 'arn:aws:iam::000000000000:role/theia/antrea-sf-notification-iam-role-xxxxxxxxxxxxxxxx';
DESCRIBE INTEGRATION ANTREA_FLOWS_NOTIFICATION_INTEGRATION_XXXXXXXXXXXXXXXX;
-- step create_database
CREATE DATABASE IF NOT EXISTS ANTREA_XXXXXXXXXXXXXXXX COMMENT = 'theia-sf-airflow stack prod';
CREATE SCHEMA IF NOT EXISTS ANTREA_XXXXXXXXXXXXXXXX.THEIA COMMENT = 'theia-sf-airflow stack prod';
-- step create_stage
CREATE STAGE IF NOT EXISTS ANTREA_XXXXXXXXXXXXXXXX.THEIA.FLOWSTAGE
    URL = 's3://antrea-flows-xxxxxxxxxxxxxxxx/flows/'
    STORAGE_INTEGRATION = ANTREA_FLOWS_STORAGE_INTEGRATION_XXXXXXXXXXXXXXXX;
-- step run_migrations
CREATE WAREHOUSE IF NOT EXISTS THEIA_ONBOARD_XXXXXXXXXXXXXXXX WITH
    WAREHOUSE_SIZE = XSMALL
    AUTO_SUSPEND = 60
    INITIALLY_SUSPENDED = TRUE;
-- (every migration file, in order)
DROP WAREHOUSE IF EXISTS THEIA_ONBOARD_XXXXXXXXXXXXXXXX;
-- step create_pipe
CREATE PIPE IF NOT EXISTS ANTREA_XXXXXXXXXXXXXXXX.THEIA.FLOWPIPE
    AUTO_INGEST = TRUE
    ERROR_INTEGRATION = ANTREA_FLOWS_NOTIFICATION_INTEGRATION_XXXXXXXXXXXXXXXX
    COMMENT = 'theia-sf-airflow stack prod'
AS
COPY INTO ANTREA_XXXXXXXXXXXXXXXX.THEIA.FLOWS (
    flowStartSeconds,
    flowEndSeconds,
    flowEndSecondsFromSourceNode,
    flowEndSecondsFromDestinationNode,
    flowEndReason,
    sourceIP,
    destinationIP,
    sourceTransportPort,
    destinationTransportPort,
    protocolIdentifier,
    packetTotalCount,
    octetTotalCount,
    packetDeltaCount,
    octetDeltaCount,
    reversePacketTotalCount,
    reverseOctetTotalCount,
    reversePacketDeltaCount,
    reverseOctetDeltaCount,
    sourcePodName,
    sourcePodNamespace,
    sourceNodeName,
    destinationPodName,
    destinationPodNamespace,
    destinationNodeName,
    destinationClusterIP,
    destinationServiceIP,
    destinationServicePort,
    destinationServicePortName,
    ingressNetworkPolicyName,
    ingressNetworkPolicyNamespace,
    ingressNetworkPolicyRuleName,
    ingressNetworkPolicyRuleAction,
    ingressNetworkPolicyType,
    egressNetworkPolicyName,
    egressNetworkPolicyNamespace,
    egressNetworkPolicyRuleName,
    egressNetworkPolicyRuleAction,
    egressNetworkPolicyType,
    tcpState,
    flowType,
    sourcePodLabels,
    destinationPodLabels,
    throughput,
    reverseThroughput,
    throughputFromSourceNode,
    throughputFromDestinationNode,
    reverseThroughputFromSourceNode,
    reverseThroughputFromDestinationNode,
    clusterUUID,
    timeInserted,
    egressName,
    egressIP,
    egressNodeName
)
FROM (
    SELECT
        TO_TIMESTAMP_TZ($1::NUMBER),
        TO_TIMESTAMP_TZ($2::NUMBER),
        TO_TIMESTAMP_TZ($3::NUMBER),
        TO_TIMESTAMP_TZ($4::NUMBER),
        $5,
        $6,
        $7,
        $8,
        $9,
        $10,
        $11,
        $12,
        $13,
        $14,
        $15,
        $16,
        $17,
        $18,
        $19,
        $20,
        $21,
        $22,
        $23,
        $24,
        $25,
        $26,
        $27,
        $28,
        $29,
        $30,
        $31,
        $32,
        $33,
        $34,
        $35,
        $36,
        $37,
        $38,
        $39,
        $40,
        $41,
        $42,
        $43,
        $44,
        $45,
        $46,
        $47,
        $48,
        $49,
        TO_TIMESTAMP_TZ($50::NUMBER),
        $51,
        $52,
        $53
    FROM @ANTREA_XXXXXXXXXXXXXXXX.THEIA.FLOWSTAGE
)
FILE_FORMAT = (TYPE = CSV FIELD_OPTIONALLY_ENCLOSED_BY = '0x27' EMPTY_FIELD_AS_NULL = TRUE);
SHOW PIPES LIKE 'FLOWPIPE' IN SCHEMA ANTREA_XXXXXXXXXXXXXXXX.THEIA;
-- step create_retention_task
CREATE OR REPLACE TASK ANTREA_XXXXXXXXXXXXXXXX.THEIA.DELETE_STALE_FLOWS
    SCHEDULE = 'USING CRON 0 0 * * * UTC'
    USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE = 'XSMALL'
    COMMENT = 'theia-sf-airflow stack prod'
AS
    DELETE FROM ANTREA_XXXXXXXXXXXXXXXX.THEIA.FLOWS
    WHERE DATEDIFF(day, timeInserted, CURRENT_TIMESTAMP()) > 30;
ALTER TASK ANTREA_XXXXXXXXXXXXXXXX.THEIA.DELETE_STALE_FLOWS RESUME;
