-- Auto-ingest pipe. The COPY maps the configured flow-record layout (theia_sf.layouts, the
-- same definitions the DuckDB loader uses) onto FLOWS by name, so files of any supported
-- Antrea version load into the right columns. Times are Unix seconds in the files.
-- Positions are integers from the layout definition; names are identifiers. Pipe DDL takes
-- no binds. OR REPLACE is used only when the layout changed (it resets the pipe's history).
CREATE {% if replace %}OR REPLACE PIPE{% else %}PIPE IF NOT EXISTS{% endif %} {{ pipe | ident }}
    AUTO_INGEST = TRUE
    ERROR_INTEGRATION = {{ error_integration | ident }}
    COMMENT = {{ comment | comment }}
AS
COPY INTO {{ flows_table | ident }} (
{%- for c in columns %}
    {{ c.name | ident }}{{ "," if not loop.last }}
{%- endfor %}
)
FROM (
    SELECT
{%- for c in columns %}
        {% if c.kind == "time" %}TO_TIMESTAMP_TZ(${{ c.position | int }}::NUMBER){% else %}${{ c.position | int }}{% endif %}{{ "," if not loop.last }}
{%- endfor %}
    FROM @{{ stage | ident }}
)
FILE_FORMAT = (TYPE = CSV FIELD_OPTIONALLY_ENCLOSED_BY = '0x27' EMPTY_FIELD_AS_NULL = TRUE)
