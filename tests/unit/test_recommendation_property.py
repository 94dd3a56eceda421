"""Property test: random flow sets give well-formed, self-consistent, deterministic output."""

from __future__ import annotations

import ipaddress
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from theia_sf.identifiers import is_label_key, is_label_value
from theia_sf.policyeval import Flow, PolicySet
from theia_sf.recommendation.building import build_recommendation
from theia_sf.recommendation.model import FlowTuple, Options
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
    assert [p.peers for p in other.policies] == [p.peers for p in rec.policies]
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


def one_rule_per_peer(collected):
    """The run's manifests in the shape before rules were merged per port set: each group's
    allow policy with one rule per peer, carrying the ports that peer was seen on."""
    from theia_sf.recommendation.building import _rule

    antrea = collected.options.policy_type != "k8s-np"
    out = []
    for (kind, ns, labels, n), policy in collected.keyed_policies():
        manifest = json.loads(json.dumps(policy.manifest))
        if kind == 1 and n == 0:
            group = collected.groups[(ns, labels)]
            for direction, key in (("egress", "to"), ("ingress", "from")):
                peers = getattr(group, direction)
                manifest["spec"][direction] = [
                    _rule(tuple(sorted(collected.cell_ports[peers[peer]])), [peer], key, antrea)
                    for peer in sorted(peers)
                ]
        out.append(manifest)
    return out


def probes(flows, rnd):
    """The observed flows, and flows made by recombining their ends, ports and Services (most
    of which were never observed, so some rule must deny them)."""
    ends = list(dict.fromkeys(e for f in flows for e in f[:2]))
    ports = [*dict.fromkeys((f.port, f.protocol) for f in flows), (8443, "TCP")]
    services = [*dict.fromkeys(f.service for f in flows if f.service), None]
    made = list(flows)
    for _ in range(60 if ends else 0):
        port, protocol = rnd.choice(ports)
        made.append(Flow(rnd.choice(ends), rnd.choice(ends), port, protocol, rnd.choice(services)))
    return made


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(valid_rows, valid_rows, valid_rows, rows), max_size=40),
    policy_types,
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_rules_merged_per_port_set_admit_exactly_what_one_rule_per_peer_admits(
    flows, policy_type, to_services, rnd
):
    """Every peer of a merged rule was seen on each of its ports, so the merged set admits
    exactly the flows its one-rule-per-peer expansion admits, direction by direction, for
    observed flows and for recombined ones alike."""
    from theia_sf.recommendation.building import collect

    options = Options.create(policy_type=policy_type, to_services=to_services)
    rec = build_recommendation(flows, options)
    merged = PolicySet(p.manifest for p in rec.policies)
    expanded = PolicySet(one_rule_per_peer(collect(flows, options)))
    for flow in probes(rec.flows, rnd):
        a, b = merged.evaluate(flow), expanded.evaluate(flow)
        assert (a.egress.allowed, a.ingress.allowed) == (b.egress.allowed, b.ingress.allowed), flow
    # No rule is split further: peers of one direction have distinct port sets across rules.
    for policy in rec.policies:
        for direction in ("egress", "ingress"):
            port_sets = [
                json.dumps(r.get("ports")) for r in policy.manifest["spec"].get(direction) or []
            ]
            if policy.name.startswith(("recommend-allow-anp", "recommend-k8s-np")):
                assert len(port_sets) == len(set(port_sets))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.one_of(valid_rows, valid_rows, rows), max_size=40),
    policy_types,
    st.booleans(),
    st.sets(st.sampled_from(["shop", "payments", "kube-system", "db", "a-b", "default"])),
)
def test_shards_of_a_run_add_up_to_the_whole_run(flows, policy_type, to_services, first_shard):
    """Two shards (any split of the namespaces) make the whole run's policies, in its order,
    and count its tuples and skips exactly once."""
    from theia_sf.recommendation.building import collect

    options = Options.create(policy_type=policy_type, to_services=to_services)
    whole = collect(flows, options)
    every = {ns for f in flows for ns in (f.src_ns, f.dst_ns) if ns}
    parts = [
        collect(flows, options, owned=every & first_shard, counts_orphans=True),
        collect(flows, options, owned=every - first_shard, counts_orphans=False),
    ]
    merged = sorted(kp for part in parts for kp in part.keyed_policies())
    assert [p for _, p in merged] == whole.policies()
    assert sum(p.tuple_count for p in parts) == whole.tuple_count == len(flows)
    assert sum(p.flow_count for p in parts) == whole.flow_count
    skipped = {}
    for part in parts:
        for reason, counts in part.skipped.items():
            total = skipped.setdefault(reason, {"tuples": 0, "flows": 0})
            total["tuples"] += counts["tuples"]
            total["flows"] += counts["flows"]
    assert skipped == whole.skipped
