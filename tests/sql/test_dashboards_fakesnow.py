"""The Snowflake path: every panel query and the Theia page's views through the Snowflake
adapter on the fakesnow emulator, with the same rows and the same answers as on DuckDB."""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_dashboards_queries as rows  # the shared generated rows

from theia_sf.dashboards import DASHBOARDS, panel_sql, substitute_macros
from theia_sf.timewindow import Window
from theia_sf.ui.views import Direction, FlowFilter, Scope, TheiaViews

pytestmark = pytest.mark.integration
SQL = rows.SQL
populated = rows.populated  # the DuckDB file with the same rows (a module-scoped fixture)


@pytest.fixture(scope="module")
def snowflake_wh(sql):
    fakesnow = pytest.importorskip("fakesnow")
    import snowflake.connector

    from theia_sf.adapters.snowflake import SnowflakeWarehouse
    from theia_sf.migrations import migrate

    # fakesnow has no ALTER SESSION; its sessions are in UTC already.
    with fakesnow.patch(nop_regexes=["^ALTER SESSION SET TIMEZONE"]):
        warehouse = SnowflakeWarehouse(
            lambda: snowflake.connector.connect(database="THEIA_UI", schema="THEIA"),
            database=None,
        )
        with warehouse.session() as session:
            migrate(session, sql)
        rows.insert_flows(warehouse, rows.dataset())
        rows.insert_results(warehouse)
        yield warehouse


def normal(value):
    """Engines differ in numeric types (DECIMAL, DOUBLE, BIGINT) and time zone objects."""
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        return round(float(value), 6)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normal(v) for v in value]
    return value


def run(warehouse, relative, clusters=(rows.C1,)):
    query = substitute_macros(
        panel_sql(SQL, relative),
        time_from=rows.START,
        time_to=rows.END,
        clusters=list(clusters),
        name=relative,
    )
    with warehouse.session() as session:
        return session.fetch_rows(query)


PANELS = [
    pytest.param(p.sql, id=f"{d.name}:{p.sql.split('/')[-1]}")
    for d in DASHBOARDS
    for p in d.query_panels()
    if "select_ingestion_lag" not in p.sql  # depends on the current time
]


@pytest.mark.parametrize("relative", PANELS)
def test_panel_query_gives_the_same_answer_on_both_engines(snowflake_wh, populated, relative):
    from theia_sf.adapters.duckdb import DuckDBWarehouse

    duck = DuckDBWarehouse(populated, lock_timeout=60)
    for clusters in ((rows.C1,), (rows.C1, rows.C2)):
        sf_columns, sf_rows = run(snowflake_wh, relative, clusters)
        dd_columns, dd_rows = run(duck, relative, clusters)
        assert sf_columns == dd_columns
        assert normal(sf_rows) == normal(dd_rows), relative


def test_ui_views_give_the_same_answers_on_both_engines(snowflake_wh, populated, sql):
    from theia_sf.adapters.duckdb import DuckDBWarehouse

    scope = Scope(Window(rows.START, rows.END))
    answers = []
    for warehouse in (snowflake_wh, DuckDBWarehouse(populated, lock_timeout=60)):
        views = TheiaViews(warehouse, sql)
        answers.append(
            {
                "overview": views.overview(scope)["flows"],
                "clusters": views.clusters(),
                "flows": views.flow_records(
                    scope, FlowFilter(namespace="shop", pod="web", protocol=6)
                ),
                "edges": views.pod_edges(scope),
                "matrix": views.namespace_matrix(scope),
                "runs": views.recommendation_runs(),
                "run": views.recommendation_run("r2"),
                "yaml": views.recommendation_yaml("r2"),
                "diff": views.recommendation_diff("r2"),
                "anomalies": views.drop_anomalies(Scope(Window(rows.START, rows.END))),
                "series": views.endpoint_drops(scope, "data/db-1", Direction.INGRESS),
            }
        )
    snowflake_answer, duckdb_answer = (normal(a) for a in answers)
    for key in duckdb_answer:
        assert snowflake_answer[key] == duckdb_answer[key], key
    assert duckdb_answer["overview"]["flow_records"] == 7
