"""Turn reduced flow tuples into NetworkPolicies (pure; linear in the number of tuples).

Each accepted tuple gives its source group an egress peer and its destination group an ingress
peer (a group = namespace + labels minus the ignore list), each with the tuple's port. A group's
peers are then gathered into rules by their exact port set: one rule per (direction, port set)
lists every peer reached on exactly those ports, as a person would write it. A rule admits the
union of what its peers' one-rule-per-peer expansion admits and nothing more, because every
peer in it was seen on every one of its ports. Rules sort by their first peer and peers sort
within a rule, so output does not depend on row order.

Deliberate differences from theia-sf: flows from outside the cluster become ingress rules from
an ipBlock; empty or ``null`` labels mean "no labels"; only TCP, UDP and SCTP are emitted (other
protocols are skipped and counted); tuples that cannot yield a valid rule (no namespace on an
intra-cluster endpoint, bad labels or IPs) are skipped and counted by reason instead of
crashing; Kubernetes peers select namespaces by ``kubernetes.io/metadata.name``; names are
stable; in ``k8s-np`` mode no Antrea object is emitted.

Evidence (flows, bytes, first and last seen per peer) is not computed here: each tuple only
notes which (group, direction, peer) "cell" it fed, and the warehouse sums the tuples of each
cell (see ``sql/recommendation/insert_recommendation_evidence.sql``).

Per tuple and per peer this module keeps immutable tuples (ports, peers, flows) rather than
sets or objects: a large run holds hundreds of thousands of them, and the garbage collector
visits every mutable container again and again while they live (that cost as much as the
building itself).
"""

from __future__ import annotations

import ipaddress
import json
import socket
from array import array
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from theia_sf.identifiers import LABEL_NAME_PATTERN, is_label_key, is_label_value, is_namespace
from theia_sf.policyeval import NS_NAME_LABEL, Endpoint, Flow
from theia_sf.recommendation import naming
from theia_sf.recommendation.model import (
    FLOW_FROM_EXTERNAL,
    FLOW_INTER_NODE,
    FLOW_INTRA_NODE,
    FLOW_TO_EXTERNAL,
    PROTOCOL_NUMBERS,
    FlowTuple,
    Options,
    PolicyType,
    RecommendedPolicy,
    RulePeer,
    SkipReason,
)

K8S_API_VERSION = "networking.k8s.io/v1"
PRIORITY = 5

Labels = tuple[tuple[str, str], ...]
Port = tuple[int, str]
# Peers sort as: ipBlocks (by address family, then address), Services, pods (by namespace,
# then labels): (0, version, network number, prefix length, cidr), (1, ns, name), (2, ns, labels).
Peer = tuple[Any, ...]
GroupKey = tuple[str, Labels]  # namespace, labels minus the ignore list

# Row positions (FlowTuple order); rows may be FlowTuples or the warehouse's plain tuples, and a
# row read back from the warehouse carries the tuple's id after the FlowTuple columns.
(SRC_NS, SRC_LABELS, SRC_IP, DST_IP, DST_NS, DST_LABELS, SVC, DST_PORT, PROTO, FLOW_TYPE,
 FLOWS, BYTES, FIRST, LAST, TUPLE_ID) = range(15)  # fmt: skip


class _Invalid(Exception):
    def __init__(self, reason: SkipReason) -> None:
        self.reason = reason


def parse_labels(raw: str | None) -> Labels:
    """Pod labels as written by the Flow Aggregator: a flat JSON object of strings, empty, ``{}``
    or ``null``. Anything else (nested values, a list, JSON nested too deep to parse) is
    invalid: the tuple is skipped and counted, never a crash."""
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
        except (ValueError, RecursionError):
            raise _Invalid(SkipReason.INVALID_LABELS) from None
    except RecursionError:  # e.g. 1,000 nested objects: not labels
        raise _Invalid(SkipReason.INVALID_LABELS) from None
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise _Invalid(SkipReason.INVALID_LABELS)
    for k, v in value.items():
        if not is_label_key(k) or not is_label_value(v):
            raise _Invalid(SkipReason.INVALID_LABELS)
    return tuple(sorted(value.items()))


