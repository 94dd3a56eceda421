"""The policy evaluator: Kubernetes NetworkPolicy and Antrea ANP/ACNP semantics."""

from __future__ import annotations

import pytest

from theia_sf.policyeval import Endpoint, Flow, PolicyError, PolicySet

WEB = Endpoint.pod("shop", {"app": "web", "pod-template-hash": "x"})
DB = Endpoint.pod("shop", {"app": "db"})
OTHER_DB = Endpoint.pod("other", {"app": "db"})
OUTSIDE = Endpoint.external("203.0.113.7")
ANTREA = "crd.antrea.io/v1beta1"


def k8s(ns, selector, egress=None, ingress=None, types=None, name="np"):
    spec = {"podSelector": selector}
    if egress is not None:
        spec["egress"] = egress
    if ingress is not None:
        spec["ingress"] = ingress
    if types is not None:
        spec["policyTypes"] = types
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}  # fmt: skip


def anp(ns, applied, egress=(), ingress=(), tier="Application", priority=5, name="anp"):
    return {"apiVersion": ANTREA, "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"appliedTo": applied, "egress": list(egress), "ingress": list(ingress),
                     "tier": tier, "priority": priority}}  # fmt: skip


def acnp(applied, egress=(), ingress=(), tier="Application", priority=5, name="acnp"):
    return {"apiVersion": ANTREA, "kind": "ClusterNetworkPolicy", "metadata": {"name": name},
            "spec": {"appliedTo": applied, "egress": list(egress), "ingress": list(ingress),
                     "tier": tier, "priority": priority}}  # fmt: skip


def ns_sel(ns):
    return {"matchLabels": {"kubernetes.io/metadata.name": ns}}


TCP5432 = [{"port": 5432, "protocol": "TCP"}]
FLOW = Flow(WEB, DB, 5432, "TCP")


def allowed(policies, flow=FLOW, **kw):
    return PolicySet(policies, **kw).evaluate(flow).allowed


def test_no_policies_allow_everything():
    verdict = PolicySet([]).evaluate(FLOW)
    assert verdict.allowed
    assert verdict.egress.reason == verdict.ingress.reason == "default"


def test_k8s_policy_isolates_selected_pods_and_allows_matching_rules():
    isolate_db = k8s("shop", {"matchLabels": {"app": "db"}}, ingress=[])
    assert not allowed([isolate_db])
    verdict = PolicySet([isolate_db]).evaluate(FLOW)
    assert verdict.egress.allowed
    assert verdict.ingress.reason == "isolated"
    allow = k8s("shop", {"matchLabels": {"app": "db"}}, name="allow", ingress=[
        {"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": TCP5432}])  # fmt: skip
    assert allowed([isolate_db, allow])  # union of policies
    assert not allowed([isolate_db, allow], Flow(WEB, DB, 5433, "TCP"))
    assert not allowed([isolate_db, allow], Flow(WEB, DB, 5432, "UDP"))


def test_k8s_bare_pod_selector_peer_is_limited_to_the_policy_namespace():
    policy = k8s("shop", {}, ingress=[{"from": [{"podSelector": {}}]}])
    assert allowed([policy])
    other = Endpoint.pod("other", {"app": "web"})
    assert not allowed([policy], Flow(other, DB, 5432))


def test_k8s_namespace_selector_uses_namespace_labels():
    by_name = k8s(
        "shop", {}, ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"name": "shop"}}}]}]
    )
    assert not allowed([by_name])  # namespaces carry kubernetes.io/metadata.name only
    assert allowed([by_name], namespace_labels={"shop": {"name": "shop"}})
    by_meta = k8s("shop", {}, ingress=[{"from": [{"namespaceSelector": ns_sel("shop")}]}])
    assert allowed([by_meta])


def test_k8s_policy_types_default_and_egress():
    egress_only = k8s("shop", {"matchLabels": {"app": "web"}}, egress=[], types=["Egress"])
    assert not allowed([egress_only])
    assert PolicySet([egress_only]).evaluate(FLOW).ingress.reason == "default"
    ingress_default = k8s("shop", {"matchLabels": {"app": "web"}}, egress=[])
    # no policyTypes and an egress section: both directions are isolated
    assert not allowed([ingress_default])


