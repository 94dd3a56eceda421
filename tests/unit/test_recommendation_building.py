"""Policy building: theia-sf's worked example (four flows in namespace shop) for the three
policy types, and each deliberate difference from theia-sf."""

from __future__ import annotations

import re

import pytest

from theia_sf.errors import ConfigurationError
from theia_sf.policyeval import PolicySet
from theia_sf.recommendation.building import build_recommendation, parse_labels
from theia_sf.recommendation.model import FlowTuple, Options
from theia_sf.recommendation.render import render_documents, render_manifest

WEB = '{"app":"web","pod-template-hash":"abc12"}'
F1 = FlowTuple(
    "shop", WEB, None, None, "shop", '{"app":"db","pod-template-hash":"zz"}', None, 5432, 6, 1
)
F2 = FlowTuple("shop", WEB, None, None, "kube-system", '{"k8s-app":"kube-dns"}',
               "kube-system/kube-dns:dns", 53, 17, 2)  # fmt: skip
F3 = FlowTuple("shop", WEB, None, "93.184.216.34", None, None, None, 443, 6, 3)
F4 = FlowTuple("shop", '{"app":"web","pod-template-hash":"def34"}', None, None, "shop",
               '{"app":"db"}', None, 5432, 6, 2)  # fmt: skip
EXAMPLE = [F1, F2, F3, F4]

# theia-sf's web allow ANP from that example, with our apiVersion and a stable name.
WEB_ANP = """\
apiVersion: crd.antrea.io/v1beta1
kind: NetworkPolicy
metadata:
  name: NAME
  namespace: shop
spec:
  appliedTo:
  - podSelector:
      matchLabels:
        app: web
  egress:
  - action: Allow
    ports:
    - port: 443
      protocol: TCP
    to:
    - ipBlock:
        cidr: 93.184.216.34/32
  - action: Allow
    toServices:
    - name: kube-dns
      namespace: kube-system
  - action: Allow
    ports:
    - port: 5432
      protocol: TCP
    to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: shop
      podSelector:
        matchLabels:
          app: db
  ingress: []
  priority: 5
  tier: Application
"""
WEB_REJECT = """\
apiVersion: crd.antrea.io/v1beta1
kind: ClusterNetworkPolicy
metadata:
  name: NAME
spec:
  appliedTo:
  - namespaceSelector:
      matchLabels:
        kubernetes.io/metadata.name: shop
    podSelector:
      matchLabels:
        app: web
  egress:
  - action: Reject
    to:
    - podSelector: {}
  ingress:
  - action: Reject
    from:
    - podSelector: {}
  priority: 5
  tier: Baseline
"""
NAME = re.compile(r"^recommend-[a-z0-9-]+$")


def build(tuples=EXAMPLE, **options):
    return build_recommendation(tuples, Options.create(**options))


def by_name(rec, prefix):
    return [p for p in rec.policies if p.name.startswith(prefix)]


def yaml_without_name(policy):
    return render_manifest(policy.manifest).replace(policy.name, "NAME")


def test_worked_example_anp_deny_applied():
    rec = build()
    kinds = [(p.kind, p.name.rsplit("-", 1)[0]) for p in rec.policies]
    assert kinds == [
        ("ClusterNetworkPolicy", "recommend-allow-acnp-kube-system"),
        ("ClusterNetworkPolicy", "recommend-allow-acnp-flow-aggregator"),
        ("ClusterNetworkPolicy", "recommend-allow-acnp-flow-visibility"),
        ("NetworkPolicy", "recommend-allow-anp"),  # shop/app=db
        ("ClusterNetworkPolicy", "recommend-reject-acnp"),
        ("NetworkPolicy", "recommend-allow-anp"),  # shop/app=web
        ("ClusterNetworkPolicy", "recommend-reject-acnp"),
    ]
    assert all(NAME.match(p.name) for p in rec.policies)
    db, db_reject, web, web_reject = rec.policies[3:]
    assert yaml_without_name(web) == WEB_ANP
    assert yaml_without_name(web_reject) == WEB_REJECT
    # db: no egress, one ingress rule from shop/app=web on 5432/TCP (F1 and F4 merged)
    assert db.manifest["spec"]["egress"] == []
    assert db.manifest["spec"]["ingress"] == [
        {
            "action": "Allow",
            "from": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}},
                    "podSelector": {"matchLabels": {"app": "web"}},
                }
            ],
            "ports": [{"port": 5432, "protocol": "TCP"}],
        }
    ]
    assert db_reject.manifest["spec"]["appliedTo"][0]["podSelector"] == {
        "matchLabels": {"app": "db"}
    }
    # kube-dns is in an allow-listed namespace: no per-workload policy for it
    assert not [p for p in rec.policies if p.namespace == "kube-system"]
    platform = rec.policies[0].manifest["spec"]
    assert platform["tier"] == "Platform"
    assert platform["appliedTo"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}
    ]


