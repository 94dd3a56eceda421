-- Load flow files (header-less CSV, plain or gzip) into FLOWS on the embedded engine.
-- DuckDB dialect (read_csv has no Snowflake equivalent: Snowpipe's COPY plays this part).
-- Structure: `fields`, the layout's fields in file order (theia_sf.layouts).
-- Binds: $paths (list of local file paths).
-- Labels are single-quoted JSON; an empty field is NULL. A label that is neither empty,
-- `null` nor a JSON object aborts the statement, and the loader falls back to its
-- line-by-line path, which rejects exactly the bad lines.
INSERT INTO FLOWS (
{%- for f in fields %}
    {{ f.name | ident }}{{ "," if not loop.last }}
{%- endfor %}
)
SELECT
{%- for f in fields %}
{%- set c = "c" ~ loop.index %}
{%- if f.kind == "time" %}
    to_timestamp({{ c }})
{%- elif f.kind == "labels" %}
    CASE
        WHEN {{ c }} IS NULL OR {{ c }} = 'null' THEN {{ c }}
        -- Objects start with '{' (Go's encoder writes no leading space): a cheap test that
        -- spares parsing every label twice.
        WHEN starts_with({{ c }}, '{') AND json_valid({{ c }}) THEN {{ c }}
        ELSE error('label field {{ f.name | ident }} is not a JSON object')
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
    compression = 'auto'
);
