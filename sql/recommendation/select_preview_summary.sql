-- A run's preview in numbers: its tuples, those the run's set denies (either direction) with
-- their flows and bytes, and the verdict diff against the previously published set (a tuple is
-- denied by a set when either of its directions is).
WITH per_tuple AS (
    SELECT
        tupleId,
        MAX(flowCount) AS flow_count,
        MAX(bytes) AS bytes,
        MAX(CASE WHEN denied THEN 1 ELSE 0 END) AS denied,
        MAX(CASE WHEN previousDenied THEN 1 ELSE 0 END) AS previous_denied
    FROM RECOMMENDATION_PREVIEW
    WHERE runId = :run_id
    GROUP BY tupleId
)
SELECT
    (SELECT COUNT(*) FROM RECOMMENDATION_PREVIEW_TUPLES WHERE runId = :run_id) AS tuples,
    COALESCE(SUM(denied), 0) AS denied_tuples,
    COALESCE(SUM(CASE WHEN denied = 1 THEN flow_count ELSE 0 END), 0) AS denied_flows,
    COALESCE(SUM(CASE WHEN denied = 1 THEN bytes ELSE 0 END), 0) AS denied_bytes,
    COALESCE(SUM(CASE WHEN denied = 1 AND previous_denied = 0 THEN 1 ELSE 0 END), 0)
        AS newly_denied,
    COALESCE(SUM(CASE WHEN denied = 0 AND previous_denied = 1 THEN 1 ELSE 0 END), 0)
        AS newly_allowed
FROM per_tuple
