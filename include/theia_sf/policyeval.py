"""Decide whether a flow is allowed by a set of Kubernetes and Antrea network policies.

Semantics (Kubernetes NetworkPolicy ``networking.k8s.io/v1``, Antrea ``NetworkPolicy`` and
``ClusterNetworkPolicy`` ``crd.antrea.io/v1alpha1|v1beta1``):

* A flow is allowed when its egress is allowed at the source pod and its ingress at the
  destination pod. Endpoints outside the cluster (no namespace) are not policed.
* Per direction, Antrea policies applied to the pod are evaluated first, by tier (Emergency,
  SecurityOps, NetworkOps, Platform, Application), then policy priority (lower first), then rule
  order: the first matching rule's action decides (Allow; Drop and Reject deny; Pass skips to the
  Kubernetes layer). Then Kubernetes NetworkPolicies: if any selects the pod for the direction,
  the flow must match one of their rules (union), else it is denied. Only when no Kubernetes
  policy selects the pod does the Baseline tier apply; with no match there, the flow is allowed.
* Selectors support ``matchLabels`` and ``matchExpressions``. Namespaces carry the automatic
  ``kubernetes.io/metadata.name`` label plus any labels passed in ``namespace_labels``.
* ``toServices`` matches flows addressed to that Service (``Flow.service``); ``ipBlock``
  matches endpoint IPs. Pods are matched by labels; a pod IP is optional.

Unsupported constructs (named ports, ClusterGroups, FQDN peers...) raise :class:`PolicyError`
rather than being guessed. Lookups are indexed (exact IPs, namespaces, services), so replaying
hundreds of thousands of flows against thousands of rules stays linear.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

NS_NAME_LABEL = "kubernetes.io/metadata.name"
TIER_PRIORITIES = {
    "emergency": 50,
    "securityops": 100,
    "networkops": 150,
    "platform": 200,
    "application": 250,
    "baseline": 253,
}
BASELINE = TIER_PRIORITIES["baseline"]
ANTREA_GROUPS = ("crd.antrea.io/",)
K8S_API = "networking.k8s.io/v1"

Labels = tuple[tuple[str, str], ...]


class PolicyError(ValueError):
    """A manifest uses a construct this evaluator does not model (or is malformed)."""


class Endpoint(NamedTuple):
    """A pod (``namespace`` set, ``labels``) or an address outside the cluster (``ip``).

    Endpoints and flows are NamedTuples: a self-check replays hundreds of thousands of them.
    """

    namespace: str | None = None
    labels: Labels = ()
    ip: str | None = None

    @classmethod
    def pod(
        cls, namespace: str, labels: Mapping[str, str] | Labels = (), ip: str | None = None
    ) -> Endpoint:
        items = labels.items() if isinstance(labels, Mapping) else labels
        return cls(namespace, tuple(sorted(items)), ip)

    @classmethod
    def external(cls, ip: str) -> Endpoint:
        return cls(None, (), ip)

    @property
    def is_pod(self) -> bool:
        return self.namespace is not None


class Flow(NamedTuple):
    source: Endpoint
    destination: Endpoint
    port: int
    protocol: str = "TCP"
    service: tuple[str, str] | None = None  # (namespace, name) when addressed through a Service


class Decision(NamedTuple):
    """How one direction of a flow was decided. A NamedTuple like flows and endpoints: a
    replay makes one per rule it matches (half the cost of a frozen dataclass)."""

    allowed: bool
    reason: str  # "rule", "isolated", "default", "not-a-pod", "not-checked"
    policy: str | None = None  # "Kind/namespace/name"
    rule: int | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    flow: Flow
    egress: Decision
    ingress: Decision

    @property
    def allowed(self) -> bool:
        return self.egress.allowed and self.ingress.allowed


_NOT_A_POD = Decision(True, "not-a-pod")
_DEFAULT = Decision(True, "default")
_NOT_CHECKED = Decision(True, "not-checked")


# --- selectors -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selector:
    match_labels: Labels = ()
    expressions: tuple[tuple[str, str, frozenset[str]], ...] = ()
    items: frozenset[tuple[str, str]] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", frozenset(self.match_labels))

    @classmethod
    def parse(cls, raw: Any, where: str) -> Selector:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise PolicyError(f"{where}: selector must be a mapping")
        if raw.keys() <= {"matchLabels"}:  # the usual shape: one selector object per label set
            labels = raw.get("matchLabels") or {}
            if all(type(k) is str and type(v) is str for k, v in labels.items()):
                return _labels_selector(tuple(sorted(labels.items())))
        unknown = set(raw) - {"matchLabels", "matchExpressions"}
        if unknown:
            raise PolicyError(f"{where}: unsupported selector fields {sorted(unknown)}")
        labels = raw.get("matchLabels") or {}
        exprs = []
        for e in raw.get("matchExpressions") or []:
            op = e.get("operator")
            if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
                raise PolicyError(f"{where}: unsupported operator {op!r}")
            exprs.append((str(e["key"]), op, frozenset(map(str, e.get("values") or ()))))
        return cls(tuple(sorted((str(k), str(v)) for k, v in labels.items())), tuple(exprs))

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.expressions

    def matches(
        self, labels: Mapping[str, str], items: frozenset[tuple[str, str]] | None = None
    ) -> bool:
        """``items`` (the labels as a frozenset of pairs) makes matchLabels a subset test."""
        if items is not None:
            if not self.items <= items:
                return False
        else:
            for k, v in self.match_labels:
                if labels.get(k) != v:
                    return False
        for key, op, values in self.expressions:
            present = key in labels
            if op == "In" and not (present and labels[key] in values):
                return False
            if op == "NotIn" and present and labels[key] in values:
                return False
            if op == "Exists" and not present:
                return False
            if op == "DoesNotExist" and present:
                return False
        return True

    def exact_namespace(self) -> str | None:
        """The namespace name when the selector is exactly ``{metadata.name: X}``."""
        if not self.expressions and len(self.match_labels) == 1:
            key, value = self.match_labels[0]
            if key == NS_NAME_LABEL:
                return value
        return None


@lru_cache(maxsize=65536)
def _labels_selector(labels: Labels) -> Selector:
    """The matchLabels-only selector of these labels (selectors are immutable values)."""
    return Selector(labels)


@lru_cache(maxsize=65536)
def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError as error:
        raise PolicyError(f"invalid CIDR {cidr!r}") from error


@lru_cache(maxsize=65536)
def _label_view(labels: Labels) -> tuple[dict[str, str], frozenset[tuple[str, str]]]:
    return dict(labels), frozenset(labels)


def _single_host(cidr: str) -> str | None:
    """The canonical address of a /32 or /128 block, else None."""
    address, _, bits = cidr.partition("/")
    if bits not in ("32", "128"):
        return None
    host = _canonical(address)
    if host is None or (bits == "32") != ("." in host):
        return None
    return host


def _ipv4_host(cidr: str) -> str | None:
    """The address of an IPv4 ``a.b.c.d/32`` block already in canonical form, else None.

    A fast path for the common host block: ``ipaddress`` parsing costs far more than
    ``inet_pton``, and an address that round-trips unchanged through ``inet_pton``/``inet_ntop``
    is one that ``ipaddress`` accepts and prints the same way.
    """
    address, _, bits = cidr.partition("/")
    if bits != "32":
        return None
    try:
        packed = socket.inet_pton(socket.AF_INET, address)
    except (OSError, ValueError):
        return None
    return address if socket.inet_ntop(socket.AF_INET, packed) == address else None


@lru_cache(maxsize=262144)
def _canonical(ip: str) -> str | None:
    if _ipv4_host(ip + "/32") == ip:  # already canonical IPv4: skip ipaddress
        return ip
    address = _address(ip)
    return None if address is None else str(address)


@lru_cache(maxsize=262144)
def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        return None


# --- peers and rules -------------------------------------------------------------------------


_PEER_FIELDS = frozenset(("podSelector", "namespaceSelector", "ipBlock", "namespaces"))


@dataclass(slots=True, unsafe_hash=True)
class Peer:
    """One entry of ``to``/``from``/``appliedTo``. ``policy_namespace`` scopes bare podSelectors.

    Treated as immutable (compiled policies share peers), but not a frozen dataclass: a large
    set has hundreds of thousands of them, and a frozen one costs 1.9 µs to make against 0.5."""

    pod: Selector | None = None
    namespace: Selector | None = None
    self_namespace: bool = False
    cidr: str | None = None
    excepts: tuple[str, ...] = ()
    policy_namespace: str | None = None  # None: cluster-scoped (ACNP)
    host: str | None = None  # canonical address when cidr is a single host and has no except
    # (namespace, required label pairs) when the peer is "pods with these labels in the
    # namespace named X" (namespaceSelector exactly {kubernetes.io/metadata.name: X}, or a bare
    # podSelector in namespace X); None for every other shape. Set in __post_init__.
    by_name: tuple[str, frozenset[tuple[str, str]]] | None = None
    by_name_selector: bool = False  # True: X comes from a namespaceSelector

    def __post_init__(self) -> None:
        if self.cidr is not None or self.self_namespace:
            return
        pod = self.pod
        if pod is not None and pod.expressions:
            return
        items = pod.items if pod is not None else frozenset()
        if self.namespace is not None:
            ns = self.namespace.exact_namespace()
            if ns is not None:
                self.by_name = (ns, items)
                self.by_name_selector = True
        elif self.policy_namespace is not None and pod is not None:
            self.by_name = (self.policy_namespace, items)

    @classmethod
    def parse(cls, raw: Any, where: str, policy_namespace: str | None) -> Peer:
        if type(raw) is not dict and not isinstance(raw, Mapping):  # ABC check only if needed
            raise PolicyError(f"{where}: peer must be a mapping")
        if not _PEER_FIELDS.issuperset(raw):
            unknown = set(raw) - _PEER_FIELDS
            raise PolicyError(f"{where}: unsupported peer fields {sorted(unknown)}")
        if "ipBlock" in raw:
            block = raw["ipBlock"] or {}
            cidr = block.get("cidr") or block.get("CIDR")
            if not cidr:
                raise PolicyError(f"{where}: ipBlock without cidr")
            excepts = tuple(block.get("except") or ())
            if not excepts and isinstance(cidr, str):
                host = _ipv4_host(cidr)
                if host is not None:
                    return cls(cidr=cidr, policy_namespace=policy_namespace, host=host)
            _network(cidr)
            for e in excepts:
                _network(e)
            host = None if excepts else _single_host(cidr)
            return cls(cidr=cidr, excepts=excepts, policy_namespace=policy_namespace, host=host)
        self_ns = False
        if "namespaces" in raw:
            if (raw["namespaces"] or {}).get("match") != "Self":
                raise PolicyError(f"{where}: only namespaces.match=Self is supported")
            self_ns = True
        pod = Selector.parse(raw["podSelector"], where) if "podSelector" in raw else None
        ns = Selector.parse(raw["namespaceSelector"], where) if "namespaceSelector" in raw else None
        if pod is None and ns is None and not self_ns:
            raise PolicyError(f"{where}: empty peer")
        return cls(pod, ns, self_ns, policy_namespace=policy_namespace)

    def matches(
        self, ep: Endpoint, ns_labels: Mapping[str, str] | None, applied_ns: str | None
    ) -> bool:
        if self.host is not None:  # string comparison instead of ipaddress arithmetic
            # An address spelled as the host is that host; another spelling may be too.
            return ep.ip is not None and (ep.ip == self.host or _canonical(ep.ip) == self.host)
        if self.cidr is not None:
            address = _address(ep.ip) if ep.ip else None
            if address is None:
                return False
            net = _network(self.cidr)
            if address.version != net.version or address not in net:
                return False
            return not any(
                address.version == _network(e).version and address in _network(e)
                for e in self.excepts
            )
        if not ep.is_pod:
            return False
        if self.self_namespace and ep.namespace != applied_ns:
            return False
        if self.namespace is not None:
            if not self.namespace.matches(ns_labels or {}):
                return False
        elif self.policy_namespace is not None and ep.namespace != self.policy_namespace:
            return False
        return self.pod is None or self.pod.matches(*_label_view(ep.labels))


@dataclass(frozen=True, slots=True)
class PortSpec:
    protocol: str
    port: int | None
    end_port: int | None

    def matches(self, port: int, protocol: str) -> bool:
        if protocol != self.protocol:
            return False
        if self.port is None:
            return True
        return self.port <= port <= (self.end_port or self.port)


@dataclass(slots=True)
class Rule:
    index: int
    action: str  # Allow, Drop, Reject, Pass
    peers: tuple[Peer, ...] | None  # None: any peer
    ports: tuple[PortSpec, ...] | None  # None: any port
    services: frozenset[tuple[str, str]] | None = None
    applied_to: tuple[Peer, ...] | None = None
    decision: Decision | None = None  # set by PolicySet on first use (a rule has one policy)
    # The peers by shape, so a rule listing thousands of peers matches one in constant time:
    # single hosts by canonical address; "labels in namespace X" by (X, whether X comes from a
    # namespaceSelector); every other peer is tried in turn.
    hosts: frozenset[str] = frozenset()
    named: dict[tuple[str, bool], list[frozenset[tuple[str, str]]]] = field(default_factory=dict)
    others: tuple[Peer, ...] = ()

    def __post_init__(self) -> None:
        hosts = set()
        others = []
        for peer in self.peers or ():
            if peer.host is not None:
                hosts.add(peer.host)
            elif peer.by_name is not None:
                key = (peer.by_name[0], peer.by_name_selector)
                self.named.setdefault(key, []).append(peer.by_name[1])
            else:
                others.append(peer)
        self.hosts = frozenset(hosts)
        self.others = tuple(others)

    def matches_port(self, port: int, protocol: str) -> bool:
        return self.ports is None or any(p.matches(port, protocol) for p in self.ports)

    def matches_peer(
        self, peer: Endpoint, ns_labels: Mapping[str, str] | None, applied_ns: str | None
    ) -> bool:
        """Whether one of the rule's peers is ``peer`` (the rule has peers)."""
        ip = peer.ip
        if self.hosts and ip is not None and (ip in self.hosts or _canonical(ip) in self.hosts):
            return True
        if self.named and peer.namespace is not None:
            items = _label_view(peer.labels)[1]
            # The name a namespaceSelector sees (its metadata.name label), and the namespace
            # itself for bare podSelectors of the policy's namespace.
            seen_name = ns_labels.get(NS_NAME_LABEL) if ns_labels else None
            for key in ((seen_name, True), (peer.namespace, False)):
                for required in self.named.get(key, ()):  # type: ignore[arg-type]
                    if required <= items:
                        return True
        return any(p.matches(peer, ns_labels, applied_ns) for p in self.others)


