-- Unprotected flows (no ingress and no egress policy) whose record ended in [:start_ts, :end_ts),
-- reduced to distinct tuples with evidence. Peer IPs are kept only where a rule needs them
-- (from-external sources, to-external destinations), so churning pod IPs do not multiply tuples.
-- One GROUP BY per kind of flow, each on the columns that kind needs: about 20% faster on
-- DuckDB than one GROUP BY on CASE expressions, with the same rows.
{%- set unprotected %}
    (ingressNetworkPolicyName IS NULL OR ingressNetworkPolicyName = '')
    AND (egressNetworkPolicyName IS NULL OR egressNetworkPolicyName = '')
    AND flowEndSeconds >= :start_ts
    AND flowEndSeconds < :end_ts
{%- if cluster_uuid %}
    AND clusterUUID = :cluster_uuid
{%- endif %}
{%- endset %}
{%- set evidence %}
    COUNT(*) AS flow_count,
    SUM(COALESCE(octetDeltaCount, 0) + COALESCE(reverseOctetDeltaCount, 0)) AS bytes,
    -- Unix seconds: converting hundreds of thousands of TIMESTAMP_TZ values in the client is slow.
    DATE_PART(EPOCH_SECOND, MIN(flowStartSeconds)) AS first_seen,
    DATE_PART(EPOCH_SECOND, MAX(flowEndSeconds)) AS last_seen
{%- endset %}
{#- One branch: the flows of one kind, grouped on every column but the IP it does not keep. #}
{%- macro branch(src_ip, dst_ip, kind, group_by) %}
    SELECT
        sourcePodNamespace AS src_ns,
        {{ "src.labels" if strip_labels else "sourcePodLabels" }} AS src_labels,
        {{ src_ip }} AS src_ip,
        {{ dst_ip }} AS dst_ip,
        destinationPodNamespace AS dst_ns,
        {{ "dst.labels" if strip_labels else "destinationPodLabels" }} AS dst_labels,
        destinationServicePortName AS svc_port_name,
        destinationTransportPort AS dst_port,
        protocolIdentifier AS protocol,
        flowType AS flow_type,
        {{ evidence }}
    FROM FLOWS
{%- if strip_labels %}
    LEFT JOIN kept_labels AS src ON sourcePodLabels = src.raw
    LEFT JOIN kept_labels AS dst ON destinationPodLabels = dst.raw
{%- endif %}
    WHERE {{ unprotected }}
        AND {{ kind }}
    GROUP BY {{ group_by }}
{%- endmacro %}
WITH
{%- if strip_labels %}
-- Ignored labels (:ignored_label_pattern, e.g. pod-template-hash) are dropped in the warehouse,
-- so tuples that differ only in them are one tuple (a rollout otherwise doubles a workload's
-- tuples). Only label texts in the Flow Aggregator's compact form (:label_text_pattern:
-- {"key":"value",...} with valid values, no spaces or escapes) are rewritten: removing pairs
-- from those gives the JSON of the same labels minus the ignored ones. Any other text passes
-- unchanged, and the builder parses (or skips) it as before. A cluster has few distinct label
-- texts, so they are rewritten once each and joined back before grouping.
label_texts AS (
    SELECT sourcePodLabels AS raw FROM FLOWS WHERE {{ unprotected }}
    UNION
    SELECT destinationPodLabels FROM FLOWS WHERE {{ unprotected }}
),
kept_labels AS (
    SELECT
        raw,
        CASE
            WHEN REGEXP_LIKE(raw, :label_text_pattern)
            THEN REPLACE(REGEXP_REPLACE(raw, :ignored_label_pattern, ''), ',}', '}')
            ELSE raw
        END AS labels
    FROM label_texts
),
{%- endif %}
tuples AS (
    -- Inside the cluster (and flows of an unknown type, which the builder counts as skipped).
    {{- branch("CAST(NULL AS STRING)", "CAST(NULL AS STRING)",
               "(flowType IS NULL OR flowType NOT IN (3, 4))", "1, 2, 5, 6, 7, 8, 9, 10") }}
    UNION ALL
    -- To an address outside the cluster (flowType 3): the destination IP is the rule's peer.
    {{- branch("NULL", "destinationIP", "flowType = 3", "1, 2, 4, 5, 6, 7, 8, 9, 10") }}
    UNION ALL
    -- From an address outside the cluster (flowType 4): the source IP is the rule's peer.
    {{- branch("sourceIP", "NULL", "flowType = 4", "1, 2, 3, 5, 6, 7, 8, 9, 10") }}
)
SELECT * FROM tuples
{%- if limit %}
-- With a limit, keep the busiest tuples (ties broken on every column, so runs repeat).
ORDER BY flow_count DESC, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
LIMIT :limit
{%- endif %}
