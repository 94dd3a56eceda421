-- Ingestion health: malformed lines set aside in REJECTED_FLOW_RECORDS in the range.
SELECT COUNT(*) AS "value"
FROM REJECTED_FLOW_RECORDS
WHERE rejectedAt >= $__timeFrom()::TIMESTAMP_TZ
  AND rejectedAt < $__timeTo()::TIMESTAMP_TZ
