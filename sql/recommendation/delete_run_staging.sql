-- What a run kept while its shards worked (structure: shard set: only that shard's part,
-- before a shard task writes it again on a retry).
{%- if shard is not none %}
DELETE FROM RECOMMENDATION_STAGED_POLICIES WHERE runId = :run_id AND shard = :shard;
DELETE FROM RECOMMENDATION_RULE_PEERS WHERE runId = :run_id AND shard = :shard;
DELETE FROM RECOMMENDATION_TUPLE_CELLS WHERE runId = :run_id AND shard = :shard;
DELETE FROM RECOMMENDATION_PREVIEW_VERDICTS WHERE runId = :run_id AND shard = :shard;
{%- else %}
DELETE FROM RECOMMENDATION_STAGED_POLICIES WHERE runId = :run_id;
DELETE FROM RECOMMENDATION_RULE_PEERS WHERE runId = :run_id;
DELETE FROM RECOMMENDATION_TUPLE_CELLS WHERE runId = :run_id;
DELETE FROM RECOMMENDATION_SHARDS WHERE runId = :run_id;
DELETE FROM RECOMMENDATION_TUPLES WHERE runId = :run_id;
DELETE FROM RECOMMENDATION_PREVIEW_VERDICTS WHERE runId = :run_id;
DELETE FROM RECOMMENDATION_PREVIEW_TUPLES WHERE runId = :run_id;
{%- endif %}