def label_strip_patterns(ignore: Iterable[str]) -> tuple[str, str] | None:
    """Regular expressions with which the reduction drops ignored labels in the warehouse
    (``select_flow_tuples.sql``): the label texts it may rewrite, and one ignored pair with
    the comma after it. None when there is no key to drop there.

    The rewrite gives the builder what :func:`parse_labels` plus the ignore list give, because
    a text it touches is a compact JSON object of plain ``"key":"value"`` pairs (no spaces,
    escapes or nesting) whose every value is a valid label value, and only keys that are valid
    label keys are dropped: parsing the rewritten text gives the same labels minus the ignored
    ones, and a text is skipped as invalid after the rewrite exactly when it was before. No
    other text is touched. Works in RE2 (DuckDB) and POSIX (Snowflake) alike."""
    keys = sorted({key for key in ignore if is_label_key(key)})
    if not keys:
        return None
    pair = f'"[-A-Za-z0-9_./]+":"({LABEL_NAME_PATTERN})?"'
    text = rf"^\{{({pair}(,{pair})*)?\}}$"
    names = "|".join(key.replace(".", "[.]") for key in keys)
    return text, f'"({names})":"[^"]*",?'


def _address(raw: str | None) -> tuple[int, int, str]:
    """(version, number, canonical text) of an address; ``inet_pton`` costs a tenth of
    ``ipaddress`` and runs once per distinct address."""
    if not raw:
        raise _Invalid(SkipReason.INVALID_IP)
    text = raw.strip()
    family, version = (socket.AF_INET6, 6) if ":" in text else (socket.AF_INET, 4)
    try:
        packed = socket.inet_pton(family, text)
    except (OSError, ValueError):
        raise _Invalid(SkipReason.INVALID_IP) from None
    return version, int.from_bytes(packed, "big"), socket.inet_ntop(family, packed)


def _service(svc_port_name: str | None) -> tuple[str, str] | None:
    """``<ns>/<name>:<port name>`` to (ns, name); None when absent or malformed."""
    if not svc_port_name:
        return None
    ns, sep, rest = svc_port_name.partition("/")
    name = rest.split(":", 1)[0]
    if not sep or not is_namespace(ns) or not is_namespace(name):
        return None
    return ns, name


def peer_text(peer: Peer) -> str:
    """How the report and the Theia page name a peer."""
    if peer[0] == 0:
        return str(peer[4])
    if peer[0] == 1:
        return f"service {peer[1]}/{peer[2]}"
    labels = ",".join(f"{k}={v}" for k, v in peer[2])
    return f"{peer[1]}/{{{labels}}}"