def test_ip_block_with_except_and_ipv6():
    policy = k8s("shop", {"matchLabels": {"app": "db"}}, ingress=[{"from": [
        {"ipBlock": {"cidr": "203.0.113.0/24", "except": ["203.0.113.7/32"]}},
        {"ipBlock": {"cidr": "2001:db8::/32"}}]}])  # fmt: skip
    assert not allowed([policy], Flow(OUTSIDE, DB, 80))
    assert allowed([policy], Flow(Endpoint.external("203.0.113.8"), DB, 80))
    assert allowed([policy], Flow(Endpoint.external("2001:DB8::5"), DB, 80))
    assert not allowed([policy], Flow(Endpoint.external("2001:db9::5"), DB, 80))
    exact = k8s("shop", {"matchLabels": {"app": "db"}}, ingress=[{"from": [
        {"ipBlock": {"cidr": "2001:db8::1/128"}}]}])  # fmt: skip
    assert allowed([exact], Flow(Endpoint.external("2001:db8:0::1"), DB, 80))
    assert allowed([exact], Flow(Endpoint.external("2001:DB8::1"), DB, 80))
    assert allowed([exact], Flow(Endpoint.external("2001:db8::1"), DB, 80))
    assert not allowed([exact], Flow(Endpoint.external("2001:db8::2"), DB, 80))


def test_ports_ranges_and_default_protocol():
    policy = k8s("shop", {}, ingress=[{"ports": [{"port": 5000, "endPort": 6000}]}])
    assert allowed([policy])
    assert not allowed([policy], Flow(WEB, DB, 6001))
    assert not allowed([policy], Flow(WEB, DB, 5432, "UDP"))


def test_match_expressions():
    policy = k8s("shop", {"matchExpressions": [{"key": "app", "operator": "In", "values": ["db"]}]},
                 ingress=[{"from": [{"podSelector": {"matchExpressions": [
                     {"key": "app", "operator": "NotIn", "values": ["db"]},
                     {"key": "pod-template-hash", "operator": "Exists"}]}}]}])  # fmt: skip
    assert allowed([policy])
    assert not allowed([policy], Flow(Endpoint.pod("shop", {"app": "web"}), DB, 1))


def test_antrea_first_matching_rule_by_tier_then_priority():
    applied = [{"podSelector": {"matchLabels": {"app": "db"}}}]
    deny_app = anp("shop", applied, ingress=[{"action": "Drop", "from": [{"podSelector": {}}]}])
    allow_platform = anp("shop", applied, tier="Platform", name="p",
                         ingress=[{"action": "Allow", "from": [{"podSelector": {}}]}])  # fmt: skip
    assert not allowed([deny_app])
    assert allowed([deny_app, allow_platform])  # Platform is evaluated before Application
    allow_app_10 = anp("shop", applied, priority=10, name="later",
                       ingress=[{"action": "Allow", "from": [{"podSelector": {}}]}])  # fmt: skip
    assert not allowed([deny_app, allow_app_10])  # priority 5 before 10
    allow_app_1 = anp("shop", applied, priority=1, name="first",
                      ingress=[{"action": "Allow", "from": [{"podSelector": {}}]}])  # fmt: skip
    verdict = PolicySet([deny_app, allow_app_1]).evaluate(FLOW)
    assert verdict.allowed
    assert verdict.ingress.policy == "NetworkPolicy/shop/first"


def test_rule_order_within_a_policy():
    applied = [{"podSelector": {}}]
    policy = anp("shop", applied, ingress=[
        {"action": "Reject", "from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": TCP5432},
        {"action": "Allow", "from": [{"podSelector": {}}]}])  # fmt: skip
    verdict = PolicySet([policy]).evaluate(FLOW)
    assert not verdict.allowed
    assert verdict.ingress.rule == 0
    assert allowed([policy], Flow(WEB, DB, 80))


def test_antrea_has_no_implicit_isolation_and_baseline_comes_after_k8s():
    applied = [{"podSelector": {"matchLabels": {"app": "db"}}}]
    empty_allow = anp("shop", applied)  # no rules: isolates nothing
    assert allowed([empty_allow])
    baseline_reject = acnp([{"podSelector": {}}], tier="Baseline",
                           ingress=[{"action": "Reject", "from": [{"podSelector": {}}]}])  # fmt: skip
    assert not allowed([baseline_reject])
    k8s_allow = k8s("shop", {"matchLabels": {"app": "db"}}, ingress=[{}])
    # a K8s policy selecting the pod decides before the Baseline tier
    assert allowed([baseline_reject, k8s_allow])
    pass_rule = anp("shop", applied, tier="SecurityOps",
                    ingress=[{"action": "Pass", "from": [{"podSelector": {}}]}])  # fmt: skip
    drop_app = anp("shop", applied, name="drop",
                   ingress=[{"action": "Drop", "from": [{"podSelector": {}}]}])  # fmt: skip
    # Pass skips the remaining Antrea tiers; with no K8s policy the Baseline applies
    assert not allowed([pass_rule, drop_app, baseline_reject])
    assert allowed([pass_rule, drop_app])


