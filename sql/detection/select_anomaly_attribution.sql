-- For each anomaly (endpoint, direction, day), the policies/rules and the peers that dropped
-- most of its flows, largest first, at most :top_n of each.
-- Structure: flows_table, granularity, with_cluster, with_day_range (true: only the days
--   between the first and the last anomaly are read), anomaly_count (rows of the VALUES list).
-- Binds: :start_ts, :end_ts, :cluster_uuid, :range_start, :range_end, :top_n and, per
--   anomaly i, :endpoint_i, :direction_i, :day_i.
-- Output: kind ('rule' | 'peer'), endpoint, direction, day, rank, policy_namespace,
--   policy_name, rule_name, policy_type, peer, drops.
WITH {% include "detection/dropped_flows.sql.j2" %},
anomalies AS (
    SELECT endpoint, direction, CAST(day AS DATE) AS day
    FROM (VALUES
{%- for i in range(anomaly_count) %}
        (:endpoint_{{ i }}, :direction_{{ i }}, :day_{{ i }}){{ "," if not loop.last }}
{%- endfor %}
    ) AS a (endpoint, direction, day)
),
hits AS (
    SELECT d.*
    FROM dropped AS d
    JOIN anomalies AS a
      ON d.endpoint = a.endpoint AND d.direction = a.direction AND d.day = a.day
),
rules AS (
    SELECT
        endpoint, direction, day, policy_namespace, policy_name, rule_name, policy_type,
        COUNT(*) AS drops,
        ROW_NUMBER() OVER (
            PARTITION BY endpoint, direction, day
            ORDER BY COUNT(*) DESC, policy_namespace, policy_name, rule_name
        ) AS rank
    FROM hits
    GROUP BY endpoint, direction, day, policy_namespace, policy_name, rule_name, policy_type
    QUALIFY rank <= :top_n
),
peers AS (
    SELECT
        endpoint, direction, day, peer,
        COUNT(*) AS drops,
        ROW_NUMBER() OVER (PARTITION BY endpoint, direction, day ORDER BY COUNT(*) DESC, peer) AS rank
    FROM hits
    GROUP BY endpoint, direction, day, peer
    QUALIFY rank <= :top_n
)
SELECT 'rule' AS kind, endpoint, direction, day, rank, policy_namespace, policy_name, rule_name,
       policy_type, CAST(NULL AS STRING) AS peer, drops
FROM rules
UNION ALL
SELECT 'peer' AS kind, endpoint, direction, day, rank, CAST(NULL AS STRING), CAST(NULL AS STRING),
       CAST(NULL AS STRING), CAST(NULL AS NUMBER(3,0)), peer, drops
FROM peers
ORDER BY kind, endpoint, direction, day, rank
