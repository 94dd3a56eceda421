UPDATE RECOMMENDATION_RUNS SET shardCount = :shard_count WHERE runId = :run_id