def _parse_ports(raw: Any, where: str) -> tuple[PortSpec, ...] | None:
    if not raw:
        return None
    out = []
    for p in raw:
        port = p.get("port")
        if port is not None and not isinstance(port, int):
            raise PolicyError(f"{where}: named port {port!r} is not supported")
        end = p.get("endPort")
        out.append(PortSpec(str(p.get("protocol") or "TCP").upper(), port, end))
    return tuple(out)


def _ns_name(peer_ns: str | None, ns_labels: Mapping[str, str] | None) -> str | None:
    """The name rules index a peer namespace under (its metadata.name label)."""
    if peer_ns is None:
        return None
    return ns_labels.get(NS_NAME_LABEL, peer_ns) if ns_labels else peer_ns


def _add_pod_label_keys(keys: set[str], peers: tuple[Peer, ...] | None) -> None:
    """Add the pod label keys the peers' pod selectors read."""
    for peer in peers or ():
        pod = peer.pod
        if pod is not None:
            for key, _ in pod.match_labels:
                keys.add(key)
            for expression in pod.expressions:
                keys.add(expression[0])


def _add_once(index: dict[Any, list[int]], key: Any, i: int) -> None:
    """Add rule ``i`` under ``key`` once (a rule may list several peers of one key)."""
    found = index.setdefault(key, [])
    if not found or found[-1] != i:
        found.append(i)


