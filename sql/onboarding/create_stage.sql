-- External stage on the flows folder, read through the storage integration.
-- The URL is a validated literal: stage DDL takes no binds.
CREATE STAGE IF NOT EXISTS {{ stage | ident }}
    URL = {{ url | s3_url }}
    STORAGE_INTEGRATION = {{ integration | ident }}
