-- Dropped or rejected flow records per endpoint, direction and UTC day of flow start.
-- Structure: flows_table, granularity, with_cluster, with_day_range (false here),
--   zero_fill: days without drops count as 0, from the first day of the window on which the
--   endpoint was seen in any flow (as source or destination, dropped or not) to :last_day,
--   so an endpoint that starts dropping has a history of zero days, and a pod created
--   mid-window is not compared with days before it existed;
--   theia_stats: add theia-sf's statistics over all days of the series (n_days, mean_drops,
--   stdev_drops as the sample standard deviation); theia-sf keeps only days with drops;
--   with_min_peak: only series whose largest day has at least :min_peak drops (the others
--   cannot be anomalous under the baseline method's min_drops, so Python never sees them).
-- Binds: :start_ts, :end_ts, :cluster_uuid (with_cluster), :first_day, :last_day (zero_fill),
--   :min_peak (with_min_peak).
-- Output: endpoint, direction, day, drops[, n_days, mean_drops, stdev_drops], total_drops,
--   total_series. The totals cover every series (before the min_peak filter); when no series
--   is returned, one row carries them with NULL endpoint.
{%- from "detection/endpoint.sql.j2" import endpoint with context %}
WITH RECURSIVE {% include "detection/dropped_flows.sql.j2" %},
pod_daily AS (
    SELECT direction, day, ep_ns, ep_pod, ep_ip, COUNT(*) AS drops
    FROM dropped
    GROUP BY direction, day, ep_ns, ep_pod, ep_ip
),
daily AS (
    SELECT {{ endpoint('ep') }} AS endpoint, direction, day, SUM(drops) AS drops
    FROM pod_daily
    GROUP BY 1, direction, day
    HAVING {{ endpoint('ep') }} IS NOT NULL
)
{%- if zero_fill %},
calendar (day) AS (
    SELECT CAST(:first_day AS DATE)
    UNION ALL
    SELECT CAST(DATEADD(day, 1, day) AS DATE) FROM calendar WHERE day < CAST(:last_day AS DATE)
),
series AS (
    SELECT DISTINCT endpoint, direction FROM daily
),
seen AS (
    -- Each side's first flow, grouped on the raw columns so the endpoint name (and the
    -- workload regular expression) is computed on reduced rows.
    SELECT sourcePodNamespace AS ep_ns, sourcePodName AS ep_pod, sourceIP AS ep_ip,
           MIN(flowStartSeconds) AS first_start
    FROM {{ flows_table | ident }}
    WHERE flowStartSeconds >= :start_ts AND flowEndSeconds < :end_ts
{%- if with_cluster %}
      AND clusterUUID = :cluster_uuid
{%- endif %}
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT destinationPodNamespace, destinationPodName, destinationIP, MIN(flowStartSeconds)
    FROM {{ flows_table | ident }}
    WHERE flowStartSeconds >= :start_ts AND flowEndSeconds < :end_ts
{%- if with_cluster %}
      AND clusterUUID = :cluster_uuid
{%- endif %}
    GROUP BY 1, 2, 3
),
first_seen AS (
    SELECT {{ endpoint('ep') }} AS endpoint, TO_DATE(MIN(first_start)) AS first_day
    FROM seen
    GROUP BY 1
),
counts AS (
    SELECT s.endpoint, s.direction, c.day, COALESCE(d.drops, 0) AS drops
    FROM series AS s
    JOIN first_seen AS f ON f.endpoint = s.endpoint
    JOIN calendar AS c ON c.day >= f.first_day
    LEFT JOIN daily AS d
      ON d.endpoint = s.endpoint AND d.direction = s.direction AND d.day = c.day
)
{%- else %},
counts AS (
    SELECT endpoint, direction, day, drops FROM daily
)
{%- endif %},
totals AS (
    SELECT COALESCE(SUM(drops), 0) AS total_drops, COUNT(*) AS total_series
    FROM (
        SELECT endpoint, direction, SUM(drops) AS drops FROM daily GROUP BY endpoint, direction
    ) AS per_series
),
result AS (
    SELECT
        endpoint,
        direction,
        day,
        drops
{%- if theia_stats %},
        COUNT(*) OVER (PARTITION BY endpoint, direction) AS n_days,
        AVG(drops) OVER (PARTITION BY endpoint, direction) AS mean_drops,
        STDDEV_SAMP(drops) OVER (PARTITION BY endpoint, direction) AS stdev_drops
{%- endif %}
    FROM counts
{%- if with_min_peak %}
    QUALIFY MAX(drops) OVER (PARTITION BY endpoint, direction) >= :min_peak
{%- endif %}
)
SELECT
    r.endpoint,
    r.direction,
    r.day,
    r.drops,
{%- if theia_stats %}
    r.n_days,
    r.mean_drops,
    r.stdev_drops,
{%- endif %}
    t.total_drops,
    t.total_series
FROM totals AS t
LEFT JOIN result AS r ON 1 = 1
ORDER BY r.endpoint, r.direction, r.day