@dataclass(slots=True)
class RuleIndex:
    """Rules of one policy and direction, indexed so a flow only checks plausible rules."""

    rules: list[Rule]
    by_ip: dict[str, list[int]] = field(default_factory=dict)
    by_ns: dict[str, list[int]] = field(default_factory=dict)
    by_service: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    generic: list[int] = field(default_factory=list)
    # Candidates for pods without an address, by (namespace, service): filled by first_match.
    _by_peer: dict[tuple[str | None, tuple[str, str] | None], Any] = field(default_factory=dict)
    # Every pod label key a selector of these rules reads (peers and appliedTo).
    label_keys: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        keys = self.label_keys
        for i, rule in enumerate(self.rules):
            for peers in (rule.peers, rule.applied_to):
                if peers:  # most peer lists are ipBlocks: look for a pod selector first
                    for peer in peers:
                        if peer.pod is not None:
                            _add_pod_label_keys(keys, peers)
                            break
            if rule.services is not None:
                for svc in rule.services:
                    self.by_service.setdefault(svc, []).append(i)
                continue
            if rule.peers is None or rule.applied_to is not None:
                self.generic.append(i)
                continue
            for peer in rule.peers:
                if peer.cidr is not None and not peer.excepts:
                    host = peer.host  # set by Peer.parse for single-host blocks
                    if host is not None:
                        self.by_ip.setdefault(host, []).append(i)
                        continue
                if peer.namespace is not None and not peer.self_namespace:
                    ns = peer.namespace.exact_namespace()
                    if ns is not None:
                        _add_once(self.by_ns, ns, i)
                        continue
                if (
                    peer.namespace is None
                    and peer.cidr is None
                    and not peer.self_namespace
                    and peer.policy_namespace is not None
                ):
                    _add_once(self.by_ns, peer.policy_namespace, i)
                    continue
                if not self.generic or self.generic[-1] != i:
                    self.generic.append(i)

    def candidates(
        self, peer: Endpoint, service: tuple[str, str] | None, ns_name: str | None
    ) -> list[int] | tuple[int, ...]:
        """Positions of the rules that can match a flow with this peer, in rule order."""
        sources = [self.generic] if self.generic else []
        if self.by_ip and peer.ip:
            # Keys are canonical addresses: an address spelled as a key is that address (no
            # need to canonicalize it, nor to keep it in _canonical's cache).
            found = self.by_ip.get(peer.ip) or self.by_ip.get(_canonical(peer.ip) or "")
            if found:
                sources.append(found)
        peer_ns = peer.namespace
        if self.by_ns and peer_ns is not None:
            found = self.by_ns.get(ns_name or peer_ns)
            if found:
                sources.append(found)
            if ns_name != peer_ns:
                found = self.by_ns.get(peer_ns)
                if found:
                    sources.append(found)
        if self.by_service and service is not None:
            found = self.by_service.get(service)
            if found:
                sources.append(found)
        if not sources:
            return ()
        # Each list is in rule order; only a mix needs merging.
        return sources[0] if len(sources) == 1 else sorted(set().union(*sources))

    def first_match(
        self,
        applied: Endpoint,
        peer: Endpoint,
        flow: Flow,
        ns_labels: Mapping[str, str] | None,
        applied_ns_labels: Mapping[str, str] | None,
    ) -> Rule | None:
        peer_ns = peer.namespace
        service = flow.service
        if peer.ip is None:
            # Pods without an address: the candidates only depend on (namespace, service).
            key = (peer_ns, service)
            candidates = self._by_peer.get(key)
            if candidates is None:
                candidates = self._by_peer[key] = self.candidates(
                    peer, service, _ns_name(peer_ns, ns_labels)
                )
        else:
            candidates = self.candidates(peer, service, _ns_name(peer_ns, ns_labels))
        if not candidates:
            return None
        rules = self.rules
        port, protocol = flow.port, flow.protocol
        applied_ns = applied.namespace
        # Plain loops and inlined checks rather than any(<generator>) and method calls: this
        # runs twice for every replayed flow. Each inlined check is the method's exact logic.
        for i in candidates:
            rule = rules[i]
            if rule.applied_to is not None:
                for a in rule.applied_to:
                    if a.matches(applied, applied_ns_labels, applied_ns):
                        break
                else:
                    continue
            if rule.services is not None:
                if service in rule.services:
                    return rule
                continue
            if rule.ports is not None:
                for spec in rule.ports:  # PortSpec.matches
                    if spec.protocol == protocol and (
                        spec.port is None or spec.port <= port <= (spec.end_port or spec.port)
                    ):
                        break
                else:
                    continue
            if rule.peers is None or rule.matches_peer(peer, ns_labels, applied_ns):
                return rule
        return None


