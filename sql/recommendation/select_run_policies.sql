SELECT position, kind, namespace, name, yaml, flowCount AS flow_count, bytes,
    firstSeen AS first_seen, lastSeen AS last_seen
FROM RECOMMENDED_POLICIES
WHERE runId = :run_id
ORDER BY position
