-- The cells one tuple fed in a shard (egress and ingress side); run for each (insert_rows).
INSERT INTO RECOMMENDATION_TUPLE_CELLS (runId, shard, tupleId, egressCell, ingressCell)
VALUES (:run_id, :shard, :tuple_id, :egress_cell, :ingress_cell)
