"""The evaluator's indexed rule lookup agrees with a plain scan of the rules.

``RuleIndex.first_match`` narrows the rules by peer address, namespace and Service, caches the
candidates per peer namespace, and inlines the port and pod-peer checks. This test generates
policies and flows and compares it with the definition: the first rule, in order, whose
appliedTo, Services, ports and peers all match (using the methods of Peer and PortSpec).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from theia_sf.policyeval import NS_NAME_LABEL, Endpoint, Flow, PolicySet

NAMESPACES = ["a", "b", "c"]
LABELS = [("app", "web"), ("app", "db"), ("tier", "x"), ("pod-template-hash", "h1")]
ADDRESSES = ["10.0.0.1", "10.0.0.2", "203.0.113.7", "2001:db8::1"]

labels = st.lists(st.sampled_from(LABELS), max_size=3, unique_by=lambda kv: kv[0])
selector = st.one_of(
    labels.map(lambda kv: {"matchLabels": dict(kv)} if kv else {}),
    st.builds(
        lambda key, op, values: {
            "matchExpressions": [{"key": key, "operator": op, "values": values}]
        },
        st.sampled_from(["app", "tier"]),
        st.sampled_from(["In", "NotIn"]),
        st.lists(st.sampled_from(["web", "db", "x"]), min_size=1, max_size=2),
    ),
)
namespace_selector = st.one_of(
    st.sampled_from(NAMESPACES).map(lambda ns: {"matchLabels": {NS_NAME_LABEL: ns}}),
    st.just({}),
    st.just({"matchLabels": {"team": "blue"}}),
)
peer = st.one_of(
    st.builds(lambda p: {"podSelector": p}, selector),
    st.builds(lambda n, p: {"namespaceSelector": n, "podSelector": p}, namespace_selector, selector),
    st.builds(lambda n: {"namespaceSelector": n}, namespace_selector),
    st.sampled_from(ADDRESSES).map(
        lambda ip: {"ipBlock": {"cidr": ip + ("/128" if ":" in ip else "/32")}}
    ),
    st.just({"ipBlock": {"cidr": "10.0.0.0/24", "except": ["10.0.0.2/32"]}}),
)
ports = st.one_of(
    st.none(),
    st.lists(
        st.builds(
            lambda port, proto: {"port": port, "protocol": proto},
            st.sampled_from([53, 80, 443]),
            st.sampled_from(["TCP", "UDP"]),
        ),
        min_size=1,
        max_size=2,
    ),
)


def rule(direction):
    key = "to" if direction == "egress" else "from"

    def make(action, peers, port_list, service):
        r = {"action": action}
        if service and direction == "egress":
            r["toServices"] = [{"name": "svc", "namespace": service}]
            return r
        if peers:
            r[key] = peers
        if port_list:
            r["ports"] = port_list
        return r

    return st.builds(
        make,
        st.sampled_from(["Allow", "Drop", "Pass"]),
        st.lists(peer, max_size=2),
        ports,
        st.one_of(st.none(), st.sampled_from(NAMESPACES)),
    )


def policy(index):
    def make(cluster, ns, applied, egress, ingress, priority):
        meta = {"name": f"p{index}"}
        kind = "ClusterNetworkPolicy" if cluster else "NetworkPolicy"
        if cluster:
            applied_to = [{"namespaceSelector": {}, "podSelector": applied}]
        else:
            meta["namespace"] = ns
            applied_to = [{"podSelector": applied}]
        return {
            "apiVersion": "crd.antrea.io/v1beta1",
            "kind": kind,
            "metadata": meta,
            "spec": {
                "appliedTo": applied_to,
                "egress": egress,
                "ingress": ingress,
                "priority": priority,
                "tier": "Application",
            },
        }

    return st.builds(
        make,
        st.booleans(),
        st.sampled_from(NAMESPACES),
        selector,
        st.lists(rule("egress"), max_size=4),
        st.lists(rule("ingress"), max_size=4),
        st.integers(1, 3),
    )


endpoint = st.one_of(
    st.builds(
        lambda ns, kv: Endpoint.pod(ns, dict(kv)), st.sampled_from(NAMESPACES), labels
    ),
    st.sampled_from(ADDRESSES).map(Endpoint.external),
)
flow = st.builds(
    lambda src, dst, port, proto, svc: Flow(src, dst, port, proto, svc),
    endpoint,
    endpoint,
    st.sampled_from([53, 80, 443]),
    st.sampled_from(["TCP", "UDP"]),
    st.one_of(st.none(), st.sampled_from(NAMESPACES).map(lambda ns: (ns, "svc"))),
)


def scan(index, applied, peer_ep, f, ns_labels, applied_ns_labels):
    """The definition of first match, with no index, cache or inlined check."""
    for r in index.rules:
        if r.applied_to is not None and not any(
            a.matches(applied, applied_ns_labels, applied.namespace) for a in r.applied_to
        ):
            continue
        if r.services is not None:
            if f.service in r.services:
                return r
            continue
        if r.ports is not None and not any(s.matches(f.port, f.protocol) for s in r.ports):
            continue
        if r.peers is None or any(
            p.matches(peer_ep, ns_labels, applied.namespace) for p in r.peers
        ):
            return r
    return None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 5), min_size=1, max_size=4).flatmap(
        lambda ids: st.tuples(*(policy(i) for i in range(len(ids))))
    ),
    st.lists(flow, min_size=1, max_size=12),
)
def test_indexed_first_match_agrees_with_a_plain_scan(manifests, flows):
    policies = PolicySet(manifests, namespace_labels={"b": {"team": "blue"}})
    for f in flows * 2:  # the second pass runs on the filled candidate caches
        for applied, peer_ep, egress in ((f.source, f.destination, True),
                                         (f.destination, f.source, False)):  # fmt: skip
            if applied.namespace is None:
                continue
            ns_labels = policies.namespace_labels(peer_ep.namespace) if peer_ep.namespace else None
            own = policies.namespace_labels(applied.namespace)
            for p in policies.policies:
                index = p.egress if egress else p.ingress
                if index is None:
                    continue
                expected = scan(index, applied, peer_ep, f, ns_labels, own)
                assert index.first_match(applied, peer_ep, f, ns_labels, own) is expected
