"""Approval before ``latest``: the run's own files first, ``latest`` only once approved; a
rejected run is recorded and is no later run's diff base (no Airflow here)."""

from __future__ import annotations

import datetime as dt

import pytest

from theia_sf.errors import TheiaError
from theia_sf.objectstore import LocalObjectStore
from theia_sf.recommendation.approval import Review, approval_request
from theia_sf.recommendation.model import Options
from theia_sf.recommendation.parameters import RecommendationRequest
from theia_sf.recommendation.runs import load_run
from theia_sf.services.recommendation import (
    approve_recommendation,
    publish_recommendation,
    reject_recommendation,
    request_approval,
    run_policy_recommendation,
)
from theia_sf.timewindow import Window

pytestmark = pytest.mark.integration

WINDOW = Window(dt.datetime(2024, 5, 1, tzinfo=dt.UTC), dt.datetime(2024, 5, 2, tzinfo=dt.UTC))
WEB = '{"app":"web"}'
FLOWS = [
    {"sourcePodNamespace": "shop", "sourcePodLabels": WEB, "destinationIP": "10.0.0.7",
     "destinationPodNamespace": "shop", "destinationPodLabels": '{"app":"db"}',
     "destinationTransportPort": 5432, "flowType": 1},
]  # fmt: skip
NEW_FLOW = {"sourcePodNamespace": "shop", "sourcePodLabels": WEB, "destinationIP": "1.1.1.1",
            "destinationTransportPort": 53, "protocolIdentifier": 17, "flowType": 3}  # fmt: skip
AT = dt.datetime(2024, 5, 2, 9, 30, tzinfo=dt.UTC)


def _run(warehouse, sql, store):
    run = run_policy_recommendation(
        warehouse, sql, RecommendationRequest(window=WINDOW, options=Options.create())
    )
    publish_recommendation(warehouse, sql, store, run.run_id, latest=False)
    return run.run_id


def _run_record(warehouse, sql, run_id):
    with warehouse.session(read_only=True) as session:
        return load_run(session, sql, run_id)


def test_latest_moves_only_on_approval(duckdb_warehouse, sql, insert_flows, tmp_path):
    store = LocalObjectStore(tmp_path / "results", create=True)
    insert_flows(duckdb_warehouse, FLOWS)
    first = _run(duckdb_warehouse, sql, store)
    # Published under the run's key, not as latest, until approved.
    assert store.get_bytes(f"recommendation/runs/{first}/policies.yaml")
    assert not (tmp_path / "results" / "recommendation" / "latest").exists()

    request = request_approval(duckdb_warehouse, sql, first, hours=24)
    assert _run_record(duckdb_warehouse, sql, first)["approval"] == "pending"
    assert f"recommendation/runs/{first}/policies.yaml" in request["body"]
    approve_recommendation(duckdb_warehouse, sql, store, first, Review(True, "alice", AT))
    approved = _run_record(duckdb_warehouse, sql, first)
    assert (approved["status"], approved["approval"], approved["reviewer"]) == (
        "succeeded", "approved", "alice"
    )  # fmt: skip
    assert dt.datetime.fromisoformat(approved["reviewed_at"]) == AT
    latest_yaml = store.get_bytes("recommendation/latest/policies.yaml")
    assert latest_yaml == store.get_bytes(f"recommendation/runs/{first}/policies.yaml")
    assert store.get_bytes("recommendation/latest/report.json") == store.get_bytes(
        f"recommendation/runs/{first}/report.json"
    )

    # A second run with a new flow changes a policy; its rejection leaves latest alone.
    insert_flows(duckdb_warehouse, [NEW_FLOW])
    second = _run(duckdb_warehouse, sql, store)
    assert store.get_bytes(f"recommendation/runs/{second}/policies.yaml") != latest_yaml
    request = request_approval(duckdb_warehouse, sql, second, hours=6)
    assert "1 changed" in request["body"] and "within 6 hours" in request["body"]
    reject_recommendation(duckdb_warehouse, sql, second, Review(False, "bob", AT))
    rejected = _run_record(duckdb_warehouse, sql, second)
    assert (rejected["status"], rejected["approval"], rejected["reviewer"]) == (
        "rejected", "rejected", "bob"
    )  # fmt: skip
    assert store.get_bytes("recommendation/latest/policies.yaml") == latest_yaml
    # A rejected run can no longer be approved, nor published.
    with pytest.raises(TheiaError, match="rejected"):
        approve_recommendation(duckdb_warehouse, sql, store, second, Review(True, "eve", AT))
    assert store.get_bytes("recommendation/latest/policies.yaml") == latest_yaml

    # The next run is diffed against the approved run, not the rejected one; nobody answers.
    third = _run(duckdb_warehouse, sql, store)
    assert _run_record(duckdb_warehouse, sql, third)["previous_run_id"] == first
    request_approval(duckdb_warehouse, sql, third, hours=1)
    reject_recommendation(duckdb_warehouse, sql, third, Review(False, None, AT, timed_out=True))
    timed_out = _run_record(duckdb_warehouse, sql, third)
    assert (timed_out["status"], timed_out["approval"], timed_out["reviewer"]) == (
        "rejected", "timed_out", None
    )  # fmt: skip
    assert store.get_bytes("recommendation/latest/policies.yaml") == latest_yaml


