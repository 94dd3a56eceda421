-- The namespaces of a run's tuples, with the tuple ends in each (how much work a shard that
-- owns it gets) and the distinct label texts there (about its workload groups).
SELECT namespace, COUNT(*) AS ends, COUNT(DISTINCT labels) AS label_texts
FROM (
    SELECT srcNamespace AS namespace, srcLabels AS labels
    FROM RECOMMENDATION_TUPLES WHERE runId = :run_id
    UNION ALL
    SELECT dstNamespace, dstLabels
    FROM RECOMMENDATION_TUPLES WHERE runId = :run_id
) AS ends
WHERE namespace IS NOT NULL AND namespace <> ''
GROUP BY namespace
ORDER BY namespace
