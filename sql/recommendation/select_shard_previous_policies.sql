-- The policies of a published run that can decide the directions one shard replays: those of
-- the shard's namespaces (structure: shard_zero, also of namespaces no shard owns) and every
-- cluster-scoped one.
SELECT yaml
FROM RECOMMENDED_POLICIES
WHERE runId = :previous_run_id
    AND (
        namespace IS NULL
        OR namespace IN (
            SELECT namespace FROM RECOMMENDATION_SHARDS WHERE runId = :run_id AND shard = :shard
        )
{%- if shard_zero %}
        OR namespace NOT IN (SELECT namespace FROM RECOMMENDATION_SHARDS WHERE runId = :run_id)
{%- endif %}
    )
ORDER BY position
