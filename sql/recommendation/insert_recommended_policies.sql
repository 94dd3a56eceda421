-- Commit a run's staged policies in the run's order, with their evidence totals (summed over
-- RECOMMENDATION_EVIDENCE, written first).
INSERT INTO RECOMMENDED_POLICIES (
    runId, position, kind, apiVersion, namespace, name, yaml, yamlSha256,
    ruleCount, flowCount, bytes, firstSeen, lastSeen
)
SELECT
    s.runId,
    ROW_NUMBER() OVER (
        ORDER BY s.orderGroup, s.orderNamespace, s.orderLabels, s.orderIndex
    ) - 1,
    s.kind, s.apiVersion, s.namespace, s.name, s.yaml, s.yamlSha256, s.ruleCount,
    COALESCE(e.flowCount, 0), COALESCE(e.bytes, 0), e.firstSeen, e.lastSeen
FROM RECOMMENDATION_STAGED_POLICIES AS s
LEFT JOIN (
    SELECT
        kind, namespace, name,
        SUM(flowCount) AS flowCount, SUM(bytes) AS bytes,
        MIN(firstSeen) AS firstSeen, MAX(lastSeen) AS lastSeen
    FROM RECOMMENDATION_EVIDENCE
    WHERE runId = :run_id
    GROUP BY kind, namespace, name
) AS e
    ON e.kind = s.kind AND COALESCE(e.namespace, '') = COALESCE(s.namespace, '') AND e.name = s.name
WHERE s.runId = :run_id
