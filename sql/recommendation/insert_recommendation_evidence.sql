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
JOIN (
    SELECT shard, egressCell AS cellId, tupleId
    FROM RECOMMENDATION_TUPLE_CELLS WHERE runId = :run_id AND egressCell IS NOT NULL
    UNION ALL
    SELECT shard, ingressCell, tupleId
    FROM RECOMMENDATION_TUPLE_CELLS WHERE runId = :run_id AND ingressCell IS NOT NULL
) AS c
    ON c.shard = p.shard AND c.cellId = p.cellId
JOIN RECOMMENDATION_TUPLES AS t
    ON t.runId = p.runId AND t.tupleId = c.tupleId
WHERE p.runId = :run_id
GROUP BY p.runId, p.kind, p.namespace, p.name, p.direction, p.ruleIndex, p.peerIndex, p.peer
