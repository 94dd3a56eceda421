"""The Snowpipe COPY column mapping, derived from the flow-record layouts.

The DuckDB loader and the pipe read the same :data:`theia_sf.layouts.LAYOUTS`, so a layout
added there is loadable by both engines.
"""

from __future__ import annotations

from dataclasses import dataclass

from theia_sf.errors import ConfigurationError
from theia_sf.layouts import AUTO, LAYOUTS, Kind, get_layout


@dataclass(frozen=True, slots=True)
class CopyColumn:
    name: str  # FLOWS column
    kind: str  # Kind value: how the staged field is converted
    position: int  # 1-based field number in the CSV line ($n)


def check_pipe_layout(name: str) -> str:
    if name == AUTO:
        raise ConfigurationError(
            "the Snowflake engine needs an explicit flow-record layout: Snowpipe's COPY maps "
            f"fields by position and cannot detect it per file; set Param flow_layout to one "
            f"of {', '.join(LAYOUTS)}"
        )
    get_layout(name)
    return name


def copy_columns(layout_name: str) -> list[CopyColumn]:
    layout = get_layout(check_pipe_layout(layout_name))
    return [
        CopyColumn(column.name, Kind(column.kind).value, position)
        for position, column in enumerate(layout.columns, start=1)
    ]