def test_worked_example_anp_deny_all():
    rec = build(policy_type="anp-deny-all")
    names = [p.name for p in rec.policies]
    assert "recommend-reject-all-acnp" in names
    assert not by_name(rec, "recommend-reject-acnp-")
    reject_all = by_name(rec, "recommend-reject-all-acnp")[0].manifest["spec"]
    assert reject_all["appliedTo"] == [{"namespaceSelector": {}, "podSelector": {}}]
    assert reject_all["tier"] == "Baseline"
    # the same allow policies as anp-deny-applied
    applied = build()
    assert [p.manifest for p in by_name(rec, "recommend-allow-anp-")] == [
        p.manifest for p in by_name(applied, "recommend-allow-anp-")
    ]


def test_worked_example_k8s_np():
    rec = build(policy_type="k8s-np")
    # Difference: no Antrea object at all in k8s-np mode (theia-sf still printed 3 ACNPs).
    assert {p.api_version for p in rec.policies} == {"networking.k8s.io/v1"}
    db, web = rec.policies
    assert web.manifest["spec"]["podSelector"] == {"matchLabels": {"app": "web"}}
    assert web.manifest["spec"]["policyTypes"] == ["Egress"]
    assert db.manifest["spec"]["policyTypes"] == ["Ingress"]
    egress = web.manifest["spec"]["egress"]
    assert [r["to"][0] for r in egress] == [
        {"ipBlock": {"cidr": "93.184.216.34/32"}},
        # Difference: peers by kubernetes.io/metadata.name (theia-sf used a "name" label);
        # services become their backend pods on the pod port.
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
         "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}},
         "podSelector": {"matchLabels": {"app": "db"}}},
    ]  # fmt: skip
    assert [r["ports"] for r in egress] == [
        [{"port": 443, "protocol": "TCP"}],
        [{"port": 53, "protocol": "UDP"}],
        [{"port": 5432, "protocol": "TCP"}],
    ]
    assert web.manifest["spec"]["ingress"] == []


@pytest.mark.parametrize("policy_type", ["anp-deny-applied", "anp-deny-all", "k8s-np"])
def test_worked_example_passes_the_self_check(policy_type):
    rec = build(policy_type=policy_type)
    assert PolicySet(p.manifest for p in rec.policies).violations(rec.flows) == []
    # F1 and F4 differ only in pod-template-hash (ignored): the self-check replays them once.
    assert len(rec.flows) == 3
    assert {f.source.labels for f in rec.flows} == {(("app", "web"),)}


def test_reference_k8s_name_label_would_fail_the_self_check():
    """theia-sf's K8s peers used namespaceSelector {name: ns}; namespaces rarely carry it."""
    rec = build(policy_type="k8s-np")
    manifests = [p.manifest for p in rec.policies]
    for m in manifests:
        for rule in m["spec"]["egress"]:
            for peer in rule["to"]:
                if "namespaceSelector" in peer:
                    ns = peer["namespaceSelector"]["matchLabels"].pop("kubernetes.io/metadata.name")
                    peer["namespaceSelector"]["matchLabels"]["name"] = ns
    assert PolicySet(manifests).violations(rec.flows)


def test_antrea_api_version_v1alpha1_on_request():
    rec = build(antrea_api_version="v1alpha1")
    assert {p.api_version for p in rec.policies} == {"crd.antrea.io/v1alpha1"}
    assert {p.manifest["apiVersion"] for p in rec.policies} == {"crd.antrea.io/v1alpha1"}


def test_names_are_stable_and_depend_only_on_the_applied_to_group():
    first = build()
    again = build(list(reversed(EXAMPLE)))
    assert [p.name for p in first.policies] == [p.name for p in again.policies]
    render = render_documents(render_manifest(p.manifest) for p in first.policies)
    assert render == render_documents(render_manifest(p.manifest) for p in again.policies)
    # Dropping web's flows does not rename db's policy.
    only_db = build([F4])
    db_name = by_name(only_db, "recommend-allow-anp-")[0].name
    assert db_name in [p.name for p in first.policies]
    # Different groups, different names.
    assert len({p.name for p in first.policies}) == len(first.policies)


