-- Storage integration that lets the FLOWSTAGE stage read s3://<bucket>/flows/.
-- Snowflake accepts no bind variables in integration DDL: the name is an identifier
-- (| ident) and the role ARN and location are literals validated by strict patterns
-- (| arn, | s3_url) before they reach the text. IF NOT EXISTS keeps the external id stable,
-- so the IAM trust policy written from DESCRIBE INTEGRATION stays valid on re-runs.
-- No COMMENT: the adapter re-renders parsed DDL and would move it before TYPE; the suffix in
-- the name ties the integration to its stack.
CREATE STORAGE INTEGRATION IF NOT EXISTS {{ name | ident }}
    TYPE = EXTERNAL_STAGE
    STORAGE_PROVIDER = 'S3'
    ENABLED = TRUE
    STORAGE_AWS_ROLE_ARN = {{ role_arn | arn }}
    STORAGE_ALLOWED_LOCATIONS = ({{ location | s3_url }})