def test_the_first_answer_stays(duckdb_warehouse, sql, insert_flows, tmp_path):
    store = LocalObjectStore(tmp_path / "results", create=True)
    insert_flows(duckdb_warehouse, FLOWS)
    run_id = _run(duckdb_warehouse, sql, store)
    request_approval(duckdb_warehouse, sql, run_id, hours=24)
    approve_recommendation(duckdb_warehouse, sql, store, run_id, Review(True, "alice", AT))
    # A retried approval records nothing new and points latest at the same files.
    approve_recommendation(duckdb_warehouse, sql, store, run_id, Review(True, "mallory", AT))
    assert _run_record(duckdb_warehouse, sql, run_id)["reviewer"] == "alice"
    with pytest.raises(TheiaError, match="not approved"):
        approve_recommendation(duckdb_warehouse, sql, store, run_id, Review(False, "bob", AT))


def test_without_approval_latest_is_the_run_and_nothing_is_recorded(
    duckdb_warehouse, sql, insert_flows, tmp_path
):
    store = LocalObjectStore(tmp_path / "results", create=True)
    insert_flows(duckdb_warehouse, FLOWS)
    run_id = _run(duckdb_warehouse, sql, store)
    approve_recommendation(duckdb_warehouse, sql, store, run_id)
    record = _run_record(duckdb_warehouse, sql, run_id)
    assert (record["status"], record["approval"], record["reviewer"]) == ("succeeded", None, None)
    assert store.get_bytes("recommendation/latest/policies.yaml") == store.get_bytes(
        f"recommendation/runs/{run_id}/policies.yaml"
    )
    # The report is the run's, fixed before any answer: no approval columns in it.
    assert b'"approval"' not in store.get_bytes("recommendation/latest/report.json")


def test_approval_columns_on_the_snowflake_dialect(fakesnow_warehouse, sql, insert_flows):
    insert_flows(fakesnow_warehouse, FLOWS)
    run_id = run_policy_recommendation(
        fakesnow_warehouse, sql, RecommendationRequest(window=WINDOW, options=Options.create())
    ).run_id
    request_approval(fakesnow_warehouse, sql, run_id, hours=24)
    reject_recommendation(fakesnow_warehouse, sql, run_id, Review(False, "bob", AT))
    record = _run_record(fakesnow_warehouse, sql, run_id)
    assert (record["status"], record["approval"], record["reviewer"]) == (
        "rejected", "rejected", "bob"
    )  # fmt: skip


# --- what the approver reads -----------------------------------------------------------------

