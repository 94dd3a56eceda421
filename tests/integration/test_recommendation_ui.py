"""The Theia page's view of a run's evidence: a policy's rules with their peers, busiest first."""

from __future__ import annotations

import pytest
from test_recommendation_service import WINDOW, WORKED_EXAMPLE

from theia_sf.recommendation.model import Options
from theia_sf.recommendation.parameters import RecommendationRequest
from theia_sf.services.recommendation import run_policy_recommendation
from theia_sf.ui.views import InvalidRequestError, NotFoundError, TheiaViews

pytestmark = pytest.mark.integration


def test_a_policys_rules_list_their_peers_busiest_first(duckdb_warehouse, sql, insert_flows):
    busy = {**WORKED_EXAMPLE[2], "destinationIP": "198.51.100.4"}  # 443 too: same rule
    insert_flows(duckdb_warehouse, [*WORKED_EXAMPLE, busy, busy, busy])
    run = run_policy_recommendation(
        duckdb_warehouse, sql, RecommendationRequest(window=WINDOW, options=Options.create())
    )
    views = TheiaViews(duckdb_warehouse, sql)
    web = next(p for p in views.recommendation_run(run.run_id)["policies"] if p["rule_count"] == 3)
    found = views.recommendation_evidence(run.run_id, "NetworkPolicy", "shop", web["name"])
    first = found["rules"][0]
    assert (first["direction"], first["rule"], first["peer_count"]) == ("egress", 0, 2)
    assert [(p["peer"], p["flow_count"]) for p in first["peers"]] == [
        ("198.51.100.4/32", 3),
        ("93.184.216.34/32", 1),
    ]
    assert first["peers"][0]["first_seen"] <= first["peers"][0]["last_seen"]
    assert [r["rule"] for r in found["rules"]] == [0, 1, 2]
    one = views.recommendation_evidence(run.run_id, "NetworkPolicy", "shop", web["name"], top=1)
    assert [p["peer"] for p in one["rules"][0]["peers"]] == ["198.51.100.4/32"]
    assert one["rules"][0]["peer_count"] == 2
    with pytest.raises(InvalidRequestError, match="kind"):
        views.recommendation_evidence(run.run_id, "Pod", "shop", web["name"])
    with pytest.raises(InvalidRequestError, match="name"):
        views.recommendation_evidence(run.run_id, "NetworkPolicy", "shop", "x'; DROP")
    with pytest.raises(InvalidRequestError, match="top"):
        views.recommendation_evidence(run.run_id, "NetworkPolicy", "shop", web["name"], top=10**6)
    with pytest.raises(NotFoundError):
        views.recommendation_evidence("no-such-run", "NetworkPolicy", "shop", web["name"])
