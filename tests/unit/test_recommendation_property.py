"""Property test: random flow sets give well-formed, self-consistent, deterministic output."""

from __future__ import annotations

import ipaddress
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from theia_sf.policyeval import PolicySet
from theia_sf.recommendation.building import build_recommendation
from theia_sf.recommendation.model import FlowTuple, Options, is_label_key, is_label_value
from theia_sf.recommendation.render import render_documents, render_manifests

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
ANTREA = {"crd.antrea.io/v1beta1", "crd.antrea.io/v1alpha1"}

namespaces = st.sampled_from(
    ["shop", "payments", "kube-system", "default", "a-b", None, "Bad_NS", ""]
)
label_values = st.sampled_from(["web", "db", "1", "on", "v1.2", "x_y", ""])
label_keys = st.sampled_from(
    ["app", "tier", "pod-template-hash", "app.kubernetes.io/name", "k8s-app"]
)
labels = st.one_of(
    st.dictionaries(label_keys, label_values, max_size=3).map(json.dumps),
    st.sampled_from([None, "", "null", "{}", "{not json", '{"bad key": "v"}', '\'{"app":"web"}\'']),
)
ips = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.sampled_from([None, "", "not-an-ip", "10.0.0.1"]),
)
services = st.sampled_from([None, "", "shop/api:http", "kube-system/kube-dns:dns", "malformed"])
rows = st.builds(
    FlowTuple,
    namespaces, labels, ips, ips, namespaces, labels, services,
    st.one_of(st.integers(0, 70000), st.none()),
    st.sampled_from([6, 17, 132, 1, 58, None]),
    st.sampled_from([1, 2, 3, 4, 5, None]),
    st.integers(1, 1000),
    st.integers(0, 10**9),
    st.integers(1_700_000_000, 1_700_100_000),
    st.integers(1_700_100_000, 1_700_200_000),
)  # fmt: skip
policy_types = st.sampled_from(["anp-deny-applied", "anp-deny-all", "k8s-np"])


def check_selector(selector):
    assert set(selector) <= {"matchLabels"}
    for k, v in selector.get("matchLabels", {}).items():
        assert is_label_key(k), k
        assert is_label_value(v), v


def check_peer(peer):
    assert peer
    if "ipBlock" in peer:
        assert set(peer) == {"ipBlock"}
        ipaddress.ip_network(peer["ipBlock"]["cidr"], strict=True)
        return
    assert set(peer) <= {"namespaceSelector", "podSelector"}
    for key in ("namespaceSelector", "podSelector"):
        if key in peer:
            check_selector(peer[key])


def check_ports(ports):
    assert ports
    for port in ports:
        assert 1 <= port["port"] <= 65535
        assert port["protocol"] in ("TCP", "UDP", "SCTP")


def check_well_formed(policy):
    m = policy.manifest
    assert set(m) == {"apiVersion", "kind", "metadata", "spec"}
    name = m["metadata"]["name"]
    assert len(name) <= 253
    assert DNS_SUBDOMAIN.match(name)
    assert name == policy.name
    if m["kind"] == "ClusterNetworkPolicy":
        assert "namespace" not in m["metadata"]
    else:
        assert NAMESPACE.match(m["metadata"]["namespace"])
    spec = m["spec"]
    if m["apiVersion"] in ANTREA:
        assert spec["tier"] in ("Platform", "Application", "Baseline")
        assert spec["priority"] == 5
        assert spec["appliedTo"]
        for applied in spec["appliedTo"]:
            check_peer(applied) if applied else None
        for direction, key in (("egress", "to"), ("ingress", "from")):
            for rule in spec[direction]:
                assert rule["action"] in ("Allow", "Reject")
                if "toServices" in rule:
                    assert direction == "egress"
                    assert set(rule) == {"action", "toServices"}
                    for svc in rule["toServices"]:
                        assert NAMESPACE.match(svc["name"])
                        assert NAMESPACE.match(svc["namespace"])
                    continue
                for peer in rule[key]:
                    check_peer(peer)
                if "ports" in rule:
                    check_ports(rule["ports"])
    else:
        assert m["apiVersion"] == "networking.k8s.io/v1"
        check_selector(spec["podSelector"])
        assert spec["policyTypes"]
        assert ("Egress" in spec["policyTypes"]) == bool(spec["egress"])
        assert ("Ingress" in spec["policyTypes"]) == bool(spec["ingress"])
        for direction, key in (("egress", "to"), ("ingress", "from")):
            for rule in spec[direction]:
                assert set(rule) == {key, "ports"}
                for peer in rule[key]:
                    check_peer(peer)
                check_ports(rule["ports"])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(rows, max_size=25),
    policy_types,
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_random_flows_give_sound_deterministic_policies(flows, policy_type, to_services, rnd):
    options = Options.create(policy_type=policy_type, to_services=to_services)
    rec = build_recommendation(flows, options)

    # Every accepted flow is allowed by the recommended set.
    assert PolicySet(p.manifest for p in rec.policies).violations(rec.flows) == []
    # Every tuple is either replayed or counted as skipped; tuples that differ only in ignored
    # labels are replayed once, so replayed flows are distinct and carry no ignored label.
    assert rec.tuple_count == len(flows)
    assert len(rec.flows) + rec.skipped_tuples <= len(flows)
    assert len(set(rec.flows)) == len(rec.flows)
    ignored = set(options.label_ignore_list)
    assert not any(k in ignored for f in rec.flows for e in f[:2] for k, _ in e.labels)
    # ...which is exact: the same flows with ignored labels added are allowed too.
    policy_set = PolicySet(p.manifest for p in rec.policies)
    assert policy_set.pod_label_keys().isdisjoint(ignored)
    tagged = [
        f._replace(**{
            side: e._replace(labels=tuple(sorted((*e.labels, ("pod-template-hash", "h1")))))
            for side, e in (("source", f.source), ("destination", f.destination))
            if e.namespace is not None
        })
        for f in rec.flows
    ]  # fmt: skip
    assert policy_set.violations(tagged) == []
    assert sum(v["flows"] for v in rec.skipped.values()) <= rec.flow_count

    for policy in rec.policies:
        check_well_formed(policy)
    assert len({p.key for p in rec.policies}) == len(rec.policies)
    if policy_type == "k8s-np":
        assert all(p.api_version == "networking.k8s.io/v1" for p in rec.policies)

    text = render_documents(render_manifests([p.manifest for p in rec.policies]))
    again = build_recommendation(list(flows), options)
    assert text == render_documents(render_manifests([p.manifest for p in again.policies]))
    shuffled = list(flows)
    rnd.shuffle(shuffled)
    other = build_recommendation(shuffled, options)
    assert text == render_documents(render_manifests([p.manifest for p in other.policies]))
    assert [p.evidence for p in other.policies] == [p.evidence for p in rec.policies]
    assert other.skipped == rec.skipped


