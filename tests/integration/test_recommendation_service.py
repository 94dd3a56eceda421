"""run_policy_recommendation / publish_recommendation on a DuckDB file (no Airflow)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from theia_sf.errors import ConfigurationError
from theia_sf.objectstore import LocalObjectStore
from theia_sf.recommendation.model import Options
from theia_sf.recommendation.parameters import RecommendationRequest
from theia_sf.recommendation.runs import load_run
from theia_sf.recommendation.shard import SelfCheckError
from theia_sf.services.recommendation import publish_recommendation, run_policy_recommendation
from theia_sf.timewindow import Window

pytestmark = pytest.mark.integration

WINDOW = Window(dt.datetime(2024, 5, 1, tzinfo=dt.UTC), dt.datetime(2024, 5, 2, tzinfo=dt.UTC))
WEB = '{"app":"web","pod-template-hash":"abc12"}'
CLUSTER = "8f4c0c8e-2b1e-4a4f-9a57-6f2a7a4b9d10"

WORKED_EXAMPLE = [
    {"sourcePodNamespace": "shop", "sourcePodLabels": WEB, "destinationIP": "10.0.0.7",
     "destinationPodNamespace": "shop", "destinationPodLabels": '{"app":"db","pod-template-hash":"zz"}',
     "destinationTransportPort": 5432, "flowType": 1},
    {"sourcePodNamespace": "shop", "sourcePodLabels": WEB, "destinationIP": "10.96.0.10",
     "destinationPodNamespace": "kube-system", "destinationPodLabels": '{"k8s-app":"kube-dns"}',
     "destinationServicePortName": "kube-system/kube-dns:dns", "destinationTransportPort": 53,
     "protocolIdentifier": 17, "flowType": 2},
    {"sourcePodNamespace": "shop", "sourcePodLabels": WEB, "destinationIP": "93.184.216.34",
     "destinationTransportPort": 443, "flowType": 3},
    {"sourcePodNamespace": "shop", "sourcePodLabels": '{"app":"web","pod-template-hash":"def34"}',
     "destinationIP": "10.0.0.7", "destinationPodNamespace": "shop",
     "destinationPodLabels": '{"app":"db"}', "destinationTransportPort": 5432, "flowType": 2},
]  # fmt: skip


def _policies(store, run_id):
    text = store.get_bytes(f"recommendation/runs/{run_id}/policies.yaml").decode()
    return [d for d in yaml.safe_load_all(text) if d]


def test_run_persists_publishes_and_diffs(duckdb_warehouse, sql, insert_flows, tmp_path):
    insert_flows(duckdb_warehouse, WORKED_EXAMPLE)
    store = LocalObjectStore(tmp_path / "results", create=True)
    options = Options.create()
    first = run_policy_recommendation(
        duckdb_warehouse, sql, RecommendationRequest(window=WINDOW, options=options)
    )
    assert first.status == "succeeded"
    assert first.tuple_count == 4
    assert first.policy_count == 3 + 4  # 3 namespace-allow ACNPs + (ANP + reject ACNP) x 2
    uris = publish_recommendation(duckdb_warehouse, sql, store, first.run_id)
    assert uris["yaml"].endswith(f"recommendation/runs/{first.run_id}/policies.yaml")
    docs = _policies(store, first.run_id)
    assert [d["kind"] for d in docs].count("NetworkPolicy") == 2
    latest = store.get_bytes("recommendation/latest/policies.yaml")
    assert latest == store.get_bytes(f"recommendation/runs/{first.run_id}/policies.yaml")
    report = json.loads(store.get_bytes("recommendation/latest/report.json"))
    assert report["run_id"] == first.run_id
    assert report["status"] == "succeeded"
    assert len(report["diff"]["added"]) == 7

    with duckdb_warehouse.session() as session:
        run = load_run(session, sql, first.run_id)
        assert run["tuple_count"] == 4
        assert run["yaml_uri"] == uris["yaml"]
        assert run["window_start"].startswith("2024-05-01T00:00:00")
        from theia_sf.sql import Query

        rows = session.fetch(
            Query(
                "t",
                "SELECT name, flowCount AS fc, bytes FROM RECOMMENDED_POLICIES "
                "WHERE runId = :r AND kind = 'NetworkPolicy' ORDER BY position",
                {"r": first.run_id},
            )
        )
        evidence = session.fetch(
            Query(
                "e",
                "SELECT name, direction, ruleIndex AS rule, peer, flowCount AS fc, bytes, "
                "firstSeen AS first, lastSeen AS last FROM RECOMMENDATION_EVIDENCE "
                "WHERE runId = :r ORDER BY name, direction, ruleIndex, peerIndex",
                {"r": first.run_id},
            )
        )
        staging = session.fetch(
            Query("s", "SELECT COUNT(*) AS n FROM RECOMMENDATION_TUPLES WHERE runId = :r",
                  {"r": first.run_id})
        )  # fmt: skip
    assert staging == [{"n": 0}]  # the run's reduction goes once the run is committed
    web = next(r for r in rows if r["fc"] == 4)
    assert web["bytes"] == 600
    web_peers = [e for e in evidence if e["name"] == web["name"]]
    assert [(e["direction"], e["rule"], e["peer"], e["fc"], e["bytes"]) for e in web_peers] == [
        ("egress", 0, "93.184.216.34/32", 1, 150),
        ("egress", 1, "service kube-system/kube-dns", 1, 150),
        ("egress", 2, "shop/{app=db}", 2, 300),  # F1 and F4: one peer once labels are ignored
    ]
    assert all(e["first"] is not None and e["first"] <= e["last"] for e in web_peers)
    db_peers = [e for e in evidence if e["name"] != web["name"]]
    assert [(e["direction"], e["peer"], e["fc"]) for e in db_peers] == [
        ("ingress", "shop/{app=web}", 2)
    ]

    # Second run, one new flow: its policy changes, nothing is added or removed.
    insert_flows(duckdb_warehouse, [
        {"sourcePodNamespace": "shop", "sourcePodLabels": WEB, "destinationIP": "1.1.1.1",
         "destinationTransportPort": 53, "protocolIdentifier": 17, "flowType": 3},
    ])  # fmt: skip
    second = run_policy_recommendation(
        duckdb_warehouse, sql, RecommendationRequest(window=WINDOW, options=options)
    )
    assert second.diff["previous_run_id"] == first.run_id
    assert second.diff["added"] == []
    assert second.diff["removed"] == []
    assert len(second.diff["changed"]) == 1
    assert second.diff["changed"][0].startswith("NetworkPolicy/shop/recommend-allow-anp-")

    # Different parameters: not compared with the first two runs.
    third = run_policy_recommendation(
        duckdb_warehouse,
        sql,
        RecommendationRequest(window=WINDOW, options=Options.create(policy_type="k8s-np")),
    )
    assert third.diff["previous_run_id"] is None
    assert third.policy_count == 2


def test_empty_window_gives_static_policies_and_log(duckdb_warehouse, sql, caplog):
    caplog.set_level("INFO")
    summary = run_policy_recommendation(
        duckdb_warehouse,
        sql,
        RecommendationRequest(window=WINDOW, options=Options.create(policy_type="anp-deny-all")),
    )
    assert summary.status == "succeeded"
    assert summary.tuple_count == 0
    assert summary.policy_count == 4  # three namespace-allow ACNPs + reject-all
    assert "no unprotected flows in the window" in caplog.text


def test_window_cluster_and_protection_filters(duckdb_warehouse, sql, insert_flows):
    base = {
        "sourcePodNamespace": "a",
        "destinationPodNamespace": "b",
        "destinationTransportPort": 80,
    }
    insert_flows(duckdb_warehouse, [
        {**base, "clusterUUID": CLUSTER},
        {**base, "clusterUUID": "00000000-0000-0000-0000-000000000000", "destinationTransportPort": 81},
        {**base, "ingressNetworkPolicyName": "np", "destinationTransportPort": 82},
        {**base, "egressNetworkPolicyName": "np", "destinationTransportPort": 83},
        # record ending exactly at the window end is outside the half-open window
        {**base, "flowEndSeconds": WINDOW.end, "destinationTransportPort": 84},
        {**base, "flowEndSeconds": WINDOW.start, "destinationTransportPort": 85},
    ])  # fmt: skip
    options = Options.create(policy_type="k8s-np")
    everything = run_policy_recommendation(
        duckdb_warehouse, sql, RecommendationRequest(window=WINDOW, options=options)
    )
    assert everything.tuple_count == 3  # ports 80, 81, 85
    one = run_policy_recommendation(
        duckdb_warehouse,
        sql,
        RecommendationRequest(window=WINDOW, options=options, cluster_uuid=CLUSTER),
    )
    assert one.tuple_count == 1
    limited = run_policy_recommendation(
        duckdb_warehouse, sql, RecommendationRequest(window=WINDOW, options=options, limit=2)
    )
    assert limited.tuple_count == 2


def test_odd_flows_are_skipped_and_counted(duckdb_warehouse, sql, insert_flows):
    insert_flows(duckdb_warehouse, [
        # intra-cluster destination without a namespace (e.g. a node IP)
        {"sourcePodNamespace": "a", "destinationIP": "10.0.0.1", "destinationTransportPort": 10250},
        # ICMP
        {"sourcePodNamespace": "a", "destinationPodNamespace": "b", "protocolIdentifier": 1,
         "destinationTransportPort": 0},
        # null / empty labels and IPv6 from outside the cluster: accepted
        {"sourceIP": "2001:db8::1", "destinationPodNamespace": "b", "destinationPodLabels": "null",
         "destinationTransportPort": 443, "flowType": 4},
        {"sourcePodNamespace": "a", "sourcePodLabels": "", "destinationPodNamespace": "b",
         "destinationPodLabels": "{}", "destinationTransportPort": 80, "protocolIdentifier": 132},
        # garbage labels
        {"sourcePodNamespace": "a", "sourcePodLabels": "{not json", "destinationPodNamespace": "b",
         "destinationTransportPort": 80},
    ])  # fmt: skip
    summary = run_policy_recommendation(
        duckdb_warehouse, sql, RecommendationRequest(window=WINDOW, options=Options.create())
    )
    assert summary.skipped == {
        "destination_without_namespace": {"tuples": 1, "flows": 1},
        "invalid_labels": {"tuples": 1, "flows": 1},
        "unsupported_protocol": {"tuples": 1, "flows": 1},
    }
    assert any("empty selector" in w for w in summary.warnings)


def test_bad_parameters_are_refused_before_any_work(duckdb_warehouse, sql):
    with pytest.raises(ConfigurationError, match="cluster_uuid"):
        run_policy_recommendation(
            duckdb_warehouse,
            sql,
            RecommendationRequest(window=WINDOW, options=Options.create(), cluster_uuid="nope"),
        )
    with pytest.raises(ConfigurationError, match="limit"):
        run_policy_recommendation(
            duckdb_warehouse,
            sql,
            RecommendationRequest(window=WINDOW, options=Options.create(), limit=-1),
        )


def test_self_check_failure_fails_the_run(duckdb_warehouse, sql, insert_flows, monkeypatch):
    import theia_sf.services.recommendation as service

    insert_flows(duckdb_warehouse, WORKED_EXAMPLE)
    real = service.collect

    def broken(tuples, options, **partition):
        # Drop every allow policy: the reject ACNPs then block the observed flows.
        collected = real(tuples, options, **partition)
        policies = collected.keyed_policies
        collected.keyed_policies = lambda: (
            (order, p) for order, p in policies() if "allow-anp" not in p.name
        )
        return collected

    monkeypatch.setattr(service, "collect", broken)
    with pytest.raises(SelfCheckError, match="would be denied"):
        run_policy_recommendation(
            duckdb_warehouse,
            sql,
            RecommendationRequest(window=WINDOW, options=Options.create()),
            run_id="11111111-1111-1111-1111-111111111111",
        )
    with duckdb_warehouse.session() as session:
        run = load_run(session, sql, "11111111-1111-1111-1111-111111111111")
    assert run["status"] == "failed"
    assert "self-check failed" in run["error"]


@pytest.mark.parametrize("shards", [1, 2])
def test_policy_reaching_outside_its_namespace_fails_the_self_check(
    duckdb_warehouse, sql, insert_flows, monkeypatch, shards
):
    """Each shard replays only the flows of its own namespaces, which is exact only while
    no recommended policy applies to pods elsewhere: a builder whose reject ACNPs selected
    pods in every namespace must fail the run, whatever the number of shards."""
    import theia_sf.services.recommendation as service

    insert_flows(duckdb_warehouse, WORKED_EXAMPLE)
    real = service.collect

    def any_namespace(tuples, options, **partition):
        collected = real(tuples, options, **partition)
        policies = collected.keyed_policies

        def widened():
            for order, policy in policies():
                if order[0] == 1 and policy.kind == "ClusterNetworkPolicy":
                    policy.manifest["spec"]["appliedTo"][0]["namespaceSelector"] = {}
                yield order, policy

        collected.keyed_policies = widened
        return collected

    monkeypatch.setattr(service, "collect", any_namespace)
    run_id = "33333333-3333-3333-3333-33333333333" + str(shards)
    with pytest.raises(SelfCheckError, match=r"outside the namespace .*recommend-reject-"):
        run_policy_recommendation(duckdb_warehouse, sql, RecommendationRequest(window=WINDOW, options=Options.create(), shards=shards), run_id=run_id)  # fmt: skip
    with duckdb_warehouse.session() as session:
        run = load_run(session, sql, run_id)
    assert run["status"] == "failed"
    assert "outside the namespace" in run["error"]


def test_selector_on_an_ignored_label_fails_the_self_check(
    duckdb_warehouse, sql, insert_flows, monkeypatch
):
    """The replay drops ignored labels, which is exact only while no selector reads them: a
    builder that kept pod-template-hash in its selectors must fail the run, not pass it."""
    import theia_sf.recommendation.reduction as reduction
    import theia_sf.services.recommendation as service

    insert_flows(duckdb_warehouse, WORKED_EXAMPLE)
    real = service.collect

    def keeps_ignored_labels(tuples, options, **partition):
        collected = real(tuples, Options.create(label_ignore_list=""), **partition)
        collected.options = options  # the run still declares the default ignore list
        return collected

    monkeypatch.setattr(service, "collect", keeps_ignored_labels)
    # The reduction would drop pod-template-hash before the builder sees it: not here.
    monkeypatch.setattr(reduction, "label_strip_patterns", lambda ignore: None)
    run_id = "22222222-2222-2222-2222-222222222222"
    with pytest.raises(SelfCheckError, match=r"ignored label keys \['pod-template-hash'\]"):
        run_policy_recommendation(
            duckdb_warehouse,
            sql,
            RecommendationRequest(window=WINDOW, options=Options.create()),
            run_id=run_id,
        )
    with duckdb_warehouse.session() as session:
        run = load_run(session, sql, run_id)
    assert run["status"] == "failed"


def _stored(warehouse, run_id):
    from theia_sf.sql import Query

    with warehouse.session() as session:
        return session.fetch_rows(
            Query(
                "p",
                "SELECT position, name, yamlSha256 FROM RECOMMENDED_POLICIES "
                "WHERE runId = :run_id ORDER BY position",
                {"run_id": run_id},
            )
        )[1]


def test_a_failure_when_committing_keeps_nothing_of_the_run(
    duckdb_warehouse, sql, insert_flows, monkeypatch
):
    import theia_sf.recommendation.runs as runs

    insert_flows(duckdb_warehouse, WORKED_EXAMPLE)
    real = runs.finish_run

    def fails_at_the_end(session, sql, run_id, status, **values):
        if status == "succeeded":
            raise OSError("disk full")
        real(session, sql, run_id, status, **values)

    monkeypatch.setattr(runs, "finish_run", fails_at_the_end)
    run_id = "55555555-5555-5555-5555-555555555555"
    with pytest.raises(OSError, match="disk full"):
        run_policy_recommendation(
            duckdb_warehouse,
            sql,
            RecommendationRequest(window=WINDOW, options=Options.create()),
            run_id=run_id,
        )
    with duckdb_warehouse.session() as session:
        run = load_run(session, sql, run_id)
    assert run["status"] == "failed"
    assert _stored(duckdb_warehouse, run_id) == []


def test_the_published_report_describes_itself(duckdb_warehouse, sql, insert_flows, tmp_path):
    """report.json names its own publication: when, and the URIs of the YAML and itself; and
    lists each rule's peers with their evidence, busiest first."""
    insert_flows(duckdb_warehouse, WORKED_EXAMPLE)
    store = LocalObjectStore(tmp_path / "results", create=True)
    run = run_policy_recommendation(
        duckdb_warehouse, sql, RecommendationRequest(window=WINDOW, options=Options.create())
    )
    uris = publish_recommendation(duckdb_warehouse, sql, store, run.run_id)
    for key in (
        f"recommendation/runs/{run.run_id}/report.json",
        "recommendation/latest/report.json",
    ):
        report = json.loads(store.get_bytes(key))
        assert report["yaml_uri"] == uris["yaml"]
        assert report["report_uri"] == uris["report"]
        assert dt.datetime.fromisoformat(report["published_at"]).tzinfo is not None
    with duckdb_warehouse.session() as session:
        stored = load_run(session, sql, run.run_id)
    assert (stored["yaml_uri"], stored["report_uri"]) == (uris["yaml"], uris["report"])
    assert stored["published_at"] == report["published_at"]
    web = next(p for p in report["policies"] if len(p["rules"]) == 3)
    assert [(r["direction"], r["peer_count"], [x["peer"] for x in r["peers"]])
            for r in web["rules"]] == [
        ("egress", 1, ["93.184.216.34/32"]),
        ("egress", 1, ["service kube-system/kube-dns"]),
        ("egress", 1, ["shop/{app=db}"]),
    ]  # fmt: skip
    assert web["rules"][2]["peers"][0]["flow_count"] == 2


