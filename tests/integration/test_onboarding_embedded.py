"""Embedded-engine onboarding and offboarding: DuckDB file, migrations, locations, state."""

from __future__ import annotations

import json

import pytest

from theia_sf.adapters.duckdb import DuckDBWarehouse
from theia_sf.errors import ConfigurationError
from theia_sf.migrations import applied_versions, discover
from theia_sf.onboarding.embedded import EmbeddedRequest
from theia_sf.onboarding.state import FileStateStore
from theia_sf.services.onboarding import offboard_embedded_stack, onboard_embedded_stack

pytestmark = pytest.mark.integration


def no_aws():
    raise AssertionError("a local-only stack must not touch AWS")


@pytest.fixture
def setup(tmp_path):
    request = EmbeddedRequest(
        stack_name="demo",
        duckdb_path=tmp_path / "data" / "theia.duckdb",
        flows_location=str(tmp_path / "data" / "flows"),
        results_location=str(tmp_path / "data" / "results"),
    )
    store = FileStateStore(tmp_path / "data" / "onboarding")
    return request, store


def onboard(request, store, sql, **kw):
    return onboard_embedded_stack(
        request,
        warehouse=lambda: DuckDBWarehouse(request.duckdb_path, lock_timeout=30),
        sql=sql,
        state_store=store,
        aws=no_aws,
        **kw,
    )


def test_onboard_creates_migrated_file_locations_and_state(setup, sql):
    request, store = setup
    result = onboard(request, store, sql)
    assert request.duckdb_path.exists()
    wh = DuckDBWarehouse(request.duckdb_path)
    with wh.session() as session:
        assert applied_versions(session, sql) == {m.version for m in discover(sql)}
        flows = session.con.execute("SELECT count(*) FROM FLOWS").fetchone()[0]
    assert flows == 0
    assert (request.duckdb_path.parent / "flows").is_dir()
    assert (request.duckdb_path.parent / "results").is_dir()
    state = json.loads(store.path("demo").read_text())
    assert state["status"] == "onboarded"
    assert state["steps"]["prepare_flows_location"]["created"] is True
    assert "DuckDB File" in result["table"] and str(request.duckdb_path) in result["table"]
    assert result["outputs"]["table"]["Flows Location"] == request.flows_location


def test_rerun_converges_and_applies_only_new_migrations(setup, sql):
    request, store = setup
    onboard(request, store, sql)
    again = onboard(request, store, sql)
    state = store.load("demo")
    assert state.steps["create_database_file"]["applied_now"] == []
    assert state.steps["prepare_flows_location"]["created"] is True  # still remembered
    assert again["outputs"]["table"]["Stack"] == "demo"


def test_dry_run_touches_nothing(setup, sql):
    request, store = setup
    result = onboard(request, store, sql, dry_run=True)
    assert [p["step"] for p in result["plan"]] == [
        "create_database_file",
        "prepare_flows_location",
        "prepare_results_location",
    ]
    assert len(result["plan"][0]["migrations"]) == len(discover(sql))
    assert not request.duckdb_path.parent.exists()


@pytest.mark.parametrize("fail_after", ["create_database_file", "prepare_flows_location"])
def test_failure_then_resume_then_offboard_leaves_nothing(setup, sql, fail_after):
    request, store = setup

    def boom(step):
        if step == fail_after:
            raise RuntimeError("injected")

    with pytest.raises(RuntimeError, match="injected"):
        onboard(request, store, sql, after_step=boom)
    assert store.load("demo").status == "failed"
    onboard(request, store, sql)
    assert store.load("demo").status == "onboarded"
    result = offboard_embedded_stack("demo", confirm="demo", state_store=store, aws=no_aws)
    assert any("removed" in line for line in result["removed"])
    assert not request.duckdb_path.exists()
    assert not (request.duckdb_path.parent / "flows").exists()
    assert not (request.duckdb_path.parent / "results").exists()
    assert store.load("demo") is None


def test_offboard_keeps_locations_that_existed_before(setup, sql):
    request, store = setup
    flows = request.duckdb_path.parent / "flows"
    flows.mkdir(parents=True)
    (flows / "records-1.csv").write_text("x")
    onboard(request, store, sql)
    offboard_embedded_stack("demo", confirm="demo", state_store=store, aws=no_aws)
    assert (flows / "records-1.csv").exists()
    assert not request.duckdb_path.exists()


def test_offboard_requires_confirmation_and_is_repeatable(setup, sql):
    request, store = setup
    onboard(request, store, sql)
    with pytest.raises(ConfigurationError, match="confirm must equal"):
        offboard_embedded_stack("demo", confirm="other", state_store=store, aws=no_aws)
    assert request.duckdb_path.exists()
    offboard_embedded_stack("demo", confirm="demo", state_store=store, aws=no_aws)
    second = offboard_embedded_stack("demo", confirm="demo", state_store=store, aws=no_aws)
    assert "nothing to remove" in second["message"]


def test_bad_stack_name_and_location_are_rejected(tmp_path):
    with pytest.raises(ConfigurationError, match="stack name"):
        EmbeddedRequest("Bad Name", tmp_path / "x.duckdb", str(tmp_path), str(tmp_path))
    with pytest.raises(ConfigurationError, match="THEIA_FLOWS_LOCATION"):
        EmbeddedRequest("ok", tmp_path / "x.duckdb", "ftp://nope/x", str(tmp_path))