@dataclass(slots=True)
class _Group:
    """A group's peers per direction, each with its cell: the number under which the builder
    keeps the ports that (group, direction, peer) was seen on (:attr:`Builder.cell_ports`)."""

    egress: dict[Peer, int] = field(default_factory=dict)
    ingress: dict[Peer, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WidenedBlock:
    """An ipBlock that external-peer compaction widened: the addresses it admits that no
    flow of the window came from or went to."""

    cidr: str
    seen: int
    unseen: int


class Builder:
    """Adds tuples to groups (single pass; what depends on one raw value alone, such as the
    parse of a label text, is worked out once per value).

    ``owned`` restricts the build to the namespaces of one shard of a run: the builder then
    makes the egress side of tuples whose source namespace it owns and the ingress side of those
    whose destination it owns. It counts (and reports as skipped) a tuple when it owns the
    source namespace, or the destination when the source has none, or neither has one and
    ``counts_orphans`` is set (one shard of a run does that), so shards add up to the run.
    """

    def __init__(
        self,
        options: Options,
        owned: Collection[str] | None = None,
        counts_orphans: bool = True,
    ) -> None:
        self.options = options
        self.owned = None if owned is None else frozenset(owned)
        self.counts_orphans = counts_orphans
        self.allow = frozenset(options.ns_allow_list)
        self.ignore = frozenset(options.label_ignore_list)
        self.use_services = options.to_services and options.policy_type != PolicyType.K8S_NP
        self.groups: dict[GroupKey, _Group] = {}
        self._labels: dict[str | None, Labels | SkipReason] = {}
        self._ips: dict[str, tuple[Peer, Endpoint] | SkipReason] = {}
        self._pods: dict[tuple[str, str | None], tuple[Endpoint, GroupKey | None]] = {}
        self.skipped: dict[str, Counter[str]] = {}
        self.tuple_count = 0
        self.flow_count = 0
        # The self-check's flows (each once): those whose egress this build decides (source
        # pod in an owned namespace) and those whose ingress it decides.
        self.egress_flows: dict[Flow, None] = {}  # dicts as ordered sets
        self.ingress_flows: dict[Flow, None] = {}
        # The ports of every cell (by cell number, in the order cells were first seen), and for
        # every tuple that fed a rule here (when rows carry ids) the cells of its egress and
        # ingress sides (-1: none): the warehouse sums each cell's evidence.
        self.cell_ports: list[tuple[Port, ...]] = []
        self.fed_tuples = array("q")
        self.fed_egress = array("q")
        self.fed_ingress = array("q")
        self._fed = {"egress": -1, "ingress": -1}  # the cells of the tuple being added
        # Addresses seen per widened ipBlock (external-peer compaction).
        self.block_addresses: dict[str, set[str]] = {}

    def _owns(self, ns: str | None) -> bool:
        return self.owned is None or ns in self.owned

    def add(self, row: Sequence[Any]) -> None:
        src_ns, dst_ns = row[SRC_NS] or None, row[DST_NS] or None
        egress, ingress = self._owns(src_ns), self._owns(dst_ns)
        counted = self.owned is None or (
            (src_ns in self.owned)
            or (
                src_ns is None
                and (dst_ns in self.owned or (dst_ns is None and self.counts_orphans))
            )
        )
        flows = int(row[FLOWS] or 0)
        if counted:
            self.tuple_count += 1
            self.flow_count += flows
        fed = self._fed
        fed["egress"] = fed["ingress"] = -1
        try:
            self._add(row, egress, ingress)
            if len(row) > TUPLE_ID and (fed["egress"] >= 0 or fed["ingress"] >= 0):
                self.fed_tuples.append(int(row[TUPLE_ID]))
                self.fed_egress.append(fed["egress"])
                self.fed_ingress.append(fed["ingress"])
        except _Invalid as invalid:
            if counted:
                c = self.skipped.setdefault(invalid.reason.value, Counter())
                c["tuples"] += 1
                c["flows"] += flows

    def labels(self, raw: str | None) -> Labels:
        """Labels minus the ignore list, parsed once per distinct text."""
        found = self._labels.get(raw)
        if found is None:
            try:
                found = tuple(kv for kv in parse_labels(raw) if kv[0] not in self.ignore)
            except _Invalid as invalid:
                found = invalid.reason
            self._labels[raw] = found
        if isinstance(found, SkipReason):
            raise _Invalid(found)
        return found

    def pod(
        self, ns: str | None, raw_labels: str | None, missing: SkipReason
    ) -> tuple[Endpoint, GroupKey | None]:
        """The pod endpoint the self-check replays (labels minus the ignore list: no selector
        made here reads an ignored key, and the service checks that the set agrees) and its
        group (None in an allow-listed namespace, which gets the namespace-wide ACNP only)."""
        if not ns:
            raise _Invalid(missing)
        found = self._pods.get((ns, raw_labels))
        if found is None:
            if not is_namespace(ns):
                raise _Invalid(SkipReason.INVALID_NAMESPACE)
            labels = self.labels(raw_labels)
            found = Endpoint(ns, labels), (None if ns in self.allow else (ns, labels))
            self._pods[(ns, raw_labels)] = found
        return found

    def ip(self, raw: str | None) -> tuple[Peer, Endpoint]:
        """The ipBlock peer of an address outside the cluster (widened to the compaction
        prefix, if any) and its endpoint."""
        found = self._ips.get(raw or "")
        if found is None:
            try:
                version, number, text = _address(raw)
                prefix = self.options.external_prefix(version)
                bits = 32 if version == 4 else 128
                if prefix == bits:
                    peer = (0, version, number, prefix, f"{text}/{bits}")
                else:  # compaction: the block of that prefix holding the address
                    network = ipaddress.ip_network(f"{text}/{prefix}", strict=False)
                    peer = (0, version, int(network.network_address), prefix, str(network))
                found = (peer, Endpoint(ip=text))
            except _Invalid as invalid:
                found = invalid.reason
            self._ips[raw or ""] = found
        if isinstance(found, SkipReason):
            raise _Invalid(found)
        peer, endpoint = found
        if peer[3] < (32 if peer[1] == 4 else 128):
            self.block_addresses.setdefault(peer[4], set()).add(str(endpoint.ip))
        return found

    def _feed(
        self,
        row: Sequence[Any],
        group: GroupKey | None,
        direction: str,
        peer: Peer,
        port: Port | None,
    ) -> None:
        if group is None:
            return
        found = self.groups.get(group)
        if found is None:
            found = self.groups[group] = _Group()
        peers = found.egress if direction == "egress" else found.ingress
        cell = peers.get(peer)
        if cell is None:
            cell = peers[peer] = len(self.cell_ports)
            self.cell_ports.append(() if port is None else (port,))
        elif port is not None:
            ports = self.cell_ports[cell]
            if port not in ports:  # a peer is seen on a few ports at most
                self.cell_ports[cell] = (*ports, port)
        self._fed[direction] = cell

    def _add(self, row: Sequence[Any], egress: bool, ingress: bool) -> None:
        proto = PROTOCOL_NUMBERS.get(row[PROTO])
        if proto is None:
            raise _Invalid(SkipReason.UNSUPPORTED_PROTOCOL)
        dst_port = row[DST_PORT]
        if dst_port is None or not 1 <= dst_port <= 65535:
            raise _Invalid(SkipReason.INVALID_PORT)
        port: Port = (int(dst_port), proto.value)
        flow_type = row[FLOW_TYPE]
        if flow_type == FLOW_FROM_EXTERNAL:
            peer, outside = self.ip(row[SRC_IP])
            dst, dst_group = self.pod(
                row[DST_NS], row[DST_LABELS], SkipReason.DESTINATION_WITHOUT_NAMESPACE
            )
            if ingress:
                self._feed(row, dst_group, "ingress", peer, port)
                self.ingress_flows[Flow(outside, dst, port[0], port[1])] = None
            return
        if flow_type not in (FLOW_INTRA_NODE, FLOW_INTER_NODE, FLOW_TO_EXTERNAL):
            raise _Invalid(SkipReason.UNKNOWN_FLOW_TYPE)
        src, src_group = self.pod(row[SRC_NS], row[SRC_LABELS], SkipReason.SOURCE_WITHOUT_NAMESPACE)
        src_peer = (2, src.namespace, src.labels)
        if flow_type == FLOW_TO_EXTERNAL:
            peer, outside = self.ip(row[DST_IP])
            if egress:
                self._feed(row, src_group, "egress", peer, port)
                self.egress_flows[Flow(src, outside, port[0], port[1])] = None
            return
        service = _service(row[SVC])
        if service is not None and self.use_services:
            # toServices rules carry no ports (Antrea rejects ports next to toServices). Without
            # a backend pod the destination is unknown (an endpoint of no namespace).
            backend = None
            if row[DST_NS]:
                backend = self.pod(
                    row[DST_NS], row[DST_LABELS], SkipReason.DESTINATION_WITHOUT_NAMESPACE
                )
            flow = Flow(src, backend[0] if backend else Endpoint(), port[0], port[1], service)
            if egress:
                self._feed(row, src_group, "egress", (1, *service), None)
                self.egress_flows[flow] = None
            if backend is not None and ingress:
                self._feed(row, backend[1], "ingress", src_peer, port)
                self.ingress_flows[flow] = None
            return
        dst, dst_group = self.pod(
            row[DST_NS], row[DST_LABELS], SkipReason.DESTINATION_WITHOUT_NAMESPACE
        )
        flow = Flow(src, dst, port[0], port[1], service)
        if egress:
            self._feed(row, src_group, "egress", (2, dst.namespace, dst.labels), port)
            self.egress_flows[flow] = None
        if ingress:
            self._feed(row, dst_group, "ingress", src_peer, port)
            self.ingress_flows[flow] = None


def _selector(labels: Labels) -> dict[str, Any]:
    return {"matchLabels": dict(labels)} if labels else {}


def _ns_selector(ns: str) -> dict[str, Any]:
    return {"matchLabels": {NS_NAME_LABEL: ns}}


def _peer_entry(peer: Peer) -> dict[str, Any]:
    if peer[0] == 0:
        return {"ipBlock": {"cidr": peer[4]}}
    return {"namespaceSelector": _ns_selector(peer[1]), "podSelector": _selector(peer[2])}


def merged_rules(
    peers: Mapping[Peer, int], cell_ports: Sequence[tuple[Port, ...]]
) -> list[tuple[tuple[Port, ...], list[tuple[Peer, int]]]]:
    """A direction's peers (with their cells) gathered by exact port set: (sorted ports,
    sorted peers) per rule, rules in the order of their first peer."""
    by_ports: dict[tuple[Port, ...], list[tuple[Peer, int]]] = {}
    for peer, cell in peers.items():
        ports = cell_ports[cell]
        by_ports.setdefault(tuple(sorted(ports)) if len(ports) > 1 else ports, []).append(
            (peer, cell)
        )
    rules = [(ports, sorted(members)) for ports, members in by_ports.items()]  # peers differ
    return sorted(rules, key=lambda rule: rule[1][0])


def _rule(ports: tuple[Port, ...], peers: list[Peer], key: str, antrea: bool) -> dict[str, Any]:
    rule: dict[str, Any] = {"action": "Allow"} if antrea else {}
    if not ports:  # Services: toServices, no ports
        rule["toServices"] = [{"name": p[2], "namespace": p[1]} for p in peers]
        return rule
    rule[key] = [_peer_entry(p) for p in peers]
    rule["ports"] = [{"port": p, "protocol": proto} for p, proto in ports]
    return rule


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
        _acnp(api, naming.namespace_allow_acnp_name(ns), "Platform", "Allow",
              {"namespaceSelector": _ns_selector(ns)})
        for ns in options.ns_allow_list
    ]  # fmt: skip
    if options.policy_type == PolicyType.ANP_DENY_ALL:
        out.append(_acnp(api, naming.REJECT_ALL_ACNP_NAME, "Baseline", "Reject",
                         {"namespaceSelector": {}, "podSelector": {}}))  # fmt: skip
    return out


