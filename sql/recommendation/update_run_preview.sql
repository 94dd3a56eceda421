UPDATE RECOMMENDATION_RUNS SET preview = :preview WHERE runId = :run_id
