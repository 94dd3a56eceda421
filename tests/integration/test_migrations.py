from __future__ import annotations

import pytest

from theia_sf.layouts import FLOW_COLUMNS
from theia_sf.migrations import discover, migrate

pytestmark = pytest.mark.integration


def _versions(session, sql):
    return [r["version"] for r in session.fetch(sql.render("schema/select_schema_migrations.sql"))]


def test_migrations_are_numbered_and_unique(sql):
    versions = [m.version for m in discover(sql)]
    assert versions == sorted(set(versions))
    assert versions[:5] == [1, 2, 3, 4, 5]


def test_duckdb_migrations_apply_once(duckdb_warehouse, sql):
    with duckdb_warehouse.session() as s:
        assert migrate(s, sql) == []  # the fixture applied everything already
        assert _versions(s, sql) == [m.version for m in discover(sql)]
        columns = [r[0] for r in s.con.execute("DESCRIBE FLOWS").fetchall()]
        views = {r[0] for r in s.con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert columns == [c.name for c in FLOW_COLUMNS]
    assert {"PODS", "POLICIES"} <= views


def test_upgrade_applies_only_new_migrations(tmp_path, sql):
    """A database at an older version gets the newer migrations, nothing twice."""
    import shutil

    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.sql import SqlLibrary

    old_root = tmp_path / "sql"
    shutil.copytree(sql.root, old_root)
    for path in (old_root / "migrations").glob("*.up.sql"):
        if int(path.name[:6]) >= 4:
            path.unlink()
    wh = DuckDBWarehouse(tmp_path / "db.duckdb")
    with wh.session() as s:
        assert migrate(s, SqlLibrary(old_root)) == [1, 2, 3]
        applied = migrate(s, sql)
        assert applied[0] == 4 and 1 not in applied
        assert "egressNodeName" in [r[0] for r in s.con.execute("DESCRIBE FLOWS").fetchall()]


def test_snowflake_dialect_migrations_on_fakesnow(fakesnow_warehouse, sql):
    with fakesnow_warehouse.session() as s:
        assert migrate(s, sql) == []
        assert _versions(s, sql) == [m.version for m in discover(sql)]
        rows = s.fetch(sql.render("ingest/select_load_totals.sql"))
    assert rows[0]["files"] == 0