def group_policies(
    options: Options,
    ns: str,
    labels: Labels,
    group: _Group,
    cell_ports: Sequence[tuple[Port, ...]],
) -> list[RecommendedPolicy]:
    """The allow policy of a group (and its Baseline reject in ``anp-deny-applied``)."""
    antrea = options.policy_type != PolicyType.K8S_NP
    directions: dict[str, list[dict[str, Any]]] = {"egress": [], "ingress": []}
    peers: list[RulePeer] = []
    cells: list[int] = []
    for direction, key in (("egress", "to"), ("ingress", "from")):
        merged = merged_rules(getattr(group, direction), cell_ports)
        for index, (ports, members) in enumerate(merged):
            directions[direction].append(_rule(ports, [p for p, _ in members], key, antrea))
            peers.extend(RulePeer(direction, index, n, p) for n, (p, _) in enumerate(members))
            cells.extend(cell for _, cell in members)
    rule_count = len(directions["egress"]) + len(directions["ingress"])
    if not antrea:
        name = naming.k8s_np_name(ns, labels)
        types = [t for t, d in (("Egress", "egress"), ("Ingress", "ingress")) if directions[d]]
        manifest = {
            "apiVersion": K8S_API_VERSION,
            "kind": "NetworkPolicy",
            "metadata": _metadata(name, ns),
            "spec": {**directions, "podSelector": _selector(labels), "policyTypes": types},
        }
        return [RecommendedPolicy("NetworkPolicy", K8S_API_VERSION, ns, name, manifest,
                                  rule_count, tuple(peers), tuple(cells))]  # fmt: skip
    api = options.antrea_api_version.value
    name = naming.allow_anp_name(ns, labels)
    manifest = {
        "apiVersion": api,
        "kind": "NetworkPolicy",
        "metadata": _metadata(name, ns),
        "spec": {
            "appliedTo": [{"podSelector": _selector(labels)}],
            **directions,
            "priority": PRIORITY,
            "tier": "Application",
        },
    }
    out = [
        RecommendedPolicy(
            "NetworkPolicy", api, ns, name, manifest, rule_count, tuple(peers), tuple(cells)
        )
    ]
    if options.policy_type == PolicyType.ANP_DENY_APPLIED:
        applied = {"namespaceSelector": _ns_selector(ns), "podSelector": _selector(labels)}
        out.append(_acnp(api, naming.reject_acnp_name(ns, labels), "Baseline", "Reject", applied))
    return out


