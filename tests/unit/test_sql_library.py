from __future__ import annotations

import jinja2
import pytest

from theia_sf.sql import SqlLibrary, ident, sql_string


@pytest.fixture
def lib(tmp_path):
    (tmp_path / "area").mkdir()
    (tmp_path / "area" / "select_thing.sql").write_text(
        "-- mentions :not_a_bind in a comment\n"
        "SELECT a FROM {{ table | ident }} WHERE b = :value"
        "{% if with_c %} AND c = :c{% endif %}\n"
    )
    return SqlLibrary(tmp_path)


@pytest.mark.parametrize("bad", ["flows; DROP TABLE x", "a-b", "1abc", "a.b.c.d", "", "x'--", None])
def test_ident_rejects_unsafe_names(bad):
    with pytest.raises(ValueError, match="unsafe SQL identifier"):
        ident(bad)


@pytest.mark.parametrize("good", ["FLOWS", "db.THEIA.FLOWS", "_x$1"])
def test_ident_accepts_plain_names(good):
    assert ident(good) == good


def test_sql_string_only_takes_plain_constants():
    assert sql_string("BIGINT") == "'BIGINT'"
    with pytest.raises(ValueError):
        sql_string("x'; DROP TABLE FLOWS; --")


def test_render_binds_and_structure(lib):
    q = lib.render("area/select_thing.sql", binds={"value": 1, "c": 2}, table="FLOWS", with_c=True)
    assert q.placeholders() == {"value", "c"}
    assert "AND c = :c" in q.text


def test_missing_bind_is_an_error(lib):
    with pytest.raises(KeyError, match="unbound placeholders"):
        lib.render("area/select_thing.sql", binds={}, table="FLOWS", with_c=False)


def test_missing_structure_is_an_error(lib):
    with pytest.raises(jinja2.UndefinedError):
        lib.render("area/select_thing.sql", binds={"value": 1}, table="FLOWS")


def test_injected_identifier_is_refused(lib):
    with pytest.raises(ValueError, match="unsafe SQL identifier"):
        lib.render("area/select_thing.sql", binds={"value": 1},
                   table="flows; DROP TABLE flows; --", with_c=False)
