-- Remove a run's own results before it is written again (re-runs of the same window and
-- parameters replace them). Alert deliveries are kept: they are what makes dedup work.
-- Binds: :run_id.
DELETE FROM TAD_ANOMALIES WHERE runId = :run_id;
DELETE FROM TAD_RUNS WHERE runId = :run_id;
