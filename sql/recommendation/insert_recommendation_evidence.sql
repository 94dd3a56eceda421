-- Per-peer evidence of a run, summed by the warehouse from the run's tuples: for every peer of
-- every rule, the flows, bytes and time range of the tuples that fed it.
INSERT INTO RECOMMENDATION_EVIDENCE (
    runId, kind, namespace, name, direction, ruleIndex, peerIndex, peer,
    flowCount, bytes, firstSeen, lastSeen
)
SELECT
    p.runId, p.kind, p.namespace, p.name, p.direction, p.ruleIndex, p.peerIndex, p.peer,
    SUM(t.flowCount),
    SUM(t.bytes),
    TO_TIMESTAMP(MIN(t.firstSeen)),
    TO_TIMESTAMP(MAX(t.lastSeen))
FROM RECOMMENDATION_RULE_PEERS AS p
JOIN RECOMMENDATION_TUPLE_CELLS AS c
    ON c.runId = p.runId AND c.shard = p.shard AND c.cellId = p.cellId
JOIN RECOMMENDATION_TUPLES AS t
    ON t.runId = c.runId AND t.tupleId = c.tupleId
WHERE p.runId = :run_id
GROUP BY p.runId, p.kind, p.namespace, p.name, p.direction, p.ruleIndex, p.peerIndex, p.peer
