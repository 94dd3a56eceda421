"""Assemble Grafana dashboard JSON from the catalog and the panel query files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from theia_sf.dashboards.catalog import CLUSTER_VARIABLE_SQL, DASHBOARDS
from theia_sf.dashboards.model import Dashboard, Panel, PanelKind
from theia_sf.sql import SqlLibrary

DATASOURCE_TYPE = "michelin-snowflake-datasource"
# Fixed in the datasource provisioning file, so renaming the datasource breaks nothing.
DATASOURCE_UID = "theia-snowflake"
DATASOURCE = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}
SCHEMA_VERSION = 39
GRID_WIDTH = 24


def panel_sql(sql_dir: Path, relative: str) -> str:
    """The query text Grafana receives: the file rendered (its shared fragments expanded
    here, Grafana's own macros left to Grafana), without its leading comment block."""
    lines = SqlLibrary(Path(sql_dir)).text(relative).splitlines()
    while lines and (lines[0].startswith("--") or not lines[0].strip()):
        lines.pop(0)
    text = "\n".join(lines).strip()
    if not text:
        raise ValueError(f"{relative}: no query after the comment block")
    return text


def _layout(panels: tuple[Panel, ...]) -> list[dict[str, int]]:
    """Left-to-right, wrapping at the grid width; rows always start a new line."""
    out = []
    x = y = row_height = 0
    for panel in panels:
        width = GRID_WIDTH if panel.kind is PanelKind.ROW else panel.width
        height = 1 if panel.kind is PanelKind.ROW else panel.height
        if x + width > GRID_WIDTH or (panel.kind is PanelKind.ROW and x > 0):
            x, y, row_height = 0, y + row_height, 0
        out.append({"h": height, "w": width, "x": x, "y": y})
        x += width
        row_height = max(row_height, height)
        if panel.kind is PanelKind.ROW:
            x, y, row_height = 0, y + height, 0
    return out


def _target(panel: Panel, sql: str) -> dict[str, Any]:
    return {
        "datasource": DATASOURCE,
        "refId": "A",
        "queryText": sql,
        "queryType": "time series" if panel.is_time_series else "table",
        "timeColumns": ["time"],
    }


def _field_config(panel: Panel) -> dict[str, Any]:
    defaults: dict[str, Any] = {"color": {"mode": "palette-classic"}, "mappings": []}
    if panel.unit:
        defaults["unit"] = panel.unit
    if panel.mappings:
        defaults["mappings"] = list(panel.mappings)
    if panel.kind is PanelKind.STAT:
        defaults["color"] = {"mode": "thresholds"}
        defaults["thresholds"] = {"mode": "absolute", "steps": [{"color": "blue", "value": None}]}
    if panel.kind is PanelKind.TABLE:
        defaults["custom"] = {"filterable": True}
    if panel.is_time_series and len(panel.columns) == 3:
        # The plugin turns a long (time, label, value) result into one series per label
        # value; name each series by its label.
        defaults["displayName"] = "${__field.labels." + panel.columns[1] + "}"
    return {"defaults": defaults, "overrides": list(panel.overrides)}


def _options(panel: Panel) -> dict[str, Any]:
    kind = panel.kind
    options: dict[str, Any]
    if kind is PanelKind.STAT:
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "none",
            "textMode": "auto",
        }
    elif kind is PanelKind.TIMESERIES:
        options = {
            "legend": {"displayMode": "table", "placement": "right", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    elif kind is PanelKind.PIECHART:
        options = {
            "pieType": "donut",
            "legend": {
                "displayMode": "table",
                "placement": "right",
                "values": ["value", "percent"],
            },
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True},
        }
    elif kind is PanelKind.BARGAUGE:
        options = {
            "orientation": "horizontal",
            "displayMode": "gradient",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True},
        }
    elif kind is PanelKind.TABLE:
        options = {"showHeader": True, "footer": {"show": False}}
    elif kind is PanelKind.TEXT:
        options = {"mode": "markdown", "content": panel.content}
    elif kind is PanelKind.DASHLIST:
        options = {
            "showStarred": True,
            "showRecentlyViewed": True,
            "showSearch": True,
            "showHeadings": True,
            "maxItems": 10,
            "query": "",
            "tags": ["theia"],
        }
    else:
        options = {}
    options.update(panel.options)
    return options


def _panel_json(panel: Panel, panel_id: int, grid: dict[str, int], sql_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"id": panel_id, "type": str(panel.kind), "title": panel.title}
    out["gridPos"] = grid
    if panel.kind is PanelKind.ROW:
        out.update(collapsed=False, panels=[])
        return out
    if panel.description:
        out["description"] = panel.description
    if panel.sql is not None:
        out["datasource"] = DATASOURCE
        out["targets"] = [_target(panel, panel_sql(sql_dir, panel.sql))]
        out["fieldConfig"] = _field_config(panel)
    out["options"] = _options(panel)
    return out


def _cluster_variable(sql_dir: Path) -> dict[str, Any]:
    query = panel_sql(sql_dir, CLUSTER_VARIABLE_SQL)
    return {
        "name": "clusterID",
        "label": "Cluster",
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        # Refresh on dashboard load; panels use ${clusterID:sqlstring}, which quotes and
        # escapes every selected value, and "All" expands to every value.
        "refresh": 1,
        "multi": True,
        "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "sort": 1,
        "hide": 0,
        "regex": "",
        "skipUrlSync": False,
    }


def build_dashboard(dashboard: Dashboard, sql_dir: Path) -> dict[str, Any]:
    """The provisioned JSON of ``dashboard``; deterministic for a given set of files."""
    grids = _layout(dashboard.panels)
    panels = [
        _panel_json(panel, index + 1, grid, Path(sql_dir))
        for index, (panel, grid) in enumerate(zip(dashboard.panels, grids, strict=True))
    ]
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["theia"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": dashboard.time_from, "to": "now"},
        "timezone": "utc",
        "refresh": "",
        "links": [
            {
                "type": "dashboards",
                "tags": ["theia"],
                "asDropdown": True,
                "title": "Theia dashboards",
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "templating": {"list": [_cluster_variable(Path(sql_dir))]},
        "annotations": {"list": []},
        "panels": panels,
    }


def build_all(sql_dir: Path) -> dict[str, dict[str, Any]]:
    """``{file name: dashboard JSON}`` for every dashboard in the catalog."""
    return {f"{d.name}.json": build_dashboard(d, sql_dir) for d in DASHBOARDS}


def dump(dashboard_json: dict[str, Any]) -> str:
    return json.dumps(dashboard_json, indent=2, sort_keys=False) + "\n"


def write_all(sql_dir: Path, out_dir: Path) -> list[Path]:
    """Write every dashboard into ``out_dir``; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in build_all(sql_dir).items():
        path = out_dir / name
        path.write_text(dump(content), encoding="utf-8")
        written.append(path)
    return written


def stale_files(sql_dir: Path, out_dir: Path) -> list[str]:
    """Dashboard files in ``out_dir`` that differ from what the generator produces."""
    stale = []
    for name, content in build_all(sql_dir).items():
        path = out_dir / name
        if not path.is_file() or path.read_text(encoding="utf-8") != dump(content):
            stale.append(name)
    return stale