# A policy's place in a run: (0, "", (), n) for the n-th static policy, (1, namespace, labels,
# n) for the n-th policy of a group. Shards of a run merge into this order.
PolicyOrder = tuple[int, str, Labels, int]


@dataclass
class Collected:
    """The tuples of a run (or of one shard) reduced to groups; policies are made on demand."""

    options: Options
    groups: dict[GroupKey, _Group]
    egress_flows: dict[Flow, None]
    ingress_flows: dict[Flow, None]
    cell_ports: list[tuple[Port, ...]]
    fed_tuples: array
    fed_egress: array
    fed_ingress: array
    block_addresses: dict[str, set[str]]
    tuple_count: int
    flow_count: int
    skipped: dict[str, dict[str, int]]
    with_static: bool = True
    warnings: list[str] = field(default_factory=list)

    @property
    def skipped_tuples(self) -> int:
        return sum(v["tuples"] for v in self.skipped.values())

    def flows(self) -> list[Flow]:
        """Every flow the self-check replays, once."""
        return list({**self.egress_flows, **self.ingress_flows})

    def widened_blocks(self) -> list[WidenedBlock]:
        out = []
        for cidr, addresses in sorted(self.block_addresses.items()):
            size = ipaddress.ip_network(cidr).num_addresses
            out.append(WidenedBlock(cidr, len(addresses), size - len(addresses)))
        return out

    def keyed_policies(self) -> Iterator[tuple[PolicyOrder, RecommendedPolicy]]:
        """Every policy with its place in the run's order (static ones first, then per group
        sorted by namespace and labels). ``warnings`` is complete once this is exhausted."""
        seen: set[str] = set()
        self.warnings.clear()

        def checked(policy: RecommendedPolicy) -> RecommendedPolicy:
            if policy.key in seen:  # a hash collision would silently merge two workloads
                raise RuntimeError(f"duplicate policy name {policy.key}; report this as a bug")
            seen.add(policy.key)
            return policy

        if self.with_static:
            for n, policy in enumerate(static_policies(self.options)):
                yield (0, "", (), n), checked(policy)
        for ns, labels in sorted(self.groups):
            made = group_policies(
                self.options, ns, labels, self.groups[(ns, labels)], self.cell_ports
            )
            if not labels:
                self.warnings.append(
                    f"empty selector: {made[0].name} applies to every pod of namespace {ns!r} "
                    "(flows from pods without labels, or only ignored labels)"
                )
            for n, policy in enumerate(made):
                yield (1, ns, labels, n), checked(policy)

    def policies(self) -> list[RecommendedPolicy]:
        return [policy for _, policy in self.keyed_policies()]


