"""Turn reduced flow tuples into NetworkPolicies (pure; linear in the number of tuples).

Each accepted tuple adds an egress rule to its source group and an ingress rule to its
destination group (a group = namespace + labels minus the ignore list). Rules are merged per
peer (one rule with all its ports) and sorted, so output does not depend on row order.

Deliberate differences from theia-sf (reference §4, design §5): flows from outside the cluster
become ingress rules from an ipBlock; empty or ``null`` labels mean "no labels"; only TCP, UDP
and SCTP are emitted (other protocols are skipped and counted); tuples that cannot yield a valid
rule (no namespace on an intra-cluster endpoint, bad labels or IPs) are skipped and counted by
reason instead of crashing; Kubernetes peers select namespaces by ``kubernetes.io/metadata.name``;
names are stable; in ``k8s-np`` mode no Antrea object is emitted.
"""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from theia_sf.policyeval import NS_NAME_LABEL, Endpoint, Flow
from theia_sf.recommendation import naming
from theia_sf.recommendation.model import (
    FLOW_FROM_EXTERNAL,
    FLOW_INTER_NODE,
    FLOW_INTRA_NODE,
    FLOW_TO_EXTERNAL,
    PROTOCOL_NUMBERS,
    Evidence,
    FlowTuple,
    Options,
    PolicyType,
    RecommendedPolicy,
    SkipReason,
    is_label_key,
    is_label_value,
    is_namespace,
)

K8S_API_VERSION = "networking.k8s.io/v1"
PRIORITY = 5

Labels = tuple[tuple[str, str], ...]
# Peers sort as: ipBlocks (by address family and address), Services, pods (by namespace, labels).
IpPeer = tuple[int, int, int, str]
ServicePeer = tuple[int, str, str]
PodPeer = tuple[int, str, Labels]
Peer = tuple[Any, ...]
Port = tuple[int, str]


class _Invalid(Exception):
    def __init__(self, reason: SkipReason) -> None:
        self.reason = reason


def parse_labels(raw: str | None) -> Labels:
    """Pod labels as written by the Flow Aggregator: JSON object, empty, ``{}`` or ``null``."""
    if raw is None:
        return ()
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1].strip()
    if text in ("", "null", "{}"):
        return ()
    try:
        value = json.loads(text)
    except ValueError:
        try:  # theia-sf accepted single-quoted JSON (its "PoC hack"); so do we
            value = json.loads(text.replace("'", '"'))
        except ValueError:
            raise _Invalid(SkipReason.INVALID_LABELS) from None
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise _Invalid(SkipReason.INVALID_LABELS)
    for k, v in value.items():
        if not is_label_key(k) or not is_label_value(v):
            raise _Invalid(SkipReason.INVALID_LABELS)
    return tuple(sorted(value.items()))


def _ip(raw: str | None) -> tuple[int, int, str]:
    if not raw:
        raise _Invalid(SkipReason.INVALID_IP)
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        raise _Invalid(SkipReason.INVALID_IP) from None
    bits = 32 if address.version == 4 else 128
    return address.version, int(address), f"{address.compressed}/{bits}"


def _service(svc_port_name: str | None) -> tuple[str, str] | None:
    """``<ns>/<name>:<port name>`` to (ns, name); None when absent or malformed."""
    if not svc_port_name:
        return None
    ns, sep, rest = svc_port_name.partition("/")
    name = rest.split(":", 1)[0]
    if not sep or not is_namespace(ns) or not is_namespace(name):
        return None
    return ns, name


@dataclass(slots=True)
class _RuleAcc:
    ports: set[Port] = field(default_factory=set)
    evidence: Evidence = field(default_factory=Evidence)


@dataclass(slots=True)
class _Group:
    egress: dict[Peer, _RuleAcc] = field(default_factory=dict)
    ingress: dict[Peer, _RuleAcc] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """The policies of one run, the flows to replay in the self-check, and what was skipped."""

    policies: tuple[RecommendedPolicy, ...]
    flows: tuple[Flow, ...]
    tuple_count: int
    flow_count: int
    skipped: Mapping[str, Mapping[str, int]]
    warnings: tuple[str, ...]

    @property
    def skipped_tuples(self) -> int:
        return sum(v["tuples"] for v in self.skipped.values())