# --- policies --------------------------------------------------------------------------------


@dataclass(slots=True)
class CompiledPolicy:
    ident: str
    antrea: bool
    cluster_scoped: bool
    namespace: str | None
    tier: int  # Antrea tier priority; 0 for Kubernetes policies
    priority: float
    applied_to: tuple[Peer, ...]
    egress: RuleIndex | None  # None: the policy does not cover the direction
    ingress: RuleIndex | None

    def sort_key(self) -> tuple[Any, ...]:
        return (self.tier, self.priority, 0 if self.cluster_scoped else 1, self.ident)

    def applied_namespace(self) -> str | None:
        """The one namespace whose pods this policy can apply to; None when its appliedTo may
        select pods of several namespaces (or addresses)."""
        if not self.cluster_scoped:
            return self.namespace  # a namespaced policy applies in its own namespace only
        found = None
        for a in self.applied_to:
            if a.cidr is not None or a.self_namespace or a.namespace is None:
                return None  # a bare podSelector in a cluster policy: every namespace
            ns = a.namespace.exact_namespace()
            if ns is None or (found is not None and ns != found):
                return None
            found = ns
        return found


def _parse_rule(index: int, r: Any, here: str, peer_key: str, antrea: bool, ns: str | None) -> Rule:
    if type(r) is not dict and not isinstance(r, Mapping):  # ABC check only if needed
        raise PolicyError(f"{here}: rule must be a mapping")
    action = "Allow"
    if antrea:
        action = str(r.get("action") or "")
        if action not in ("Allow", "Drop", "Reject", "Pass"):
            raise PolicyError(f"{here}: unsupported action {action!r}")
    services = None
    if r.get("toServices"):
        services = frozenset(
            (str(s.get("namespace") or ns or ""), str(s["name"])) for s in r["toServices"]
        )
    peers_raw = r.get(peer_key)
    peers = tuple(Peer.parse(p, here, ns) for p in peers_raw) if peers_raw else None
    applied = r.get("appliedTo")
    return Rule(
        index,
        action,
        peers,
        _parse_ports(r.get("ports"), here),
        services,
        tuple(Peer.parse(a, here, ns) for a in applied) if applied else None,
    )


