-- One namespace's shard; the service runs it for every namespace of a run (insert_rows).
INSERT INTO RECOMMENDATION_SHARDS (runId, namespace, shard) VALUES (:run_id, :namespace, :shard)
