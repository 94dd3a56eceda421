from __future__ import annotations

import sqlglot

from theia_sf.adapters.duckdb import (
    fix_number_scale_zero,
    fix_placeholders,
    fix_string_length,
    fix_timestamp_tz_default,
    transpile,
)


def _apply(fix, text):
    return sqlglot.parse_one(text, read="snowflake").transform(fix).sql("duckdb")


def test_placeholders_become_duckdb_parameters():
    assert "$start_ts" in _apply(fix_placeholders, "SELECT 1 WHERE a >= :start_ts")


def test_number_with_zero_scale_becomes_bigint():
    assert "BIGINT" in _apply(fix_number_scale_zero, "CREATE TABLE t (a NUMBER(20,0))")
    assert "DECIMAL(25, 5)" in _apply(fix_number_scale_zero, "CREATE TABLE t (a NUMBER(25,5))")


def test_string_lengths_are_dropped():
    out = _apply(fix_string_length, "CREATE TABLE t (a STRING(256), b VARCHAR(10))")
    assert "256" not in out and "10" not in out


def test_current_timestamp_default():
    out = _apply(fix_timestamp_tz_default,
                 "CREATE TABLE t (a TIMESTAMP_TZ DEFAULT CURRENT_TIMESTAMP())")
    assert "DEFAULT CURRENT_TIMESTAMP" in out


def test_transpile_reports_bind_names_per_statement():
    out = transpile("SELECT :a; SELECT :b, :a")
    assert [names for _, names in out] == [frozenset({"a"}), frozenset({"a", "b"})]
