-- Approval of a run before its policies become recommendation/latest/ (require_approval).
--   approval     NULL (no approval asked) | pending | approved | rejected | timed_out
--   reviewer     who approved or rejected it in Airflow (NULL: nobody answered in time)
--   reviewedAt   when the answer (or the timeout) came
-- A rejected or timed-out run gets status 'rejected': it is no run's diff base, and
-- recommendation/latest/ keeps the policies approved before it.
ALTER TABLE RECOMMENDATION_RUNS ADD COLUMN IF NOT EXISTS approval STRING(16);
ALTER TABLE RECOMMENDATION_RUNS ADD COLUMN IF NOT EXISTS reviewer STRING(256);
ALTER TABLE RECOMMENDATION_RUNS ADD COLUMN IF NOT EXISTS reviewedAt TIMESTAMP_TZ;
