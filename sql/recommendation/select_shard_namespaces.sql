SELECT namespace FROM RECOMMENDATION_SHARDS WHERE runId = :run_id AND shard = :shard