# Tuples the builder accepts (few skipped ones), over a few namespaces and workloads, so that
# namespaces share peers and a dropped rule denies flows.
valid_rows = st.builds(
    FlowTuple,
    st.sampled_from(["shop", "payments", "kube-system", "db"]),
    st.sampled_from(['{"app":"web"}', '{"app":"api","tier":"x"}', "{}", None]),
    st.sampled_from(["198.51.100.7", "198.51.100.8", "2001:db8::9"]),
    st.sampled_from(["203.0.113.5", "203.0.113.6"]),
    st.sampled_from(["shop", "payments", "kube-system", "db"]),
    st.sampled_from(['{"app":"web"}', '{"app":"db"}', "{}"]),
    st.sampled_from([None, None, "shop/api:http", "db/pg:sql"]),
    st.sampled_from([53, 443, 5432]),
    st.sampled_from([6, 6, 17, 132]),
    st.sampled_from([1, 2, 3, 4]),
    st.integers(1, 1000),
    st.integers(0, 10**9),
    st.integers(1_700_000_000, 1_700_100_000),
    st.integers(1_700_100_000, 1_700_200_000),
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(valid_rows, valid_rows, valid_rows, rows), max_size=40),
    policy_types,
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_replaying_namespace_by_namespace_denies_what_the_whole_set_denies(
    flows, policy_type, to_services, rnd
):
    """The run replays each namespace's flows against the static policies and that
    namespace's own as soon as they are made. With rules dropped at random (so that flows are
    denied), it must deny exactly the directions the whole set denies."""
    from theia_sf.recommendation.building import collect
    from theia_sf.services.recommendation import _make_and_check, _Spool

    options = Options.create(policy_type=policy_type, to_services=to_services)
    collected = collect(flows, options)
    replayed = collected.replay_flows()
    made = collected.keyed_policies
    manifests = []

    def with_dropped_rules():
        for order, policy in made():
            spec = policy.manifest["spec"]
            for direction in ("egress", "ingress"):
                if spec.get(direction):
                    spec[direction] = [r for r in spec[direction] if rnd.random() < 0.6]
            manifests.append(policy.manifest)
            yield order, policy

    collected.keyed_policies = with_dropped_rules
    spool = _Spool()
    try:
        result = _make_and_check(collected, spool)
    finally:
        spool.close()
    verdicts = PolicySet(manifests).violations(replayed)
    denied = sum(not v.egress.allowed for v in verdicts) + sum(
        not v.ingress.allowed for v in verdicts
    )
    assert result.violations == denied
    assert result.unconfined_count == 0 and not result.ignored_keys
    pods = sum((f.source.namespace is not None) + (f.destination.namespace is not None)
               for f in replayed)  # fmt: skip
    assert result.replayed == pods


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(valid_rows, valid_rows, rows), max_size=40), policy_types, st.booleans())
def test_the_run_stores_what_building_and_rendering_at_once_give(flows, policy_type, to_services):
    """The run makes, renders and compiles policies one at a time and lets shared fragments
    go after their last use (see Collected.retire); the documents and evidence it spools are
    those of building every policy first and rendering them together."""
    from theia_sf.recommendation.building import collect
    from theia_sf.services.recommendation import _make_and_check, _Spool

    options = Options.create(policy_type=policy_type, to_services=to_services)
    expected = build_recommendation(flows, options)
    spool = _Spool()
    try:
        result = _make_and_check(collect(flows, options), spool)
        spooled = [row for _, row in spool.rows()]
    finally:
        spool.close()
    assert result.violations == 0
    assert [row[4] for row in spooled] == render_manifests([p.manifest for p in expected.policies])
    assert [row[11] for row in spooled] == [p.evidence_json for p in expected.policies]