def collect(
    tuples: Iterable[FlowTuple | Sequence[Any]],
    options: Options,
    *,
    owned: Collection[str] | None = None,
    counts_orphans: bool = True,
) -> Collected:
    """Reduce the tuples (FlowTuples or plain rows in the same column order, optionally with
    the tuple id after them) to groups; with ``owned``, one shard's part (see :class:`Builder`)."""
    builder = Builder(options, owned, counts_orphans)
    for row in tuples:
        builder.add(row)
    return Collected(
        options,
        builder.groups,
        builder.egress_flows,
        builder.ingress_flows,
        builder.cell_ports,
        builder.fed_tuples,
        builder.fed_egress,
        builder.fed_ingress,
        builder.block_addresses,
        builder.tuple_count,
        builder.flow_count,
        {
            k: {"tuples": v["tuples"], "flows": v["flows"]}
            for k, v in sorted(builder.skipped.items())
        },
        with_static=counts_orphans,
    )


@dataclass(frozen=True, slots=True)
class Recommendation:
    """The policies of one run, the flows the self-check replays (one per class of tuples
    that differ only in ignored labels), and what was skipped."""

    policies: tuple[RecommendedPolicy, ...]
    flows: tuple[Flow, ...]
    tuple_count: int
    flow_count: int
    skipped: Mapping[str, Mapping[str, int]]
    warnings: tuple[str, ...]
    widened: tuple[WidenedBlock, ...] = ()

    @property
    def skipped_tuples(self) -> int:
        return sum(v["tuples"] for v in self.skipped.values())


def build_recommendation(
    tuples: Iterable[FlowTuple | Sequence[Any]], options: Options
) -> Recommendation:
    """All policies for the tuples at once."""
    collected = collect(tuples, options)
    policies = tuple(collected.policies())
    return Recommendation(
        policies,
        tuple(collected.flows()),
        collected.tuple_count,
        collected.flow_count,
        collected.skipped,
        tuple(collected.warnings),
        tuple(collected.widened_blocks()),
    )
