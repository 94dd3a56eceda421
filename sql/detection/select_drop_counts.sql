-- Dropped or rejected flow records per endpoint, direction and UTC day of flow start.
-- Structure: flows_table, granularity, with_cluster, with_day_range (false here),
--   zero_fill: days without drops count as 0 from each series' first day to :last_day;
--   theia_stats: add theia-sf's statistics over all days of the series (n_days, mean_drops,
--   stdev_drops as the sample standard deviation); theia-sf keeps only days with drops.
-- Binds: :start_ts, :end_ts, :cluster_uuid (with_cluster), :first_day, :last_day (zero_fill).
-- Output: endpoint, direction, day, drops[, n_days, mean_drops, stdev_drops].
WITH RECURSIVE {% include "detection/dropped_flows.sql.j2" %},
daily AS (
    SELECT endpoint, direction, day, COUNT(*) AS drops
    FROM dropped
    WHERE endpoint IS NOT NULL
    GROUP BY endpoint, direction, day
)
{%- if zero_fill %},
calendar (day) AS (
    SELECT CAST(:first_day AS DATE)
    UNION ALL
    SELECT CAST(DATEADD(day, 1, day) AS DATE) FROM calendar WHERE day < CAST(:last_day AS DATE)
),
series AS (
    SELECT endpoint, direction, MIN(day) AS first_day
    FROM daily
    GROUP BY endpoint, direction
),
counts AS (
    SELECT s.endpoint, s.direction, c.day, COALESCE(d.drops, 0) AS drops
    FROM series AS s
    JOIN calendar AS c ON c.day >= s.first_day
    LEFT JOIN daily AS d
      ON d.endpoint = s.endpoint AND d.direction = s.direction AND d.day = c.day
)
{%- else %},
counts AS (
    SELECT endpoint, direction, day, drops FROM daily
)
{%- endif %}
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
ORDER BY endpoint, direction, day
