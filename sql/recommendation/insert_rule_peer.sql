-- One peer of one rule a shard made; written as columns (insert_columns).
INSERT INTO RECOMMENDATION_RULE_PEERS (
    runId, shard, cellId, kind, namespace, name, direction, ruleIndex, peerIndex, peer
) VALUES (
    :run_id, :shard, :cell_id, :kind, :namespace, :name, :direction, :rule_index, :peer_index,
    :peer
)
