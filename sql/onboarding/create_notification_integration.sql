-- Outbound notification integration: Snowpipe publishes load errors to the stack's SNS topic.
-- No binds are possible in integration DDL; ARNs are validated literals (| arn).
CREATE NOTIFICATION INTEGRATION IF NOT EXISTS {{ name | ident }}
    ENABLED = TRUE
    TYPE = QUEUE
    NOTIFICATION_PROVIDER = AWS_SNS
    DIRECTION = OUTBOUND
    AWS_SNS_TOPIC_ARN = {{ topic_arn | arn }}
    AWS_SNS_ROLE_ARN = {{ role_arn | arn }}
