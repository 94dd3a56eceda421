"""The reduction: the warehouse turns a window's unprotected flows into distinct tuples with
their evidence (a GROUP BY, ``select_flow_tuples.sql``), in :class:`FlowTuple` order. A run
keeps them under its id for its shards (``insert_recommendation_tuples.sql``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from theia_sf.recommendation.building import label_strip_patterns
from theia_sf.recommendation.model import TUPLE_COLUMNS
from theia_sf.sql import Query, SqlLibrary
from theia_sf.timewindow import Window
from theia_sf.warehouse import Session


def reduction_query(
    sql: SqlLibrary,
    window: Window,
    cluster_uuid: str | None,
    limit: int,
    label_ignore_list: Iterable[str] = (),
    *,
    run_id: str | None = None,
    preview: bool = False,
) -> Query:
    """The reduction's SELECT; with ``run_id`` the INSERT that keeps its rows under the run
    (as the run's tuples, or with ``preview`` as its preview tuples). Labels in
    ``label_ignore_list`` are dropped where the warehouse can do it exactly (see
    :func:`label_strip_patterns`), so tuples that differ only in them arrive as one."""
    binds: dict[str, Any] = {"start_ts": window.start, "end_ts": window.end}
    if run_id is not None:
        binds["run_id"] = run_id
    if cluster_uuid:
        binds["cluster_uuid"] = cluster_uuid
    if limit:
        binds["limit"] = limit
    patterns = label_strip_patterns(label_ignore_list)
    if patterns:
        binds["label_text_pattern"], binds["ignored_label_pattern"] = patterns
    return sql.render(
        "recommendation/"
        + ("select_flow_tuples.sql" if run_id is None else "insert_recommendation_tuples.sql"),
        binds=binds,
        cluster_uuid=bool(cluster_uuid),
        limit=bool(limit),
        strip_labels=bool(patterns),
        preview=preview,
    )


def fetch_tuples(
    session: Session,
    sql: SqlLibrary,
    window: Window,
    cluster_uuid: str | None,
    limit: int,
    label_ignore_list: Iterable[str] = (),
) -> list[tuple[Any, ...]]:
    """All rows of :func:`reduction_query` at once (for tests and the bench)."""
    columns, rows = session.fetch_rows(
        reduction_query(sql, window, cluster_uuid, limit, label_ignore_list)
    )
    if columns != list(TUPLE_COLUMNS):
        raise RuntimeError(f"select_flow_tuples.sql returned columns {columns}")
    return rows