class _Builder:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.allow = frozenset(options.ns_allow_list)
        self.ignore = frozenset(options.label_ignore_list)
        self.groups: dict[tuple[str, Labels], _Group] = {}
        self._labels: dict[str | None, tuple[Labels, Labels] | SkipReason] = {}
        self.skipped: dict[str, Counter[str]] = {}
        self.flows: dict[Flow, None] = {}
        self.tuple_count = 0
        self.flow_count = 0
        self.use_services = options.to_services and options.policy_type != PolicyType.K8S_NP

    def labels(self, raw: str | None) -> tuple[Labels, Labels]:
        """(raw labels, labels minus the ignore list), parsed once per distinct string."""
        cached = self._labels.get(raw)
        if cached is None:
            try:
                parsed = parse_labels(raw)
                cached = (parsed, tuple(kv for kv in parsed if kv[0] not in self.ignore))
            except _Invalid as invalid:
                cached = invalid.reason
            self._labels[raw] = cached
        if isinstance(cached, SkipReason):
            raise _Invalid(cached)
        return cached

    def pod(
        self, ns: str | None, labels: str | None, missing: SkipReason
    ) -> tuple[str, Labels, Labels]:
        if not ns:
            raise _Invalid(missing)
        if not is_namespace(ns):
            raise _Invalid(SkipReason.INVALID_NAMESPACE)
        raw, kept = self.labels(labels)
        return ns, raw, kept

    def rule(
        self, group: tuple[str, Labels], egress: bool, peer: Peer, port: Port | None, t: FlowTuple
    ) -> None:
        if group[0] in self.allow:
            return  # allow-listed namespaces get the namespace-wide ACNP, no per-group policy
        g = self.groups.get(group)
        if g is None:
            g = self.groups[group] = _Group()
        rules = g.egress if egress else g.ingress
        acc = rules.get(peer)
        if acc is None:
            acc = rules[peer] = _RuleAcc()
        if port is not None:
            acc.ports.add(port)
        acc.evidence.add(t)

    def add(self, t: FlowTuple) -> None:
        self.tuple_count += 1
        self.flow_count += int(t.flow_count or 0)
        try:
            self._add(t)
        except _Invalid as invalid:
            c = self.skipped.setdefault(invalid.reason.value, Counter())
            c["tuples"] += 1
            c["flows"] += int(t.flow_count or 0)

    def _add(self, t: FlowTuple) -> None:
        proto = PROTOCOL_NUMBERS.get(t.protocol) if t.protocol is not None else None
        if proto is None:
            raise _Invalid(SkipReason.UNSUPPORTED_PROTOCOL)
        if t.dst_port is None or not 1 <= int(t.dst_port) <= 65535:
            raise _Invalid(SkipReason.INVALID_PORT)
        port: Port = (int(t.dst_port), proto.value)
        ft = t.flow_type
        if ft == FLOW_FROM_EXTERNAL:
            version, number, cidr = _ip(t.src_ip)
            dst_ns, dst_raw, dst_kept = self.pod(
                t.dst_ns, t.dst_labels, SkipReason.DESTINATION_WITHOUT_NAMESPACE
            )
            self.rule((dst_ns, dst_kept), False, (0, version, number, cidr), port, t)
            self.flows[
                Flow(
                    Endpoint(None, (), cidr[: cidr.index("/")]),
                    Endpoint(dst_ns, dst_raw),
                    port[0],
                    port[1],
                )
            ] = None
            return
        if ft not in (FLOW_INTRA_NODE, FLOW_INTER_NODE, FLOW_TO_EXTERNAL):
            raise _Invalid(SkipReason.UNKNOWN_FLOW_TYPE)
        src_ns, src_raw, src_kept = self.pod(
            t.src_ns, t.src_labels, SkipReason.SOURCE_WITHOUT_NAMESPACE
        )
        src = Endpoint(src_ns, src_raw)
        if ft == FLOW_TO_EXTERNAL:
            version, number, cidr = _ip(t.dst_ip)
            self.rule((src_ns, src_kept), True, (0, version, number, cidr), port, t)
            self.flows[Flow(src, Endpoint(None, (), cidr[: cidr.index("/")]), port[0], port[1])] = (
                None
            )
            return
        service = _service(t.svc_port_name)
        if service is not None and self.use_services:
            # toServices rules carry no ports (Antrea rejects ports next to toServices).
            backend = None
            if t.dst_ns:
                dst_ns, dst_raw, dst_kept = self.pod(
                    t.dst_ns, t.dst_labels, SkipReason.DESTINATION_WITHOUT_NAMESPACE
                )
                backend = (dst_ns, dst_raw, dst_kept)
            self.rule((src_ns, src_kept), True, (1, service[0], service[1]), None, t)
            if backend is not None:
                self.rule((backend[0], backend[2]), False, (2, src_ns, src_kept), port, t)
            dst = Endpoint(backend[0], backend[1]) if backend else Endpoint()
            self.flows[Flow(src, dst, port[0], port[1], service)] = None
            return
        dst_ns, dst_raw, dst_kept = self.pod(
            t.dst_ns, t.dst_labels, SkipReason.DESTINATION_WITHOUT_NAMESPACE
        )
        self.rule((src_ns, src_kept), True, (2, dst_ns, dst_kept), port, t)
        self.rule((dst_ns, dst_kept), False, (2, src_ns, src_kept), port, t)
        self.flows[Flow(src, Endpoint(dst_ns, dst_raw), port[0], port[1], service)] = None


