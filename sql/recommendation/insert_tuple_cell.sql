-- One tuple that fed one rule peer of a shard; run for each (insert_rows).
INSERT INTO RECOMMENDATION_TUPLE_CELLS (runId, shard, cellId, tupleId)
VALUES (:run_id, :shard, :cell_id, :tuple_id)
