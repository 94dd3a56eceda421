"""Every foundation SQL file on both paths: DuckDB (transpiled) and Snowflake (fakesnow)."""

from __future__ import annotations

import datetime as dt

import pytest

from theia_sf.layouts import LAYOUTS

T = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
HOSTILE = "x'; DROP TABLE FLOWS; --"

HISTORY = {"file_key": HOSTILE, "etag": "e1", "size_bytes": 10, "last_modified": T,
           "layout": "v2.7", "rows_loaded": 3, "rows_rejected": 1, "content_hash": "h1",
           "outcome": "loaded", "note": None}
REJECT = {"file_key": HOSTILE, "etag": "e1", "line_number": 7, "reason": "bad", "line": "a,'b"}


def _exercise(session, sql):
    session.execute(sql.render("ingest/insert_load_history.sql", binds=HISTORY))
    session.execute(sql.render("ingest/insert_rejected_flow_record.sql", binds=REJECT))
    keys = session.fetch(sql.render("ingest/select_load_history.sql"))
    assert keys == [{"filekey": HOSTILE, "etag": "e1"}]
    session.execute(sql.render("ingest/insert_load_history.sql", binds={
        **HISTORY, "file_key": "copy.csv", "etag": "e2", "rows_loaded": 0, "rows_rejected": 0,
        "outcome": "duplicate", "note": "same content"}))
    entry = session.fetch(sql.render("ingest/select_load_history_entry.sql",
                                     binds={"file_key": HOSTILE, "content_hash": "nothing"}))
    assert [(e["filekey"], e["contenthash"], e["outcome"]) for e in entry] == [
        (HOSTILE, "h1", "loaded")]
    by_content = session.fetch(sql.render("ingest/select_load_history_entry.sql",
                                          binds={"file_key": "other.csv", "content_hash": "h1"}))
    assert sorted(e["filekey"] for e in by_content) == ["copy.csv", HOSTILE]
    totals = session.fetch(sql.render("ingest/select_load_totals.sql"))[0]
    assert (totals["files"], int(totals["rows_loaded"]), int(totals["rows_rejected"])) == (1, 3, 1)
    assert session.fetch(sql.render("ingest/select_flow_count.sql"))[0]["n"] == 0
    later = T + dt.timedelta(days=1)
    for name in ("retention/delete_stale_flows.sql", "retention/delete_stale_load_history.sql"):
        session.execute(sql.render(name, binds={"cutoff": later}))
    assert session.fetch(sql.render("ingest/select_load_history.sql")) == []


def test_foundation_sql_on_duckdb(duckdb_warehouse, sql):
    with duckdb_warehouse.session() as s:
        _exercise(s, sql)
        s.execute(sql.render("retention/delete_stale_rejected_flow_records.sql",
                             binds={"cutoff": dt.datetime.now(dt.UTC) + dt.timedelta(days=1)}))
        assert s.con.execute("SELECT COUNT(*) FROM REJECTED_FLOW_RECORDS").fetchone()[0] == 0


def test_foundation_sql_on_fakesnow(fakesnow_warehouse, sql):
    with fakesnow_warehouse.session() as s:
        _exercise(s, sql)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_loader_statement_parses_for_every_layout(sql, layout):
    binds = {"paths": ["f.csv"], "labels_pattern": "p", "time_min": 0, "time_max": 1,
             "max_line_bytes": 2}
    q = sql.render("ingest/insert_flows_from_csv.duckdb.sql", binds=binds,
                   fields=LAYOUTS[layout].columns)
    assert q.placeholders() == {"paths", "labels_pattern", "time_min", "time_max",
                                "max_line_bytes"}
    assert q.text.count("'c") == len(LAYOUTS[layout].fields)


def test_percent_signs_in_comments_and_strings_reach_snowflake_intact(fakesnow_warehouse):
    # The connector %-formats statements that have binds: a literal % in a comment or a
    # string must not be read as a format directive.
    from theia_sf.sql import Query

    query = Query(
        "p",
        "SELECT /* about 20% faster */ :x AS x, '100%' AS pct -- 5% of flows\n",
        {"x": 7},
    )
    with fakesnow_warehouse.session() as session:
        assert session.fetch(query) == [{"x": 7, "pct": "100%"}]