def test_anp_and_acnp_peer_scope():
    applied = [{"podSelector": {"matchLabels": {"app": "db"}}}]
    anp_peer = anp("shop", applied, ingress=[{"action": "Drop", "from": [{"podSelector": {}}]}])
    other_web = Endpoint.pod("other", {"app": "web"})
    assert not allowed([anp_peer])
    assert allowed([anp_peer], Flow(other_web, DB, 5432))  # ANP bare podSelector: own namespace
    acnp_peer = acnp([{"podSelector": {"matchLabels": {"app": "db"}}}],
                     ingress=[{"action": "Drop", "from": [{"podSelector": {}}]}])  # fmt: skip
    assert not allowed([acnp_peer], Flow(other_web, DB, 5432))  # ACNP: every namespace
    assert not allowed([acnp_peer], Flow(WEB, OTHER_DB, 5432))  # appliedTo in every namespace
    scoped = acnp([{"podSelector": {"matchLabels": {"app": "db"}}, "namespaceSelector": ns_sel("shop")}],
                  ingress=[{"action": "Drop", "from": [{"podSelector": {}}]}])  # fmt: skip
    assert allowed([scoped], Flow(WEB, OTHER_DB, 5432))
    assert not allowed([scoped])
    self_ns = acnp([{"namespaceSelector": {}}],
                   ingress=[{"action": "Drop", "from": [{"namespaces": {"match": "Self"}}]}])  # fmt: skip
    assert not allowed([self_ns])
    assert allowed([self_ns], Flow(other_web, DB, 5432))


def test_pod_selector_peer_does_not_match_external_addresses():
    reject_pods = acnp([{"podSelector": {}}], tier="Baseline",
                       egress=[{"action": "Reject", "to": [{"podSelector": {}}]}])  # fmt: skip
    assert allowed([reject_pods], Flow(WEB, OUTSIDE, 443))
    assert not allowed([reject_pods], Flow(WEB, DB, 443))


def test_to_services_matches_the_service_the_flow_addressed():
    applied = [{"podSelector": {"matchLabels": {"app": "web"}}}]
    policy = anp("shop", applied, egress=[
        {"action": "Allow", "toServices": [{"name": "kube-dns", "namespace": "kube-system"}]},
        {"action": "Drop"}])  # fmt: skip
    dns = Endpoint.pod("kube-system", {"k8s-app": "kube-dns"})
    assert allowed([policy], Flow(WEB, dns, 53, "UDP", ("kube-system", "kube-dns")))
    assert not allowed([policy], Flow(WEB, dns, 53, "UDP"))  # straight to the pod
    assert not allowed([policy], Flow(WEB, dns, 53, "UDP", ("kube-system", "other")))


def test_endpoints_outside_the_cluster_are_not_policed():
    everything = acnp(
        [{"podSelector": {}}], ingress=[{"action": "Drop"}], egress=[{"action": "Drop"}]
    )
    verdict = PolicySet([everything]).evaluate(Flow(WEB, OUTSIDE, 443))
    assert not verdict.egress.allowed
    assert verdict.ingress.reason == "not-a-pod"


def test_violations_lists_denied_flows_only():
    isolate = k8s("shop", {"matchLabels": {"app": "db"}}, ingress=[])
    flows = [FLOW, Flow(WEB, OUTSIDE, 443)]
    (bad,) = PolicySet([isolate]).violations(flows)
    assert bad.flow == FLOW


@pytest.mark.parametrize(
    "manifest",
    [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}},
        k8s("shop", {}, ingress=[{"ports": [{"port": "http"}]}]),
        k8s("shop", {}, ingress=[{"from": [{"group": "cg"}]}]),
        k8s("shop", {}, ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.1/32"}, "group": "cg"}]}]),
        anp("shop", [{"podSelector": {}}], tier="Nope"),
        anp("shop", [{"podSelector": {}}], ingress=[{"action": "Maybe"}]),
        acnp([{"podSelector": {}}], egress=[{"action": "Allow", "to": [{"fqdn": "example.com"}]}]),
        k8s("shop", {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
        k8s("shop", {}, ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]),
    ],
)
def test_unsupported_or_malformed_policies_raise(manifest):
    with pytest.raises(PolicyError):
        PolicySet([manifest])