def test_a_peer_gets_all_its_ports_in_one_rule_sorted():
    tuples = [
        FlowTuple("a", '{"app":"x"}', None, None, "b", '{"app":"y"}', None, port, proto, 1)
        for port, proto in [(9090, 6), (53, 17), (80, 6), (53, 6), (80, 6)]
    ]
    rec = build(tuples, policy_type="k8s-np")
    src = next(p for p in rec.policies if p.namespace == "a")
    (rule,) = src.manifest["spec"]["egress"]
    assert rule["ports"] == [
        {"port": 53, "protocol": "TCP"},
        {"port": 53, "protocol": "UDP"},
        {"port": 80, "protocol": "TCP"},
        {"port": 9090, "protocol": "TCP"},
    ]
    assert src.rule_count == 1


def test_peers_sharing_an_exact_port_set_share_one_rule_in_peer_order():
    """One rule per (direction, exact port set): peers seen on {80} share a rule, the peer seen
    on {80, 443} gets its own (merging it would admit 443 to the others)."""

    def row(dst_ip, port):
        return FlowTuple("a", '{"app":"x"}', None, dst_ip, None, None, None, port, 6, 3)

    rows = [row("203.0.113.9", 80), row("198.51.100.1", 80), row("10.0.0.5", 80),
            row("10.0.0.5", 443), row("192.0.2.7", 80), row("2001:db8::1", 80)]  # fmt: skip
    (anp,) = by_name(build(rows), "recommend-allow-anp-")
    egress = anp.manifest["spec"]["egress"]
    assert [([p["ipBlock"]["cidr"] for p in r["to"]], [p["port"] for p in r["ports"]])
            for r in egress] == [
        (["10.0.0.5/32"], [80, 443]),
        (["192.0.2.7/32", "198.51.100.1/32", "203.0.113.9/32", "2001:db8::1/128"], [80]),
    ]  # fmt: skip
    assert [(rp.direction, rp.rule, rp.position) for rp in anp.peers] == [
        ("egress", 0, 0), ("egress", 1, 0), ("egress", 1, 1), ("egress", 1, 2), ("egress", 1, 3)
    ]  # fmt: skip
    assert anp.rule_count == 2


def test_services_reached_from_one_group_share_one_to_services_rule():
    rows = [F2, F2._replace(svc_port_name="shop/api:http", dst_ns="shop", dst_port=8080)]
    anps = by_name(build(rows), "recommend-allow-anp-")
    (web,) = [p for p in anps if p.manifest["spec"]["egress"]]
    assert web.manifest["spec"]["egress"] == [
        {"action": "Allow", "toServices": [{"name": "kube-dns", "namespace": "kube-system"},
                                           {"name": "api", "namespace": "shop"}]}
    ]  # fmt: skip


def test_label_json_nested_a_thousand_levels_deep_is_skipped_and_counted():
    deep = '{"a":' * 5000 + '"x"' + "}" * 5000
    not_flat = '{"app":{"name":"web"}}'
    rec = build([
        FlowTuple("a", deep, None, None, "b", "{}", None, 80, 6, 1, 4),
        FlowTuple("a", "{}", None, None, "b", not_flat, None, 80, 6, 1, 2),
        F1,
    ])  # fmt: skip
    assert rec.skipped == {"invalid_labels": {"tuples": 2, "flows": 6}}
    assert rec.tuple_count == 3
    assert by_name(rec, "recommend-allow-anp-")


def test_from_external_becomes_an_ingress_ip_block_rule():
    rec = build([FlowTuple(None, None, "203.0.113.7", None, "shop", WEB, None, 8080, 6, 4)])
    (anp,) = by_name(rec, "recommend-allow-anp-")
    assert anp.manifest["spec"]["egress"] == []
    assert anp.manifest["spec"]["ingress"] == [
        {"action": "Allow", "from": [{"ipBlock": {"cidr": "203.0.113.7/32"}}],
         "ports": [{"port": 8080, "protocol": "TCP"}]}
    ]  # fmt: skip
    assert rec.skipped == {}


def test_ipv6_addresses_get_128_bit_blocks():
    rec = build([FlowTuple("a", "{}", None, "2001:DB8::1", None, None, None, 443, 6, 3)])
    (anp,) = by_name(rec, "recommend-allow-anp-")
    assert anp.manifest["spec"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "2001:db8::1/128"}}]


@pytest.mark.parametrize("raw", [None, "", "{}", "null", "'{}'", "  null  "])
def test_empty_or_null_labels_mean_no_labels(raw):
    assert parse_labels(raw) == ()
    rec = build([FlowTuple("a", raw, None, None, "b", raw, None, 80, 6, 1)])
    anp = by_name(rec, "recommend-allow-anp-")[0]
    assert anp.manifest["spec"]["appliedTo"] == [{"podSelector": {}}]
    assert any("empty selector" in w and anp.name in w for w in rec.warnings)


