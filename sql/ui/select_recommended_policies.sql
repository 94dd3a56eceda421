-- The policies of one recommendation run, in their YAML order, with their evidence totals.
-- Structure: with_yaml (include the YAML documents), limit (an integer; all if absent).
-- Binds: :run_id.
SELECT
    position,
    kind,
    apiVersion AS api_version,
    namespace,
    name,
    ruleCount AS rule_count,
    flowCount AS flow_count,
    bytes,
    firstSeen AS first_seen,
    lastSeen AS last_seen
{%- if with_yaml %},
    yaml
{%- endif %}
FROM RECOMMENDED_POLICIES
WHERE runId = :run_id
ORDER BY position
{%- if limit %}
LIMIT {{ limit | int }}
{%- endif %}
