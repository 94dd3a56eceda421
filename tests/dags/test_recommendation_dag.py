"""The theia_policy_recommendation DAG: structure, Param validation, and end-to-end runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from dagtest import load_dag, run_dag_tests, validated_conf

airflow = pytest.importorskip("airflow")

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "theia_policy_recommendation.py"


@pytest.fixture(scope="module")
def dag():
    return load_dag(DAG_FILE.stem)


def test_dag_shape(dag):
    assert dag.dag_id == DAG_FILE.stem
    assert dag.tags == {"theia", "recommendation"} or set(dag.tags) == {"theia", "recommendation"}
    assert dag.doc_md and "recommendation" in dag.doc_md
    assert set(dag.task_ids) == {
        "resolve_window", "plan_run", "recommend_shard", "finish_run", "publish_policies",
        "approve", "publish_latest", "record_rejected",
    }  # fmt: skip
    for task_id in ("plan_run", "recommend_shard", "finish_run", "publish_policies",
                    "publish_latest", "record_rejected"):  # fmt: skip
        assert dag.get_task(task_id).pool == "theia_warehouse"
    # The shards are mapped over the plan's shard list.
    assert dag.get_task("recommend_shard").upstream_task_ids == {"plan_run"}
    assert dag.get_task("finish_run").upstream_task_ids == {"resolve_window", "recommend_shard"}
    # Only publish_latest moves recommendation/latest/ and updates the asset; with approval
    # required it runs on Approve only, record_rejected on Reject (the timeout's answer too).
    assert dag.get_task("publish_policies").outlets == []
    outlets = dag.get_task("publish_latest").outlets
    assert [o.name for o in outlets] == ["theia_recommended_policies"]
    assert dag.get_task("approve").upstream_task_ids == {"publish_policies"}
    assert dag.get_task("publish_latest").upstream_task_ids == {
        "resolve_window", "publish_policies", "approve"
    }  # fmt: skip
    assert dag.get_task("publish_latest").trigger_rule == "none_failed_min_one_success"
    assert dag.get_task("record_rejected").upstream_task_ids == {
        "resolve_window", "publish_policies", "approve"
    }  # fmt: skip
    assert set(dag.params) == {
        "policy_type", "limit", "start", "end", "lookback", "ns_allow_list",
        "label_ignore_list", "to_services", "cluster_uuid", "antrea_api_version",
        "warehouse_name", "external_ipv4_prefix", "external_ipv6_prefix", "shards",
        "preview_days", "require_approval", "approval_hours",
    }  # fmt: skip


def test_defaults_validate(dag):
    values = dag.params.validate()
    assert values["policy_type"] == "anp-deny-applied"
    assert values["limit"] == 0
    assert values["lookback"] == 7
    assert values["ns_allow_list"] == ["kube-system", "flow-aggregator", "flow-visibility"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("policy_type", "anp-deny-some"),
        ("start", "yesterday"),
        ("end", "now-7w"),
        ("start", "2024-05-01"),  # no time and no offset
        ("cluster_uuid", "not-a-uuid"),
        ("limit", -1),
        ("lookback", 0),
        ("ns_allow_list", ["kube-system", "Bad_NS"]),
        ("ns_allow_list", "kube-system,flow-aggregator"),  # a JSON list, not a comma string
        ("ns_allow_list", ["a", "a"]),
        ("label_ignore_list", ["pod-template-hash", "bad key"]),
        ("antrea_api_version", "v2"),
        ("warehouse_name", "wh; DROP TABLE FLOWS"),
        ("to_services", "yes"),
        ("shards", 65),
        ("shards", -1),
        ("external_ipv4_prefix", 33),
        ("external_ipv4_prefix", 7),
        ("external_ipv6_prefix", 129),
        ("preview_days", 91),
        ("preview_days", -1),
    ],
)
def test_bad_params_are_refused_naming_the_param(dag, name, value):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match=name):
        validated_conf(dag, {name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("start", "now-90m"),
        ("end", "2024-05-01T00:00:00Z"),
        ("start", "2024-05-01T00:00:00+02:00"),
        ("cluster_uuid", "8f4c0c8e-2b1e-4a4f-9a57-6f2a7a4b9d10"),
        ("ns_allow_list", []),
        ("ns_allow_list", ["kube-system", "monitoring"]),
        ("label_ignore_list", ["app.kubernetes.io/instance", "pod-template-hash"]),
        ("warehouse_name", "COMPUTE_WH"),
    ],
)
def test_good_params_pass(dag, name, value):
    assert validated_conf(dag, {name: value})[name] == value


def _resolve(dag, conf):
    """Run resolve_window's callable directly (no metadata database needed)."""
    import pendulum

    task = dag.get_task("resolve_window")
    params = validated_conf(dag, conf)
    return task.python_callable(
        params=params, dag=dag, data_interval_end=pendulum.datetime(2024, 5, 8, tz="UTC")
    )["window"]