def _rules(raw: Any, direction: str, where: str, antrea: bool, ns: str | None) -> list[Rule]:
    peer_key = "to" if direction == "egress" else "from"
    return [
        _parse_rule(i, r, f"{where} {direction}[{i}]", peer_key, antrea, ns)
        for i, r in enumerate(raw or [])
    ]


def compile_policy(manifest: Mapping[str, Any]) -> CompiledPolicy:
    """Compile one manifest."""
    api = str(manifest.get("apiVersion") or "")
    kind = str(manifest.get("kind") or "")
    meta = manifest.get("metadata") or {}
    spec = manifest.get("spec") or {}
    name = str(meta.get("name") or "")
    ns = meta.get("namespace")
    where = f"{kind}/{ns or ''}/{name}"
    if api == K8S_API and kind == "NetworkPolicy":
        if not ns:
            raise PolicyError(f"{where}: a NetworkPolicy needs a namespace")
        types = spec.get("policyTypes") or (
            ["Ingress", "Egress"] if "egress" in spec else ["Ingress"]
        )
        applied = (Peer(pod=Selector.parse(spec.get("podSelector"), where), policy_namespace=ns),)
        return CompiledPolicy(
            where,
            False,
            False,
            ns,
            0,
            0.0,
            applied,
            RuleIndex(_rules(spec.get("egress"), "egress", where, False, ns))
            if "Egress" in types
            else None,
            RuleIndex(_rules(spec.get("ingress"), "ingress", where, False, ns))
            if "Ingress" in types
            else None,
        )
    if api.startswith(ANTREA_GROUPS) and kind in ("NetworkPolicy", "ClusterNetworkPolicy"):
        cluster = kind == "ClusterNetworkPolicy"
        scope = None if cluster else ns
        if not cluster and not ns:
            raise PolicyError(f"{where}: an Antrea NetworkPolicy needs a namespace")
        tier_name = str(spec.get("tier") or "Application").lower()
        if tier_name not in TIER_PRIORITIES:
            raise PolicyError(f"{where}: unknown tier {spec.get('tier')!r}")
        if "priority" not in spec:
            raise PolicyError(f"{where}: spec.priority is required")
        egress = _rules(spec.get("egress"), "egress", where, True, scope)
        ingress = _rules(spec.get("ingress"), "ingress", where, True, scope)
        applied_raw = spec.get("appliedTo")
        if applied_raw:
            applied = tuple(Peer.parse(a, where, scope) for a in applied_raw)
        else:
            applied = tuple(a for r in (*egress, *ingress) for a in (r.applied_to or ()))
            if not applied:
                raise PolicyError(f"{where}: no appliedTo")
        return CompiledPolicy(
            where,
            True,
            cluster,
            scope,
            TIER_PRIORITIES[tier_name],
            float(spec["priority"]),
            applied,
            RuleIndex(egress),
            RuleIndex(ingress),
        )
    raise PolicyError(f"{where}: unsupported apiVersion/kind {api}/{kind}")


