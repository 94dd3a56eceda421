"""Value objects describing a dashboard: panels, their kind, query file and result columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class PanelKind(StrEnum):
    """Grafana panel plugin ids used by the Theia dashboards."""

    ROW = "row"
    STAT = "stat"
    TIMESERIES = "timeseries"
    TABLE = "table"
    BARGAUGE = "bargauge"
    PIECHART = "piechart"
    TEXT = "text"
    DASHLIST = "dashlist"
    SANKEY = "theia-grafana-sankey-plugin"
    CHORD = "theia-grafana-chord-plugin"


# Kinds whose data comes from a query; the others are static.
QUERY_KINDS = frozenset(
    {
        PanelKind.STAT,
        PanelKind.TIMESERIES,
        PanelKind.TABLE,
        PanelKind.BARGAUGE,
        PanelKind.PIECHART,
        PanelKind.SANKEY,
        PanelKind.CHORD,
    }
)


@dataclass(frozen=True, slots=True)
class Panel:
    """One panel. ``sql`` is a path under ``sql/`` and ``columns`` what its query returns."""

    title: str
    kind: PanelKind
    sql: str | None = None
    columns: tuple[str, ...] = ()
    unit: str | None = None
    width: int = 6
    height: int = 6
    description: str = ""
    content: str = ""  # text panels (markdown)
    mappings: tuple[dict[str, Any], ...] = ()
    overrides: tuple[dict[str, Any], ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.kind in QUERY_KINDS) != (self.sql is not None):
            raise ValueError(f"panel {self.title!r}: query panels need sql, others must not")
        if self.sql is not None and not self.columns:
            raise ValueError(f"panel {self.title!r}: declare the columns its query returns")
        if not 1 <= self.width <= 24:
            raise ValueError(f"panel {self.title!r}: width must be 1..24")

    @property
    def is_time_series(self) -> bool:
        return self.kind is PanelKind.TIMESERIES


@dataclass(frozen=True, slots=True)
class Dashboard:
    """A dashboard file: ``<name>.json`` with a fixed uid."""

    name: str
    uid: str
    title: str
    panels: tuple[Panel, ...]
    description: str = ""
    time_from: str = "now-1h"

    def query_panels(self) -> list[Panel]:
        return [p for p in self.panels if p.sql is not None]
