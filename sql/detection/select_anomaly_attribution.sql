-- For each anomaly (endpoint, direction, day), the policies/rules and the peers that dropped
-- most of its flows, largest first, at most :top_n of each.
-- Structure: flows_table, granularity, with_cluster, with_day_range (true: only the days
--   between the first and the last anomaly are read), anomaly_count (rows of the VALUES list).
-- Binds: :start_ts, :end_ts, :cluster_uuid, :range_start, :range_end, :top_n and, per
--   anomaly i, :endpoint_i, :direction_i, :day_i.
-- Output: kind ('rule' | 'peer'), endpoint, direction, day, rank, policy_namespace,
--   policy_name, rule_name, policy_type, peer, drops.
-- Rows are grouped before endpoint names are built, and only on the anomalies' days, so the
-- workload expression runs on few rows.
{%- from "detection/endpoint.sql.j2" import endpoint with context %}
WITH {% include "detection/dropped_flows.sql.j2" %},
anomalies AS (
    SELECT endpoint, direction, CAST(day AS DATE) AS day
    FROM (VALUES
{%- for i in range(anomaly_count) %}
        (:endpoint_{{ i }}, :direction_{{ i }}, :day_{{ i }}){{ "," if not loop.last }}
{%- endfor %}
    ) AS a (endpoint, direction, day)
),
anomaly_days AS (
    SELECT DISTINCT direction, day FROM anomalies
),
grouped AS (
    SELECT
        d.direction, d.day, d.ep_ns, d.ep_pod, d.ep_ip, d.peer_ns, d.peer_pod, d.peer_ip,
        d.policy_namespace, d.policy_name, d.rule_name, d.policy_type, COUNT(*) AS drops
    FROM dropped AS d
    JOIN anomaly_days AS ad ON d.direction = ad.direction AND d.day = ad.day
    GROUP BY
        d.direction, d.day, d.ep_ns, d.ep_pod, d.ep_ip, d.peer_ns, d.peer_pod, d.peer_ip,
        d.policy_namespace, d.policy_name, d.rule_name, d.policy_type
),
named AS (
    SELECT
        {{ endpoint('ep') }} AS endpoint, direction, day, peer_ns, peer_pod, peer_ip,
        policy_namespace, policy_name, rule_name, policy_type, drops
    FROM grouped
),
hits AS (
    SELECT
        n.endpoint, n.direction, n.day, {{ endpoint('peer') }} AS peer,
        n.policy_namespace, n.policy_name, n.rule_name, n.policy_type, n.drops
    FROM named AS n
    JOIN anomalies AS a
      ON n.endpoint = a.endpoint AND n.direction = a.direction AND n.day = a.day
),
rules AS (
    SELECT
        endpoint, direction, day, policy_namespace, policy_name, rule_name, policy_type,
        SUM(drops) AS drops,
        ROW_NUMBER() OVER (
            PARTITION BY endpoint, direction, day
            ORDER BY SUM(drops) DESC, policy_namespace, policy_name, rule_name
        ) AS rank
    FROM hits
    GROUP BY endpoint, direction, day, policy_namespace, policy_name, rule_name, policy_type
    QUALIFY rank <= :top_n
),
peers AS (
    SELECT
        endpoint, direction, day, peer,
        SUM(drops) AS drops,
        ROW_NUMBER() OVER (PARTITION BY endpoint, direction, day ORDER BY SUM(drops) DESC, peer) AS rank
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
