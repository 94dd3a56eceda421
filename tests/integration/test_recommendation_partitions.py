"""A recommendation run split into namespace shards stores exactly what one shard stores."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil

import pytest

from flowrows import insert_flows_in_one_transaction, migrated_duckdb_file
from theia_sf.adapters.duckdb import DuckDBWarehouse
from theia_sf.errors import TheiaError
from theia_sf.recommendation.model import Options
from theia_sf.recommendation.parameters import RecommendationRequest, assign_shards, default_shards
from theia_sf.recommendation.runs import load_run
from theia_sf.services import recommendation as service
from theia_sf.services.recommendation import run_policy_recommendation
from theia_sf.sql import Query
from theia_sf.timewindow import Window

pytestmark = pytest.mark.integration

WINDOW = Window(dt.datetime(2024, 5, 1, tzinfo=dt.UTC), dt.datetime(2024, 5, 2, tzinfo=dt.UTC))
RUN_ID = "33333333-3333-3333-3333-333333333333"
NAMESPACES = [f"team-{i}" for i in range(9)] + ["kube-system", "", None, "Bad_NS"]


def _labels(rnd: random.Random) -> str | None:
    roll = rnd.random()
    if roll < 0.05:
        return rnd.choice([None, "", "{}", "null", "{not json"])
    app = f"app-{rnd.randrange(6)}"
    return json.dumps({"app": app, "pod-template-hash": f"h{rnd.randrange(3)}"})


def _flows(count: int) -> list[dict]:
    """Random flows over several namespaces, with the odd values the builder skips or counts."""
    rnd = random.Random(20240501)
    rows = []
    for i in range(count):
        flow_type = rnd.choice([1, 1, 2, 2, 3, 4])
        src_ns = rnd.choice(NAMESPACES)
        dst_ns = rnd.choice(NAMESPACES)
        row = {
            "flowStartSeconds": WINDOW.start + dt.timedelta(seconds=i),
            "flowEndSeconds": WINDOW.start + dt.timedelta(seconds=60 + i),
            "sourcePodNamespace": src_ns if flow_type != 4 else None,
            "sourcePodLabels": _labels(rnd) if flow_type != 4 else None,
            "sourceIP": rnd.choice(["198.51.100.7", "2001:db8::9", "not-an-ip", "10.0.0.1"]),
            "destinationIP": rnd.choice(["203.0.113.5", "203.0.113.6", "2001:db8::1", "10.1.0.2"]),
            "destinationPodNamespace": dst_ns if flow_type != 3 else None,
            "destinationPodLabels": _labels(rnd) if flow_type != 3 else None,
            "destinationTransportPort": rnd.choice([53, 80, 443, 5432, 0]),
            "protocolIdentifier": rnd.choice([6, 6, 17, 132, 1]),
            "flowType": flow_type,
            "octetDeltaCount": rnd.randrange(10_000),
            "reverseOctetDeltaCount": rnd.randrange(10_000),
        }
        if flow_type == 2 and rnd.random() < 0.3 and dst_ns:
            row["destinationServicePortName"] = f"{dst_ns}/svc-{rnd.randrange(3)}:http"
        rows.append(row)
    return rows


FLOWS = _flows(700)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, sql):
    """A DuckDB file holding FLOWS (copied for each run: every run writes its results)."""
    path = tmp_path_factory.mktemp("partitions") / "flows.duckdb"
    insert_flows_in_one_transaction(migrated_duckdb_file(path, sql), FLOWS)
    return path


def _run(tmp_path, sql, loaded, shards: int, policy_type: str):
    path = tmp_path / f"{policy_type}-{shards}.duckdb"
    shutil.copyfile(loaded, path)
    warehouse = DuckDBWarehouse(path, lock_timeout=60)
    summary = run_policy_recommendation(warehouse, sql, RecommendationRequest(window=WINDOW, options=Options.create(policy_type=policy_type), shards=shards), run_id=RUN_ID)  # fmt: skip
    with warehouse.session() as session:
        _, stored = session.fetch_rows(
            Query(
                "stored",
                "SELECT position, kind, apiVersion, namespace, name, yaml, yamlSha256, ruleCount, "
                "flowCount, bytes, firstSeen, lastSeen FROM RECOMMENDED_POLICIES "
                "WHERE runId = :run_id ORDER BY position",
                {"run_id": RUN_ID},
            )
        )
        _, evidence = session.fetch_rows(
            Query(
                "evidence",
                "SELECT kind, namespace, name, direction, ruleIndex, peerIndex, peer, flowCount, "
                "bytes, firstSeen, lastSeen FROM RECOMMENDATION_EVIDENCE WHERE runId = :run_id "
                "ORDER BY kind, namespace, name, direction, ruleIndex, peerIndex",
                {"run_id": RUN_ID},
            )
        )
        run = load_run(session, sql, RUN_ID)
    record = {k: run[k] for k in ("status", "tuple_count", "flow_count", "policy_count",
                                  "skipped_tuples", "skipped_flows", "warnings")}  # fmt: skip
    return summary, stored, evidence, record


@pytest.mark.parametrize("policy_type", ["anp-deny-applied", "anp-deny-all", "k8s-np"])
def test_sharded_runs_store_what_one_shard_stores(tmp_path, sql, loaded, policy_type):
    one, stored_one, evidence_one, record_one = _run(tmp_path, sql, loaded, 1, policy_type)
    # The flows make a run worth splitting: several namespaces, skips and warnings.
    assert len({row[3] for row in stored_one}) >= 8
    assert sum(v["tuples"] for v in one.skipped.values()) > 0 and one.warnings
    assert evidence_one and sum(row[7] for row in evidence_one) >= one.flow_count // 2
    for shards in (2, 3, 5):
        summary, stored, evidence, record = _run(tmp_path, sql, loaded, shards, policy_type)
        assert summary.shards == shards
        assert stored == stored_one
        assert evidence == evidence_one
        assert record == record_one
        assert summary.tuple_count == one.tuple_count == record_one["tuple_count"]
        assert summary.skipped == one.skipped
        assert summary.warnings == one.warnings


def test_a_failing_shard_fails_the_run_and_keeps_nothing(tmp_path, sql, loaded, monkeypatch):
    path = tmp_path / "failing.duckdb"
    shutil.copyfile(loaded, path)
    warehouse = DuckDBWarehouse(path, lock_timeout=60)
    plan = service.plan_recommendation(
        warehouse,
        sql,
        RecommendationRequest(window=WINDOW, options=Options.create(), shards=3),
        run_id=RUN_ID,
    )
    first = service.run_shard(warehouse, sql, RUN_ID, 0)
    real = service.collect

    def broken(*args, **kwargs):
        raise MemoryError("shard 1 ran out")

    monkeypatch.setattr(service, "collect", broken)
    with pytest.raises(MemoryError):
        service.run_shard(warehouse, sql, RUN_ID, 1)
    monkeypatch.setattr(service, "collect", real)
    # A shard still running when another failed does not stage into the failed run.
    with pytest.raises(TheiaError, match="failed, not running"):
        service.run_shard(warehouse, sql, RUN_ID, 2)
    with pytest.raises(TheiaError, match="failed, not running"):
        service.finish_recommendation(warehouse, sql, RUN_ID, [first])
    assert plan.shards == 3
    with warehouse.session() as session:
        run = load_run(session, sql, RUN_ID)
        counts = [
            session.fetch(Query("n", f"SELECT COUNT(*) AS n FROM {table} WHERE runId = :r",
                                {"r": RUN_ID}))[0]["n"]
            for table in ("RECOMMENDATION_TUPLES", "RECOMMENDATION_STAGED_POLICIES",
                          "RECOMMENDATION_RULE_PEERS", "RECOMMENDATION_TUPLE_CELLS",
                          "RECOMMENDATION_SHARDS", "RECOMMENDED_POLICIES",
                          "RECOMMENDATION_EVIDENCE")
        ]  # fmt: skip
    assert run["status"] == "failed" and "shard 1 ran out" in run["error"]
    assert counts == [0] * 7


def test_a_retried_shard_replaces_what_its_first_attempt_staged(tmp_path, sql, loaded):
    path = tmp_path / "retried.duckdb"
    shutil.copyfile(loaded, path)
    warehouse = DuckDBWarehouse(path, lock_timeout=60)
    service.plan_recommendation(
        warehouse,
        sql,
        RecommendationRequest(window=WINDOW, options=Options.create(), shards=2),
        run_id=RUN_ID,
    )
    results = [service.run_shard(warehouse, sql, RUN_ID, shard) for shard in (0, 1, 1)]
    summary = service.finish_recommendation(warehouse, sql, RUN_ID, results[:2])
    _, stored_one, evidence_one, _ = _run(tmp_path, sql, loaded, 1, "anp-deny-applied")
    assert summary.policy_count == len(stored_one)
    with warehouse.session() as session:
        evidence = session.fetch(
            Query("e", "SELECT COUNT(*) AS n FROM RECOMMENDATION_EVIDENCE WHERE runId = :r",
                  {"r": RUN_ID})
        )  # fmt: skip
    assert evidence == [{"n": len(evidence_one)}]


@pytest.mark.parametrize("bad", [-1, 65, True, "2", 1.5])
def test_shards_must_be_an_integer_from_0_to_64(duckdb_warehouse, sql, bad):
    from theia_sf.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="shards"):
        run_policy_recommendation(
            duckdb_warehouse,
            sql,
            RecommendationRequest(window=WINDOW, options=Options.create(), shards=bad),
        )


def test_default_shards_follow_the_engine_the_groups_and_the_tuples():
    assert default_shards("duckdb", 100_000, 1_000, 50) == 1  # its shards would only queue
    assert default_shards("duckdb", 6_000, 1_440_000, 100) == 6  # but memory asks for six
    assert default_shards("duckdb", 6_000, 1_440_000, 4) == 4  # one per namespace at most
    assert default_shards("snowflake", 10, 0, 3) == 1
    assert default_shards("snowflake", 12_000, 1_000, 50) == 3
    assert default_shards("snowflake", 12_000, 1_000, 2) == 2
    assert default_shards("snowflake", 10**6, 1_000, 500) == 8
    assert default_shards("snowflake", 10**6, 10**7, 500) == 40


def test_namespaces_go_to_the_least_loaded_shard_busiest_first():
    owners = assign_shards({"a": 10, "b": 7, "c": 5, "d": 3, "e": 1}, 2)
    assert owners == {"a": 0, "b": 1, "c": 1, "d": 0, "e": 1}