def _selector(labels: Labels) -> dict[str, Any]:
    return {"matchLabels": dict(labels)} if labels else {}


def _ns_selector(ns: str) -> dict[str, Any]:
    return {"matchLabels": {NS_NAME_LABEL: ns}}


def _peer(peer: Peer) -> dict[str, Any]:
    if peer[0] == 0:
        return {"ipBlock": {"cidr": peer[3]}}
    return {"namespaceSelector": _ns_selector(peer[1]), "podSelector": _selector(peer[2])}


def _peer_text(peer: Peer) -> str:
    if peer[0] == 0:
        return peer[3]
    if peer[0] == 1:
        return f"service {peer[1]}/{peer[2]}"
    labels = ",".join(f"{k}={v}" for k, v in peer[2])
    return f"{peer[1]}/{{{labels}}}"


def _ports(ports: set[Port]) -> list[dict[str, Any]]:
    return [{"port": p, "protocol": proto} for p, proto in sorted(ports)]


def _rules(
    group: _Group, antrea: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    egress: list[dict[str, Any]] = []
    ingress: list[dict[str, Any]] = []
    evidence: list[dict[str, Any]] = []
    for direction, rules, out in (
        ("egress", group.egress, egress),
        ("ingress", group.ingress, ingress),
    ):
        key = "to" if direction == "egress" else "from"
        for peer in sorted(rules):
            acc = rules[peer]
            rule: dict[str, Any] = {"action": "Allow"} if antrea else {}
            if peer[0] == 1:
                rule["toServices"] = [{"name": peer[2], "namespace": peer[1]}]
            else:
                rule[key] = [_peer(peer)]
                rule["ports"] = _ports(acc.ports)
            evidence.append(
                {
                    "direction": direction,
                    "rule": len(out),
                    "peer": _peer_text(peer),
                    "ports": [f"{p}/{proto}" for p, proto in sorted(acc.ports)],
                    **acc.evidence.to_record(),
                }
            )
            out.append(rule)
    return egress, ingress, evidence


def _metadata(name: str, namespace: str | None = None) -> dict[str, Any]:
    return {"name": name, "namespace": namespace} if namespace else {"name": name}


def _acnp(
    api: str, name: str, tier: str, action: str, applied_to: dict[str, Any]
) -> RecommendedPolicy:
    manifest = {
        "apiVersion": api,
        "kind": "ClusterNetworkPolicy",
        "metadata": _metadata(name),
        "spec": {
            "appliedTo": [applied_to],
            "egress": [{"action": action, "to": [{"podSelector": {}}]}],
            "ingress": [{"action": action, "from": [{"podSelector": {}}]}],
            "priority": PRIORITY,
            "tier": tier,
        },
    }
    return RecommendedPolicy("ClusterNetworkPolicy", api, None, name, manifest)


def static_policies(options: Options) -> list[RecommendedPolicy]:
    """Namespace-allow ACNPs, and the cluster-wide reject for ``anp-deny-all``."""
    if options.policy_type == PolicyType.K8S_NP:
        return []
    api = options.antrea_api_version.value
    out = [
        _acnp(
            api,
            naming.namespace_allow_acnp_name(ns),
            "Platform",
            "Allow",
            {"namespaceSelector": _ns_selector(ns)},
        )
        for ns in options.ns_allow_list
    ]
    if options.policy_type == PolicyType.ANP_DENY_ALL:
        out.append(
            _acnp(
                api,
                naming.REJECT_ALL_ACNP_NAME,
                "Baseline",
                "Reject",
                {"namespaceSelector": {}, "podSelector": {}},
            )
        )
    return out


def _group_policies(
    options: Options, ns: str, labels: Labels, group: _Group
) -> list[RecommendedPolicy]:
    api = options.antrea_api_version.value
    if options.policy_type == PolicyType.K8S_NP:
        egress, ingress, evidence = _rules(group, antrea=False)
        types = (["Egress"] if egress else []) + (["Ingress"] if ingress else [])
        name = naming.k8s_np_name(ns, labels)
        manifest = {
            "apiVersion": K8S_API_VERSION,
            "kind": "NetworkPolicy",
            "metadata": _metadata(name, ns),
            "spec": {
                "egress": egress,
                "ingress": ingress,
                "podSelector": _selector(labels),
                "policyTypes": types,
            },
        }
        return [
            RecommendedPolicy("NetworkPolicy", K8S_API_VERSION, ns, name, manifest, tuple(evidence))
        ]
    egress, ingress, evidence = _rules(group, antrea=True)
    name = naming.allow_anp_name(ns, labels)
    manifest = {
        "apiVersion": api,
        "kind": "NetworkPolicy",
        "metadata": _metadata(name, ns),
        "spec": {
            "appliedTo": [{"podSelector": _selector(labels)}],
            "egress": egress,
            "ingress": ingress,
            "priority": PRIORITY,
            "tier": "Application",
        },
    }
    out = [RecommendedPolicy("NetworkPolicy", api, ns, name, manifest, tuple(evidence))]
    if options.policy_type == PolicyType.ANP_DENY_APPLIED:
        applied = {"namespaceSelector": _ns_selector(ns), "podSelector": _selector(labels)}
        out.append(_acnp(api, naming.reject_acnp_name(ns, labels), "Baseline", "Reject", applied))
    return out


def build_recommendation(tuples: Iterable[FlowTuple], options: Options) -> Recommendation:
    """Policies for the tuples: static ones first, then per group sorted by namespace and labels."""
    builder = _Builder(options)
    for t in tuples:
        builder.add(t)
    policies = static_policies(options)
    warnings = []
    for ns, labels in sorted(builder.groups):
        group_policies = _group_policies(options, ns, labels, builder.groups[(ns, labels)])
        if not labels:
            warnings.append(
                f"empty selector: {group_policies[0].name} applies to every pod of namespace "
                f"{ns!r} (flows from pods without labels, or only ignored labels)"
            )
        policies.extend(group_policies)
    seen: set[str] = set()
    for p in policies:
        if p.key in seen:  # a hash collision would silently merge two workloads' policies
            raise RuntimeError(f"duplicate policy name {p.key}; report this as a bug")
        seen.add(p.key)
    return Recommendation(
        tuple(policies),
        tuple(builder.flows),
        builder.tuple_count,
        builder.flow_count,
        {
            k: {"tuples": v["tuples"], "flows": v["flows"]}
            for k, v in sorted(builder.skipped.items())
        },
        tuple(warnings),
    )