def test_window_defaults_to_interval_end_minus_lookback(dag):
    assert _resolve(dag, {"lookback": 3}) == {
        "start": "2024-05-05T00:00:00+00:00",
        "end": "2024-05-08T00:00:00+00:00",
    }


def test_run_without_data_interval_ends_now(dag):
    import datetime as dt

    task = dag.get_task("resolve_window")
    window = task.python_callable(
        params=validated_conf(dag, {"lookback": 1}), dag=dag, data_interval_end=None
    )["window"]
    end = dt.datetime.fromisoformat(window["end"])
    assert abs((dt.datetime.now(dt.UTC) - end).total_seconds()) < 600
    assert end - dt.datetime.fromisoformat(window["start"]) == dt.timedelta(days=1)


def test_end_before_start_fails_first_task_naming_params(dag):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=r"ends at 2024-05-01 00:00:00 UTC, which is not after its start"):
        _resolve(dag, {"start": "2024-05-02T00:00:00Z", "end": "2024-05-01T00:00:00Z"})


# Without require_approval the approval task does not wait: latest is published directly.
NO_APPROVAL = {"approve": "skipped", "record_rejected": "skipped"}


def _run_dag(tmp_path, confs, duckdb_path, results):
    return run_dag_tests("theia_policy_recommendation", tmp_path, confs, duckdb_path, results)


def _ingested(tmp_path, sql, **generated):
    """A DuckDB file holding generated demo flows: (warehouse, its path, the demo)."""
    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.demo import generate_flows
    from theia_sf.ingest import ingest_flows
    from theia_sf.migrations import migrate
    from theia_sf.objectstore import LocalObjectStore

    flows_dir = tmp_path / "flows"
    demo = generate_flows(flows_dir, **generated)
    duckdb_path = tmp_path / "theia.duckdb"
    warehouse = DuckDBWarehouse(duckdb_path, lock_timeout=60)
    with warehouse.session() as session:
        migrate(session, sql)
    report = ingest_flows(warehouse, sql, LocalObjectStore(flows_dir))
    assert report.files_loaded >= 1
    return warehouse, duckdb_path, demo