def test_single_quoted_label_json_is_accepted_like_theia_sf():
    assert parse_labels("{'app': 'web'}") == (("app", "web"),)


def test_sctp_is_supported_and_other_protocols_are_skipped_never_unknown():
    rec = build([
        FlowTuple("a", "{}", None, None, "b", "{}", None, 3868, 132, 1),
        FlowTuple("a", "{}", None, None, "b", "{}", None, 0, 1, 1),  # ICMP
        FlowTuple("a", "{}", None, None, "b", "{}", None, 80, None, 1),
    ], policy_type="k8s-np")  # fmt: skip
    text = render_documents(render_manifest(p.manifest) for p in rec.policies)
    assert "protocol: SCTP" in text
    assert "UNKNOWN" not in text
    assert rec.skipped == {"unsupported_protocol": {"tuples": 2, "flows": 2}}


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (FlowTuple("a", "{}", None, "10.0.0.1", None, None, None, 80, 6, 1), "destination_without_namespace"),
        (FlowTuple(None, None, None, "1.1.1.1", None, None, None, 80, 6, 3), "source_without_namespace"),
        (FlowTuple(None, None, "1.2.3.4", None, None, None, None, 80, 6, 4), "destination_without_namespace"),
        (FlowTuple(None, None, "not-an-ip", None, "b", "{}", None, 80, 6, 4), "invalid_ip"),
        (FlowTuple("a", "{}", None, None, "b", "{]", None, 80, 6, 1), "invalid_labels"),
        (FlowTuple("a", '{"bad key":"v"}', None, None, "b", "{}", None, 80, 6, 1), "invalid_labels"),
        (FlowTuple("a", "[1, 2]", None, None, "b", "{}", None, 80, 6, 1), "invalid_labels"),
        (FlowTuple("Bad_NS", "{}", None, None, "b", "{}", None, 80, 6, 1), "invalid_namespace"),
        (FlowTuple("a", "{}", None, None, "b", "{}", None, 0, 6, 1), "invalid_port"),
        (FlowTuple("a", "{}", None, None, "b", "{}", None, None, 17, 1), "invalid_port"),
        (FlowTuple("a", "{}", None, None, "b", "{}", None, 80, 6, None), "unknown_flow_type"),
    ],
)  # fmt: skip
def test_odd_tuples_are_skipped_by_reason_without_crashing(row, reason):
    rec = build([row._replace(flow_count=3)])
    assert rec.skipped == {reason: {"tuples": 1, "flows": 3}}
    assert rec.flows == ()
    assert rec.tuple_count == 1


def test_to_services_off_selects_backend_pods():
    rec = build([F2], to_services=False)
    (anp,) = by_name(rec, "recommend-allow-anp-")
    (rule,) = anp.manifest["spec"]["egress"]
    assert "toServices" not in rule
    assert rule["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert rule["ports"] == [{"port": 53, "protocol": "UDP"}]


def test_service_without_backend_namespace_still_gets_to_services():
    row = F2._replace(dst_ns=None, dst_labels=None)
    rec = build([row])
    (anp,) = by_name(rec, "recommend-allow-anp-")
    assert anp.manifest["spec"]["egress"] == [
        {"action": "Allow", "toServices": [{"name": "kube-dns", "namespace": "kube-system"}]}
    ]
    assert PolicySet(p.manifest for p in rec.policies).violations(rec.flows) == []


def test_label_ignore_list_and_ns_allow_list_are_options():
    rec = build([F1], label_ignore_list="", ns_allow_list="shop")
    assert [p.name.rsplit("-", 1)[0] for p in rec.policies] == ["recommend-allow-acnp-shop"]
    rec = build([F1], label_ignore_list="", ns_allow_list="")
    selectors = [p.manifest["spec"]["appliedTo"][0] for p in by_name(rec, "recommend-allow-anp-")]
    assert {"podSelector": {"matchLabels": {"app": "db", "pod-template-hash": "zz"}}} in selectors


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"policy_type": "anp"}, "policy_type"),
        ({"ns_allow_list": "kube-system,Not_A_Namespace"}, "ns_allow_list"),
        ({"label_ignore_list": "a b"}, "label_ignore_list"),
        ({"antrea_api_version": "v2"}, "antrea_api_version"),
    ],
)
def test_invalid_options_name_the_param(kwargs, param):
    with pytest.raises(ConfigurationError, match=param):
        Options.create(**kwargs)
