-- The properties Snowflake generated for an integration (IAM user ARN and external id),
-- which the IAM role's trust policy must name.
DESCRIBE INTEGRATION {{ name | ident }}