@pytest.mark.slow
def test_generated_flows_ingested_then_recommended_twice(tmp_path, sql):
    import yaml

    from theia_sf.recommendation.runs import load_run

    warehouse, duckdb_path, demo = _ingested(tmp_path, sql, records=5000, days=2, seed=3)

    results = tmp_path / "results"
    window = {"start": demo.start, "end": "now"}
    states, log = _run_dag(tmp_path, [window, window], duckdb_path, results)
    for run in states:
        assert run == {**dict.fromkeys(run, "success"), **NO_APPROVAL}, log[-5000:]

    with warehouse.session(read_only=True) as session:
        from theia_sf.sql import Query

        ids = [
            r["run_id"]
            for r in session.fetch(
                Query("t", "SELECT runId AS run_id FROM RECOMMENDATION_RUNS ORDER BY startedAt")
            )
        ]
        assert len(ids) == 2
        first, second = (load_run(session, sql, i) for i in ids)
    assert first["status"] == second["status"] == "succeeded"
    assert first["tuple_count"] > 0
    assert first["parameters"]["policy_type"] == "anp-deny-applied"
    assert first["yaml_uri"].endswith(f"recommendation/runs/{ids[0]}/policies.yaml")
    # Same parameters, same flows: the second run changes nothing.
    assert second["previous_run_id"] == ids[0]
    assert second["diff"]["added"] == second["diff"]["removed"] == second["diff"]["changed"] == []
    assert second["diff"]["unchanged"] == first["policy_count"]

    published = (results / "recommendation" / "runs" / ids[1] / "policies.yaml").read_text()
    assert published == (results / "recommendation" / "latest" / "policies.yaml").read_text()
    docs = list(yaml.safe_load_all(published))
    earlier = list(yaml.safe_load_all((results / "recommendation" / "runs" / ids[0] /
                                       "policies.yaml").read_text()))  # fmt: skip
    # The same rules; only the evidence annotations say which run published them.
    for doc in (*docs, *earlier):
        assert doc["metadata"].pop("annotations")["theia.antrea.io/run-id"] in ids
    assert docs == earlier
    # The impact preview (30 days by default) covers the same flows: nothing is denied, and
    # the second run compares with the first, published one.
    assert second["preview"]["days"] == 30
    assert second["preview"]["denied_tuples"] == 0
    assert second["preview"]["verdicts"] == {
        "previous_run_id": ids[0], "newly_denied": 0, "newly_allowed": 0
    }  # fmt: skip
    names = {d["metadata"]["name"] for d in docs}
    assert len(names) == len(docs) == first["policy_count"]
    # The demo's web pods talk to the api Service, the db and receive traffic from outside.
    anps = [d for d in docs if d["kind"] == "NetworkPolicy"]
    web = [
        d
        for d in anps
        if d["spec"]["appliedTo"][0]["podSelector"].get("matchLabels", {}).get("app") == "web"
    ]
    assert web, [d["spec"]["appliedTo"] for d in anps]
    assert any(
        "ipBlock" in peer for rule in web[0]["spec"]["ingress"] for peer in rule.get("from", [])
    )
    assert any("toServices" in rule for rule in web[0]["spec"]["egress"])
    report_doc = json.loads((results / "recommendation" / "latest" / "report.json").read_text())
    assert report_doc["run_id"] == ids[1]


@pytest.mark.slow
def test_three_shards_publish_the_yaml_one_shard_publishes(tmp_path, sql):
    from theia_sf.recommendation.runs import load_run
    from theia_sf.sql import Query

    warehouse, duckdb_path, demo = _ingested(tmp_path, sql, records=3000, days=1, seed=5)
    results = tmp_path / "results"
    window = {"start": demo.start, "end": "now"}
    states, log = _run_dag(
        tmp_path, [{**window, "shards": 3}, {**window, "shards": 1}], duckdb_path, results
    )
    for run in states:
        assert run == {**dict.fromkeys(run, "success"), **NO_APPROVAL}, log[-5000:]
    # Three mapped shard tasks ran in the first run, one in the second.
    assert "recommend_shard" in states[0]
    with warehouse.session(read_only=True) as session:
        ids = [
            r["run_id"]
            for r in session.fetch(
                Query("t", "SELECT runId AS run_id FROM RECOMMENDATION_RUNS ORDER BY startedAt")
            )
        ]
        three, one = (load_run(session, sql, i) for i in ids)
    assert (three["shard_count"], one["shard_count"]) == (3, 1)
    assert three["tuple_count"] == one["tuple_count"] > 0
    yaml_three = (results / "recommendation" / "runs" / ids[0] / "policies.yaml").read_text()
    yaml_one = (results / "recommendation" / "runs" / ids[1] / "policies.yaml").read_text()
    # The same policies; only the annotations naming each run and its window differ.
    def rules(text: str) -> str:
        return re.sub(r"\n +theia\.antrea\.io/(run-id|window): [^\n]*", "", text)

    assert "theia.antrea.io/run-id: " + ids[0] in yaml_three
    assert rules(yaml_three) == rules(yaml_one)
    assert yaml_one.count("kind: NetworkPolicy") >= 3
    assert one["diff"]["previous_run_id"] == ids[0] and one["diff"]["changed"] == []