RUN = {
    "run_id": "0f8e2a44-1111-4222-8333-944455556666",
    "policy_type": "anp-deny-applied",
    "policy_count": 12,
    "tuple_count": 3456,
    "flow_count": 1_234_567,
    "window_start": "2024-05-01T00:00:00+00:00",
    "window_end": "2024-05-08T00:00:00+00:00",
    "warnings": ["empty selector"],
    "yaml_uri": "s3://results/recommendation/runs/0f8e2a44/policies.yaml",
    "report_uri": "s3://results/recommendation/runs/0f8e2a44/report.json",
    "diff": {
        "previous_run_id": "prev-run",
        "added": [f"NetworkPolicy/shop/recommend-allow-anp-{i}" for i in range(7)],
        "removed": ["ClusterNetworkPolicy//recommend-reject-acnp-old"],
        "changed": ["NetworkPolicy/shop/recommend-allow-anp-web"],
        "unchanged": 3,
    },
}
PREVIEW = {
    "days": 30,
    "window_start": "2024-04-08T00:00:00+00:00",
    "window_end": "2024-05-08T00:00:00+00:00",
    "tuples": 9000,
    "denied_tuples": 14,
    "denied_flows": 230,
    "denied_bytes": 1_200_000,
    "top_workloads": [{"workload": "shop/{app=batch}", "denied_tuples": 9, "denied_flows": 200}],
    "top_peers": [{"peer": "10.0.0.9/32", "denied_tuples": 5, "denied_flows": 30}],
    "verdicts": {"previous_run_id": "prev-run", "newly_denied": 4, "newly_allowed": 2},
}


def test_the_request_presents_the_diff_the_preview_and_the_yaml_uri():
    request = approval_request({**RUN, "preview": PREVIEW}, hours=24)
    assert request["subject"] == (
        "Publish policy recommendation 0f8e2a44? 12 policies: +7 added, -1 removed, ~1 changed"
    )
    body = request["body"]
    assert "**12 policies** from 3,456 distinct flow tuples (1,234,567 flows)" in body
    assert "2024-05-01 00:00 UTC to 2024-05-08 00:00 UTC" in body
    assert "Against run `prev-run`: 7 added, 1 removed, 1 changed, 3 unchanged." in body
    # The first names of each list, and how many more.
    assert "`NetworkPolicy/shop/recommend-allow-anp-4` and 2 more" in body
    assert "recommend-allow-anp-5`" not in body
    assert "- Removed: `ClusterNetworkPolicy//recommend-reject-acnp-old`" in body
    assert "- Changed: `NetworkPolicy/shop/recommend-allow-anp-web`" in body
    assert "last 30 days (2024-04-08 00:00 UTC to 2024-05-08 00:00 UTC)" in body
    assert "**denies 14 tuples** (230 flows, 1,200,000 bytes)" in body
    assert "`shop/{app=batch}` (9 tuples, 200 flows)" in body
    assert "`10.0.0.9/32` (5 tuples, 30 flows)" in body
    assert "4 tuples newly denied, 2 newly allowed" in body
    assert "1 warnings" in body
    assert "- Policies: s3://results/recommendation/runs/0f8e2a44/policies.yaml" in body
    assert "no answer within 24 hours" in body


def test_the_request_without_preview_or_previous_run_says_so():
    first = {**RUN, "diff": {"previous_run_id": None, "added": ["a/b/c"], "removed": [],
                             "changed": [], "unchanged": 0}}  # fmt: skip
    body = approval_request(first, hours=3)["body"]
    assert "No impact preview for this run." in body
    assert "every policy is new" in body
    assert "- Removed" not in body and "denies" not in body
    quiet = {**PREVIEW, "denied_tuples": 0, "denied_flows": 0, "verdicts": {}}
    body = approval_request({**RUN, "preview": quiet}, hours=3)["body"]
    assert "denies none of them" in body and "Most denied" not in body
