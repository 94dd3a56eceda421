"""The impact preview, its verdict diff against the published set, and the evidence annotations
of published policies (DuckDB, no Airflow)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from theia_sf.errors import ConfigurationError
from theia_sf.objectstore import LocalObjectStore
from theia_sf.policyeval import PolicySet
from theia_sf.recommendation.model import Options
from theia_sf.recommendation.naming import allow_anp_name, reject_acnp_name
from theia_sf.recommendation.parameters import RecommendationRequest
from theia_sf.recommendation.runs import load_run
from theia_sf.services.recommendation import publish_recommendation, run_policy_recommendation
from theia_sf.sql import Query
from theia_sf.timewindow import Window

pytestmark = pytest.mark.integration

END = dt.datetime(2024, 5, 31, tzinfo=dt.UTC)
WINDOW = Window(END - dt.timedelta(days=7), END)
# An earlier run's window that holds the flow the later window misses.
EARLIER = Window(dt.datetime(2024, 5, 5, tzinfo=dt.UTC), dt.datetime(2024, 5, 12, tzinfo=dt.UTC))
WEB = '{"app":"web"}'


def _flow(at: dt.datetime, labels: str, port: int) -> dict:
    return {
        "flowStartSeconds": at,
        "flowEndSeconds": at + dt.timedelta(minutes=1),
        "sourcePodNamespace": "shop",
        "sourcePodLabels": WEB,
        "destinationIP": "10.0.0.7",
        "destinationPodNamespace": "shop",
        "destinationPodLabels": labels,
        "destinationTransportPort": port,
        "octetDeltaCount": 1000,
        "reverseOctetDeltaCount": 24,
    }


DB = _flow(END - dt.timedelta(days=2), '{"app":"db"}', 5432)  # in both windows' reach
DB_EARLY = _flow(dt.datetime(2024, 5, 6, tzinfo=dt.UTC), '{"app":"db"}', 5432)
# Seen 20 days before the end (in EARLIER, not in WINDOW): monthly traffic.
CACHE = _flow(END - dt.timedelta(days=20), '{"app":"cache"}', 6379)
API = _flow(END - dt.timedelta(days=3), '{"app":"api"}', 8080)  # only in WINDOW


def _preview_rows(warehouse, run_id):
    with warehouse.session() as session:
        return session.fetch(
            Query(
                "t",
                "SELECT dstLabels AS dst, direction, denied, reason, policy, ruleIndex AS rule, "
                "previousDenied AS previous_denied, previousPolicy AS previous_policy, "
                "flowCount AS flows, bytes, firstSeen AS first_seen, lastSeen AS last_seen "
                "FROM RECOMMENDATION_PREVIEW WHERE runId = :r ORDER BY dstLabels",
                {"r": run_id},
            )
        )


def _staging_left(warehouse, run_id):
    count = (
        "SELECT (SELECT COUNT(*) FROM RECOMMENDATION_PREVIEW_TUPLES WHERE runId = :r) AS tuples, "
        "(SELECT COUNT(*) FROM RECOMMENDATION_PREVIEW_VERDICTS WHERE runId = :r) AS verdicts"
    )
    with warehouse.session() as session:
        row = session.fetch(Query("t", count, {"r": run_id}))[0]
    return [row["tuples"], row["verdicts"]]


def test_preview_denies_traffic_outside_the_window_with_the_denying_rule(
    duckdb_warehouse, sql, insert_flows
):
    insert_flows(duckdb_warehouse, [DB, CACHE])
    run = run_policy_recommendation(
        duckdb_warehouse,
        sql,
        RecommendationRequest(window=WINDOW, options=Options.create(), preview_days=30),
    )
    assert run.status == "succeeded"  # a preview that denies something is no failure
    rows = _preview_rows(duckdb_warehouse, run.run_id)
    # The in-window flow is allowed (the self-check's promise), so only the cache flow is here:
    # its egress is denied by the web workload's Baseline reject; the cache pod has no policy.
    assert len(rows) == 1
    row = rows[0]
    assert (row["dst"], row["direction"], row["denied"], row["reason"]) == (
        '{"app":"cache"}',
        "egress",
        True,
        "rule",
    )
    reject = reject_acnp_name("shop", (("app", "web"),))
    assert row["policy"] == f"ClusterNetworkPolicy//{reject}"
    assert (row["flows"], row["bytes"]) == (1, 1024)
    assert row["first_seen"] == CACHE["flowStartSeconds"]
    assert row["last_seen"] == CACHE["flowEndSeconds"]
    assert row["previous_denied"] is False  # nothing published before: nothing was denied
    with duckdb_warehouse.session() as session:
        stored = load_run(session, sql, run.run_id)
        (manifest,) = [
            yaml.safe_load(r["yaml"])
            for r in session.fetch(
                Query(
                    "t",
                    "SELECT yaml FROM RECOMMENDED_POLICIES WHERE runId = :r AND name = :n",
                    {"r": run.run_id, "n": reject},
                )
            )
        ]
    # The rule the preview names is the reject rule of that policy's egress.
    assert manifest["spec"]["egress"][row["rule"]]["action"] == "Reject"
    preview = stored["preview"]
    assert preview["days"] == 30
    assert preview["window_end"].startswith("2024-05-31T00:00:00")
    assert preview["window_start"].startswith("2024-05-01T00:00:00")
    assert (preview["tuples"], preview["denied_tuples"]) == (2, 1)
    assert (preview["denied_flows"], preview["denied_bytes"]) == (1, 1024)
    assert preview["top_workloads"] == [
        {"workload": 'shop/{"app":"web"}', "denied_tuples": 1, "denied_flows": 1}
    ]
    assert preview["top_peers"] == [
        {"peer": 'shop/{"app":"cache"}', "denied_tuples": 1, "denied_flows": 1}
    ]
    assert preview["verdicts"] == {"previous_run_id": None, "newly_denied": 1, "newly_allowed": 0}
    assert _staging_left(duckdb_warehouse, run.run_id) == [0, 0]


def test_verdict_diff_against_the_published_set(duckdb_warehouse, sql, insert_flows, tmp_path):
    insert_flows(duckdb_warehouse, [DB_EARLY, CACHE, DB, API])
    store = LocalObjectStore(tmp_path / "results", create=True)
    options = Options.create()
    earlier = run_policy_recommendation(
        duckdb_warehouse, sql, RecommendationRequest(window=EARLIER, options=options)
    )
    publish_recommendation(duckdb_warehouse, sql, store, earlier.run_id)
    # A later run that is not published is not what the cluster runs: it is not compared with.
    run_policy_recommendation(
        duckdb_warehouse, sql, RecommendationRequest(window=WINDOW, options=options)
    )
    run = run_policy_recommendation(
        duckdb_warehouse,
        sql,
        RecommendationRequest(window=WINDOW, options=options, preview_days=30),
    )
    rows = {r["dst"]: r for r in _preview_rows(duckdb_warehouse, run.run_id)}
    assert set(rows) == {'{"app":"cache"}', '{"app":"api"}'}
    # The earlier set allowed the cache flow (it was in its window); the new one denies it.
    assert (rows['{"app":"cache"}']["denied"], rows['{"app":"cache"}']["previous_denied"]) == (
        True, False
    )  # fmt: skip
    # The api flow is new: the earlier set denied it, the new one allows it.
    api = rows['{"app":"api"}']
    assert (api["denied"], api["previous_denied"], api["policy"]) == (False, True, None)
    reject = reject_acnp_name("shop", (("app", "web"),))
    assert api["previous_policy"] == f"ClusterNetworkPolicy//{reject}"
    with duckdb_warehouse.session() as session:
        stored = load_run(session, sql, run.run_id)
    assert stored["preview"]["verdicts"] == {
        "previous_run_id": earlier.run_id, "newly_denied": 1, "newly_allowed": 1
    }  # fmt: skip
    assert stored["preview"]["denied_tuples"] == 1
    publish_recommendation(duckdb_warehouse, sql, store, run.run_id)
    report = json.loads(store.get_bytes("recommendation/latest/report.json"))
    assert report["preview"] == stored["preview"]


def test_preview_off_and_bounded(duckdb_warehouse, sql, insert_flows):
    insert_flows(duckdb_warehouse, [DB, CACHE])
    run = run_policy_recommendation(
        duckdb_warehouse, sql, RecommendationRequest(window=WINDOW, options=Options.create())
    )
    with duckdb_warehouse.session() as session:
        assert load_run(session, sql, run.run_id)["preview"] is None
    assert _preview_rows(duckdb_warehouse, run.run_id) == []
    for bad in (-1, 91, True, "30"):
        with pytest.raises(ConfigurationError, match="preview_days"):
            run_policy_recommendation(
                duckdb_warehouse,
                sql,
                RecommendationRequest(window=WINDOW, options=Options.create(), preview_days=bad),
            )


def test_published_policies_carry_their_evidence_without_changing_the_diff(
    duckdb_warehouse, sql, insert_flows, tmp_path
):
    insert_flows(duckdb_warehouse, [DB, CACHE])
    store = LocalObjectStore(tmp_path / "results", create=True)
    options = Options.create()
    window = Window(END - dt.timedelta(days=30), END)
    first = run_policy_recommendation(
        duckdb_warehouse, sql, RecommendationRequest(window=window, options=options)
    )
    publish_recommendation(duckdb_warehouse, sql, store, first.run_id)
    insert_flows(duckdb_warehouse, [DB])  # more flows behind the same rules
    second = run_policy_recommendation(
        duckdb_warehouse, sql, RecommendationRequest(window=window, options=options)
    )
    assert second.diff["changed"] == [] and second.diff["added"] == []  # evidence is no change
    publish_recommendation(duckdb_warehouse, sql, store, second.run_id)
    text = store.get_bytes("recommendation/latest/policies.yaml").decode()
    docs = [d for d in yaml.safe_load_all(text) if d]
    web = allow_anp_name("shop", (("app", "web"),))
    allow = [d for d in docs if d["metadata"]["name"] == web]
    assert len(allow) == 1
    notes = allow[0]["metadata"]["annotations"]
    assert notes["theia.antrea.io/run-id"] == second.run_id
    assert notes["theia.antrea.io/window"] == (
        "2024-05-01T00:00:00+00:00/2024-05-31T00:00:00+00:00"
    )
    assert (notes["theia.antrea.io/flows"], notes["theia.antrea.io/bytes"]) == ("3", "3072")
    assert notes["theia.antrea.io/first-seen"] == "2024-05-11T00:00:00+00:00"
    assert notes["theia.antrea.io/last-seen"] == "2024-05-29T00:01:00+00:00"
    for doc in docs:  # every object says where it came from and is a valid policy
        assert doc["metadata"]["annotations"]["theia.antrea.io/run-id"] == second.run_id
        assert set(doc["metadata"]) <= {"name", "namespace", "annotations"}
    PolicySet(docs)
    # The warehouse keeps the rule text the self-check compiled, without the annotations.
    with duckdb_warehouse.session() as session:
        stored = session.fetch(
            Query(
                "t", "SELECT yaml FROM RECOMMENDED_POLICIES WHERE runId = :r", {"r": second.run_id}
            )
        )
    assert stored and all("annotations" not in r["yaml"] for r in stored)


def test_preview_and_verdict_diff_on_the_snowflake_dialect(
    fakesnow_warehouse, sql, insert_flows, tmp_path
):
    insert_flows(fakesnow_warehouse, [DB_EARLY, CACHE, DB, API])
    store = LocalObjectStore(tmp_path / "results", create=True)
    options = Options.create()
    earlier = run_policy_recommendation(
        fakesnow_warehouse, sql, RecommendationRequest(window=EARLIER, options=options)
    )
    publish_recommendation(fakesnow_warehouse, sql, store, earlier.run_id)
    run = run_policy_recommendation(
        fakesnow_warehouse,
        sql,
        RecommendationRequest(window=WINDOW, options=options, preview_days=30),
    )
    assert run.status == "succeeded"
    rows = {r["dst"]: r for r in _preview_rows(fakesnow_warehouse, run.run_id)}
    assert set(rows) == {'{"app":"cache"}', '{"app":"api"}'}
    cache, api = rows['{"app":"cache"}'], rows['{"app":"api"}']
    reject = f"ClusterNetworkPolicy//{reject_acnp_name('shop', (('app', 'web'),))}"
    assert (cache["denied"], cache["previous_denied"], cache["policy"]) == (True, False, reject)
    assert (api["denied"], api["previous_denied"], api["previous_policy"]) == (False, True, reject)
    assert (cache["flows"], cache["bytes"]) == (1, 1024)
    with fakesnow_warehouse.session() as session:
        stored = load_run(session, sql, run.run_id)
    assert stored["preview"]["verdicts"] == {
        "previous_run_id": earlier.run_id, "newly_denied": 1, "newly_allowed": 1
    }  # fmt: skip
    assert (stored["preview"]["tuples"], stored["preview"]["denied_tuples"]) == (3, 1)
    assert stored["preview"]["top_workloads"] == [
        {"workload": 'shop/{"app":"web"}', "denied_tuples": 1, "denied_flows": 1}
    ]
    # Snowflake returns NUMBER columns as Decimal: the report must still be JSON.
    publish_recommendation(fakesnow_warehouse, sql, store, run.run_id)
    report = json.loads(store.get_bytes("recommendation/latest/report.json"))
    assert report["preview"] == stored["preview"]
    assert report["flow_count"] == stored["flow_count"]