class PolicySet:
    """A compiled set of policies that answers "is this flow allowed?"."""

    def __init__(
        self,
        manifests: Iterable[Mapping[str, Any]],
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self._index([compile_policy(m) for m in manifests], namespace_labels)

    @classmethod
    def from_compiled(
        cls,
        compiled: Iterable[CompiledPolicy],
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> PolicySet:
        """A set of policies compiled one by one (:func:`compile_policy`)."""
        self = cls.__new__(cls)
        self._index(compiled, namespace_labels)
        return self

    def _index(
        self,
        compiled: Iterable[CompiledPolicy],
        namespace_labels: Mapping[str, Mapping[str, str]] | None,
    ) -> None:
        self.policies = sorted(compiled, key=CompiledPolicy.sort_key)
        self._ns_extra = {k: dict(v) for k, v in (namespace_labels or {}).items()}
        # appliedTo index: (namespace, one required label pair) -> policies, so an endpoint
        # only checks policies that can select it. Position = order in self.policies.
        self._position = {id(p): n for n, p in enumerate(self.policies)}
        self._by_label: dict[tuple[str, tuple[str, str]], list[CompiledPolicy]] = {}
        self._by_ns: dict[str, list[CompiledPolicy]] = {}
        self._generic: list[CompiledPolicy] = []
        for p in self.policies:
            for a in p.applied_to:
                ns = p.namespace if not p.cluster_scoped else None
                if p.cluster_scoped and a.namespace is not None and a.cidr is None:
                    ns = a.namespace.exact_namespace()
                if ns is None or a.self_namespace or a.cidr is not None:
                    self._generic.append(p)
                elif a.pod is not None and a.pod.match_labels:
                    self._by_label.setdefault((ns, a.pod.match_labels[0]), []).append(p)
                else:
                    self._by_ns.setdefault(ns, []).append(p)
        self._ns_cache: dict[str, dict[str, str]] = {}
        self._applied_cache: dict[tuple[str, Labels], tuple[list[CompiledPolicy], ...]] = {}

    def pod_label_keys(self) -> frozenset[str]:
        """Every pod label key a selector of the set reads (appliedTo and rule peers).

        A label whose key is not in here cannot change any verdict of this set."""
        keys: set[str] = set()
        for p in self.policies:
            _add_pod_label_keys(keys, p.applied_to)
            for index in (p.egress, p.ingress):
                if index is not None:
                    keys |= index.label_keys
        return frozenset(keys)

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        labels = self._ns_cache.get(namespace)
        if labels is None:
            labels = {NS_NAME_LABEL: namespace}
            labels.update(self._ns_extra.get(namespace, {}))
            self._ns_cache[namespace] = labels
        return labels

    def _applied(self, ep: Endpoint) -> tuple[list[CompiledPolicy], ...]:
        key = (ep.namespace or "", ep.labels)
        cached = self._applied_cache.get(key)
        if cached is not None:
            return cached
        ns_labels = self.namespace_labels(ep.namespace or "")
        ns_name = ns_labels.get(NS_NAME_LABEL, ep.namespace or "")
        names = {ep.namespace or "", ns_name}
        candidates = [*self._generic]
        for n in names:
            candidates.extend(self._by_ns.get(n, ()))
            for pair in ep.labels:
                candidates.extend(self._by_label.get((n, pair), ()))
        unique = {id(p): p for p in candidates}
        applied = [
            p
            for p in sorted(unique.values(), key=lambda p: self._position[id(p)])
            if any(a.matches(ep, ns_labels, ep.namespace) for a in p.applied_to)
        ]
        result = (
            [p for p in applied if p.antrea and p.tier < BASELINE],
            [p for p in applied if not p.antrea],
            [p for p in applied if p.antrea and p.tier >= BASELINE],
        )
        self._applied_cache[key] = result
        return result

    def _direction(self, ep: Endpoint, peer: Endpoint, flow: Flow, egress: bool) -> Decision:
        # Runs twice per replayed flow: cached lookups are inlined, no per-call objects.
        ep_ns = ep.namespace
        if ep_ns is None:
            return _NOT_A_POD
        applied = self._applied_cache.get((ep_ns, ep.labels))
        antrea, k8s, baseline = applied if applied is not None else self._applied(ep)
        ns_cache = self._ns_cache
        peer_ns = peer.namespace
        ns_labels = None
        if peer_ns is not None:
            ns_labels = ns_cache.get(peer_ns) or self.namespace_labels(peer_ns)
        own_labels = ns_cache.get(ep_ns) or self.namespace_labels(ep_ns)
        for p in antrea:
            index = p.egress if egress else p.ingress
            rule = index.first_match(ep, peer, flow, ns_labels, own_labels) if index else None
            if rule is None:
                continue
            if rule.action == "Pass":
                break  # a Pass continues with the Kubernetes layer, as no match does
            return rule.decision or self._rule_decision(p, rule)
        if k8s:
            isolating = [p for p in k8s if (p.egress if egress else p.ingress) is not None]
            if isolating:
                for p in isolating:
                    index = p.egress if egress else p.ingress
                    assert index is not None
                    rule = index.first_match(ep, peer, flow, ns_labels, own_labels)
                    if rule is not None:
                        return rule.decision or self._rule_decision(p, rule)
                return Decision(False, "isolated", isolating[0].ident)
        for p in baseline:
            index = p.egress if egress else p.ingress
            rule = index.first_match(ep, peer, flow, ns_labels, own_labels) if index else None
            if rule is None:
                continue
            if rule.action == "Pass":
                break
            return rule.decision or self._rule_decision(p, rule)
        return _DEFAULT

    def evaluate(self, flow: Flow) -> Verdict:
        return Verdict(
            flow,
            self._direction(flow.source, flow.destination, flow, egress=True),
            self._direction(flow.destination, flow.source, flow, egress=False),
        )

    def _rule_decision(self, policy: CompiledPolicy, rule: Rule) -> Decision:
        # Decisions are shared per rule (kept on the rule, which belongs to this one policy):
        # a replay creates no objects for allowed flows.
        decision = rule.decision
        if decision is None:
            allowed = rule.action == "Allow" or not policy.antrea
            decision = rule.decision = Decision(allowed, "rule", policy.ident, rule.index)
        return decision

    def violations(
        self, flows: Iterable[Flow], *, egress: bool = True, ingress: bool = True
    ) -> list[Verdict]:
        """Verdicts of the flows that are not allowed.

        With ``egress`` or ``ingress`` False, only the other direction is checked (the set
        holds the policies of one end only); the unchecked one reads ``not-checked``."""
        if not (egress and ingress):
            return self._one_way_violations(flows, egress)
        out = []
        direction = self._direction
        for flow in flows:
            src = flow.source
            dst = flow.destination
            outgoing = direction(src, dst, flow, True)
            if outgoing.allowed:
                incoming = direction(dst, src, flow, False)
                if incoming.allowed:
                    continue
            else:
                incoming = direction(dst, src, flow, False)
            out.append(Verdict(flow, outgoing, incoming))
        return out

    def _one_way_violations(self, flows: Iterable[Flow], egress: bool) -> list[Verdict]:
        out = []
        direction = self._direction
        for flow in flows:
            src = flow.source
            dst = flow.destination
            if egress:
                decision = direction(src, dst, flow, True)
                if not decision.allowed:
                    out.append(Verdict(flow, decision, _NOT_CHECKED))
            else:
                decision = direction(dst, src, flow, False)
                if not decision.allowed:
                    out.append(Verdict(flow, _NOT_CHECKED, decision))
        return out
