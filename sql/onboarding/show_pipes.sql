-- The pipe's row, whose notification_channel is the SQS queue S3 must notify.
-- The LIKE pattern is an identifier (| ident), so it cannot contain a quote.
SHOW PIPES LIKE '{{ pipe_name | ident }}' IN SCHEMA {{ schema | ident }}
