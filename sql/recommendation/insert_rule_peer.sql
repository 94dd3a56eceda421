-- One peer of one rule a shard made; run for each (insert_rows).
INSERT INTO RECOMMENDATION_RULE_PEERS (
    runId, shard, cellId, kind, namespace, name, direction, ruleIndex, peerIndex, peer
) VALUES (
    :run_id, :shard, :cell_id, :kind, :namespace, :name, :direction, :rule_index, :peer_index,
    :peer
)