def test_pod_label_keys_lists_every_key_a_pod_selector_reads():
    policies = [
        k8s("shop", {"matchLabels": {"app": "db"}},
            ingress=[{"from": [{"podSelector": {"matchExpressions": [
                {"key": "tier", "operator": "Exists"}]}}]}]),
        anp("shop", [{"podSelector": {"matchLabels": {"role": "api"}}}],
            egress=[{"action": "Allow", "to": [{"namespaceSelector": {"matchLabels": {"team": "a"}},
                                               "podSelector": {"matchLabels": {"k8s-app": "x"}}}]}]),
        acnp([], ingress=[{"action": "Allow", "from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}],
                           "appliedTo": [{"podSelector": {"matchLabels": {"zone": "z1"}}}]}]),
    ]  # fmt: skip
    # Namespace selectors read namespace labels ("team"), not pod labels.
    assert PolicySet(policies).pod_label_keys() == {"app", "tier", "role", "k8s-app", "zone"}
    assert PolicySet([]).pod_label_keys() == frozenset()


@pytest.mark.parametrize(
    ("manifest", "namespace"),
    [
        (k8s("shop", {"matchLabels": {"app": "web"}}), "shop"),
        (anp("shop", [{"podSelector": {"matchLabels": {"app": "web"}}}]), "shop"),
        # A namespaced policy applies in its own namespace, whatever its selectors say.
        (anp("shop", [{"namespaceSelector": ns_sel("other"), "podSelector": {}}]), "shop"),
        (acnp([{"namespaceSelector": ns_sel("shop"), "podSelector": {}}]), "shop"),
        (
            acnp(
                [
                    {"namespaceSelector": ns_sel("shop")},
                    {
                        "namespaceSelector": ns_sel("shop"),
                        "podSelector": {"matchLabels": {"a": "b"}},
                    },
                ]
            ),
            "shop",
        ),
        (acnp([{"namespaceSelector": ns_sel("shop")}, {"namespaceSelector": ns_sel("db")}]), None),
        (acnp([{"namespaceSelector": {}, "podSelector": {}}]), None),
        (acnp([{"namespaceSelector": {"matchLabels": {"team": "a"}}}]), None),
        (acnp([{"podSelector": {"matchLabels": {"app": "web"}}}]), None),
    ],
)
def test_applied_namespace_names_the_only_namespace_a_policy_can_select(manifest, namespace):
    from theia_sf.policyeval import compile_policy

    assert compile_policy(manifest).applied_namespace() == namespace


def test_a_rule_listing_many_peers_matches_each_of_them_and_nothing_else():
    """A merged rule lists every peer seen on its port set (thousands of addresses at scale):
    its peer index must give the verdict that trying its peers one by one gives."""
    peers = [{"ipBlock": {"cidr": f"10.0.{i // 250}.{i % 250}/32"}} for i in range(1000)]
    peers += [
        {"ipBlock": {"cidr": "2001:db8::/120"}},
        {"namespaceSelector": ns_sel("db"), "podSelector": {"matchLabels": {"app": "pg"}}},
        {"podSelector": {"matchLabels": {"app": "cache"}}},  # in the policy's namespace
        {"namespaceSelector": {"matchLabels": {"team": "x"}}},
    ]  # fmt: skip
    rule = {"action": "Allow", "to": peers, "ports": TCP5432}
    policies = PolicySet(
        [anp("shop", [{"podSelector": {}}], egress=[rule])], namespace_labels={"ana": {"team": "x"}}
    )
    src = Endpoint.pod("shop", {"app": "web"})

    def allowed(dst):  # by the rule (Antrea policies do not isolate: no match allows too)
        return policies.evaluate(Flow(src, dst, 5432)).egress.reason == "rule"

    assert allowed(Endpoint.external("10.0.3.249"))
    assert not allowed(Endpoint.external("10.0.4.0"))
    assert allowed(Endpoint.external("2001:db8::ff"))
    assert allowed(Endpoint.pod("db", {"app": "pg", "v": "1"}))
    assert not allowed(Endpoint.pod("db", {"app": "web"}))
    assert allowed(Endpoint.pod("shop", {"app": "cache"}))
    assert not allowed(Endpoint.pod("db", {"app": "cache"}))
    assert allowed(Endpoint.pod("ana", {}))
    assert policies.evaluate(Flow(src, Endpoint.external("10.0.0.1"), 80)).egress.reason != "rule"