def test_external_peers_compacted_into_wider_blocks_are_reported(
    duckdb_warehouse, sql, insert_flows, tmp_path
):
    to = [{**WORKED_EXAMPLE[2], "destinationIP": ip} for ip in ("203.0.113.5", "203.0.113.9")]
    six = {**WORKED_EXAMPLE[2], "destinationIP": "2001:db8::7"}
    insert_flows(duckdb_warehouse, [*to, six])
    options = Options.create(external_ipv4_prefix=24, external_ipv6_prefix=120)
    run = run_policy_recommendation(
        duckdb_warehouse, sql, RecommendationRequest(window=WINDOW, options=options)
    )
    store = LocalObjectStore(tmp_path / "results", create=True)
    publish_recommendation(duckdb_warehouse, sql, store, run.run_id)
    (anp,) = [d for d in _policies(store, run.run_id) if d["kind"] == "NetworkPolicy"]
    assert anp["spec"]["egress"][0]["to"] == [
        {"ipBlock": {"cidr": "203.0.113.0/24"}},
        {"ipBlock": {"cidr": "2001:db8::/120"}},
    ]
    report = json.loads(store.get_bytes("recommendation/latest/report.json"))
    assert report["widened_blocks"] == [
        {"cidr": "2001:db8::/120", "seen": 1, "unseen": 255},
        {"cidr": "203.0.113.0/24", "seen": 2, "unseen": 254},
    ]
    assert report["parameters"]["external_ipv4_prefix"] == 24
    # Without compaction the parameters (and so the diff chain) are those of earlier runs.
    assert "external_ipv4_prefix" not in Options.create().to_record()


def test_label_json_nested_deeper_than_a_parser_goes_is_skipped_and_counted(
    duckdb_warehouse, sql, insert_flows
):
    """One flow whose labels nest 2,000 levels (or are not a flat string map) is counted as
    skipped; the run succeeds with the other flows' policies."""
    deep = '{"a":' * 2000 + '"x"' + "}" * 2000
    odd = [
        {**WORKED_EXAMPLE[0], "sourcePodLabels": deep},
        {**WORKED_EXAMPLE[0], "destinationPodLabels": '{"app":["db"]}'},
    ]
    insert_flows(duckdb_warehouse, [*WORKED_EXAMPLE, *odd])
    run = run_policy_recommendation(
        duckdb_warehouse, sql, RecommendationRequest(window=WINDOW, options=Options.create())
    )
    assert run.status == "succeeded"
    assert run.skipped == {"invalid_labels": {"tuples": 2, "flows": 2}}
    assert run.policy_count == 7
