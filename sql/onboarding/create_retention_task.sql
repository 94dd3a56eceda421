-- Daily deletion of flows older than the retention, as a serverless task (tasks are created
-- suspended, hence the RESUME). The task body is stored, not executed now, so the retention
-- cannot be a bind: it is rendered as an integer (| int) from a validated Param.
CREATE OR REPLACE TASK {{ task | ident }}
    SCHEDULE = 'USING CRON 0 0 * * * UTC'
    USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE = 'XSMALL'
    COMMENT = {{ comment | comment }}
AS
    DELETE FROM {{ flows_table | ident }}
    WHERE DATEDIFF(day, timeInserted, CURRENT_TIMESTAMP()) > {{ retention_days | int }};
ALTER TASK {{ task | ident }} RESUME
