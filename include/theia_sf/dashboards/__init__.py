"""Grafana dashboards generated from the panel queries in ``sql/dashboards/``.

Each panel query is a file (Snowflake dialect with Grafana macros such as ``$__timeFrom()``
and ``${clusterID:sqlstring}``); :mod:`theia_sf.dashboards.catalog` says which panel shows
which file; :mod:`theia_sf.dashboards.build` assembles the dashboard JSON that Grafana
provisions; :mod:`theia_sf.dashboards.macros` turns the macros into bound values so every
query runs in tests. Regenerate with ``python -m theia_sf.dashboards``.
"""

from __future__ import annotations

from theia_sf.dashboards.build import DATASOURCE_UID, build_all, build_dashboard, panel_sql
from theia_sf.dashboards.catalog import DASHBOARDS
from theia_sf.dashboards.macros import substitute_macros
from theia_sf.dashboards.model import Dashboard, Panel, PanelKind

__all__ = [
    "DASHBOARDS",
    "DATASOURCE_UID",
    "Dashboard",
    "Panel",
    "PanelKind",
    "build_all",
    "build_dashboard",
    "panel_sql",
    "substitute_macros",
]
