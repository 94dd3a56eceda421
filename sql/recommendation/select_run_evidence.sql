-- The peers of a run's rules with their evidence, busiest first within each policy and rule,
-- and how many peers each rule lists. Binds: :run_id (and :kind, :namespace, :name with
-- structure one_policy; :top with structure top: at most that many peers per rule).
SELECT
    kind, namespace, name, direction, ruleIndex AS rule_index, peerIndex AS peer_index, peer,
    flowCount AS flow_count, bytes, firstSeen AS first_seen, lastSeen AS last_seen,
    COUNT(*) OVER (PARTITION BY kind, namespace, name, direction, ruleIndex) AS rule_peers
FROM RECOMMENDATION_EVIDENCE
WHERE runId = :run_id
{%- if one_policy %}
    AND kind = :kind AND COALESCE(namespace, '') = COALESCE(:namespace, '') AND name = :name
{%- endif %}
{%- if top %}
QUALIFY ROW_NUMBER() OVER (
    PARTITION BY kind, namespace, name, direction, ruleIndex
    ORDER BY flowCount DESC, bytes DESC, peer
) <= :top
{%- endif %}
ORDER BY kind, namespace, name, direction, ruleIndex, flowCount DESC, bytes DESC, peer
