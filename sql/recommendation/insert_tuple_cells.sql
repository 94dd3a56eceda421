-- The cells one tuple fed in a shard (egress and ingress side; -1: none); written as columns
-- (insert_columns).
INSERT INTO RECOMMENDATION_TUPLE_CELLS (runId, shard, tupleId, egressCell, ingressCell)
VALUES (:run_id, :shard, :tuple_id, NULLIF(:egress_cell, -1), NULLIF(:ingress_cell, -1))
