-- Load flow files (header-less CSV, plain or gzip) into FLOWS on the embedded engine.
-- DuckDB dialect (read_csv has no Snowflake equivalent: Snowpipe's COPY plays this part).
-- Structure: `fields`, the layout's fields in file order (theia_sf.layouts).
-- Binds: $paths (list of local file paths, never glob patterns: the loader passes names it
-- made itself), $labels_pattern (theia_sf.layouts.LABELS_PATTERN), $time_min and $time_max
-- (theia_sf.layouts.TIME_RANGE), $max_line_bytes (theia_sf.ingest.MAX_LINE_BYTES).
-- Labels are single-quoted JSON; an empty field is NULL. A value the line-by-line check
-- would refuse (a label that is not a flat string map, a time outside Unix seconds as
-- Antrea writes them, a line too long) aborts the statement, and the loader falls back to
-- its line-by-line path, which rejects exactly the bad lines.
INSERT INTO FLOWS (
{%- for f in fields %}
    {{ f.name | ident }}{{ "," if not loop.last }}
{%- endfor %}
)
SELECT
{%- for f in fields %}
{%- set c = "c" ~ loop.index %}
{%- if f.kind == "time" %}
    CASE
        WHEN {{ c }} IS NULL OR {{ c }} BETWEEN $time_min AND $time_max
            THEN to_timestamp({{ c }})
        ELSE error('time field {{ f.name | ident }} is out of range')
    END
{%- elif f.kind == "labels" %}
    CASE
        WHEN {{ c }} IS NULL OR {{ c }} = 'null' THEN {{ c }}
        WHEN regexp_full_match({{ c }}, $labels_pattern) THEN {{ c }}
        ELSE error('label field {{ f.name | ident }} is not a flat map of strings')
    END
{%- else %}
    {{ c }}
{%- endif %}{{ "," if not loop.last }}
{%- endfor %}
FROM read_csv(
    $paths,
    columns = {
{%- for f in fields %}
        'c{{ loop.index }}': {{ ("VARCHAR" if f.kind in ("str", "labels") else "BIGINT") | sql_string }}{{ "," if not loop.last }}
{%- endfor %}
    },
    header = false,
    delim = ',',
    quote = '''',
    escape = '''',
    auto_detect = false,
    strict_mode = true,
    max_line_size = $max_line_bytes,
    compression = 'auto'
);
