"""Turn reduced flow tuples into NetworkPolicies (pure; linear in the number of tuples).

Each accepted tuple adds an egress rule to its source group and an ingress rule to its
destination group (a group = namespace + labels minus the ignore list). Rules are merged per
peer (one rule with all its ports) and sorted, so output does not depend on row order.

Deliberate differences from theia-sf: flows from outside the cluster
become ingress rules from an ipBlock; empty or ``null`` labels mean "no labels"; only TCP, UDP
and SCTP are emitted (other protocols are skipped and counted); tuples that cannot yield a valid
rule (no namespace on an intra-cluster endpoint, bad labels or IPs) are skipped and counted by
reason instead of crashing; Kubernetes peers select namespaces by ``kubernetes.io/metadata.name``;
names are stable; in ``k8s-np`` mode no Antrea object is emitted.
"""

from __future__ import annotations

import json
import socket
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableSequence, Sequence
from dataclasses import dataclass
from typing import Any

from theia_sf.policyeval import NS_NAME_LABEL, Endpoint, Flow, add_one_or_many, one_or_many
from theia_sf.recommendation import naming
from theia_sf.recommendation.model import (
    FLOW_FROM_EXTERNAL,
    FLOW_INTER_NODE,
    FLOW_INTRA_NODE,
    FLOW_TO_EXTERNAL,
    LABEL_NAME_PATTERN,
    PROTOCOL_NUMBERS,
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
# Protocol names as plain strings: reading an enum member's .value per tuple is slow.
_PROTOCOL_NAMES = {number: proto.value for number, proto in PROTOCOL_NUMBERS.items()}
# A replayed flow keeps its protocol as the number the flow record has.
_PROTOCOL_NUMBERS = {proto.value: number for number, proto in PROTOCOL_NUMBERS.items()}
PRIORITY = 5

Labels = tuple[tuple[str, str], ...]
# Peers sort as: ipBlocks (by address family and address), Services, pods (by namespace, labels).
IpPeer = tuple[int, int, int, str]
ServicePeer = tuple[int, str, str]
PodPeer = tuple[int, str, Labels]
Peer = tuple[Any, ...]
_GroupKey = tuple[str, Labels]  # namespace, labels minus the ignore list
# A policy's place in a run: (0, "", (), n) for the n-th static policy, (1, namespace, labels,
# n) for the n-th policy of a group.
PolicyOrder = tuple[int, str, Labels, int]
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


def _ip(raw: str | None) -> tuple[int, int, str]:
    """(version, number, /32 or /128 CIDR) of an address; inet_pton is much faster than
    ``ipaddress`` and runs once per distinct address."""
    if not raw:
        raise _Invalid(SkipReason.INVALID_IP)
    text = raw.strip()
    family, version, bits = (socket.AF_INET6, 6, 128) if ":" in text else (socket.AF_INET, 4, 32)
    try:
        packed = socket.inet_pton(family, text)
    except (OSError, ValueError):
        raise _Invalid(SkipReason.INVALID_IP) from None
    return version, int.from_bytes(packed, "big"), f"{socket.inet_ntop(family, packed)}/{bits}"


def _service(svc_port_name: str | None) -> tuple[str, str] | None:
    """``<ns>/<name>:<port name>`` to (ns, name); None when absent or malformed."""
    if not svc_port_name:
        return None
    ns, sep, rest = svc_port_name.partition("/")
    name = rest.split(":", 1)[0]
    if not sep or not is_namespace(ns) or not is_namespace(name):
        return None
    return ns, name


# Evidence times of a rule no tuple gave a time (the warehouse may return NULL).
NO_FIRST = 2**63 - 1
NO_LAST = -(2**63)


def _packed(values: list[Any], typecode: str) -> MutableSequence[int]:
    """``values`` as an array of C numbers (8 bytes or less each instead of a pointer and an
    object), or as a list when one does not fit (a corrupt counter, say). Numbers of another
    type (a Decimal from a warehouse) become ints. Filling lists and packing them once is much
    faster than appending to arrays one value at a time."""
    try:
        return array(typecode, values)
    except TypeError:
        return _packed([int(v) for v in values], typecode)
    except OverflowError:
        return values


class _Rules:
    """The rules of one group in one direction, one per peer: ``index`` maps a peer id to the
    rule's row; the rows' ports and evidence (flows, bytes, first and last seen) are columns.
    A large run has millions of rules, so once collected the evidence is packed into arrays
    (see :meth:`pack`): an object and four ints each would hold about twice the memory.

    A rule's ports are one shared sorted tuple per distinct set of ports (see _Builder.rule).
    """

    __slots__ = ("first", "flows", "index", "last", "octets", "ports")

    def __init__(self) -> None:
        self.index: dict[int, int] = {}
        self.ports: list[tuple[Port, ...]] = []
        self.flows: MutableSequence[int] = []
        self.octets: MutableSequence[int] = []
        self.first: MutableSequence[int] = []  # NO_FIRST when unknown
        self.last: MutableSequence[int] = []  # NO_LAST when unknown

    def __len__(self) -> int:
        return len(self.ports)

    def pack(self) -> None:
        """Pack the evidence once no rule will be added or updated."""
        for name in ("flows", "octets", "first", "last"):
            setattr(self, name, _packed(getattr(self, name), "q"))


class _Group:
    __slots__ = ("egress", "ingress")

    def __init__(self) -> None:
        self.egress = _Rules()
        self.ingress = _Rules()


@dataclass(frozen=True, slots=True)
class Recommendation:
    """The policies of one run, the flows to replay in the self-check (one per class of tuples
    that differ only in ignored labels), and what was skipped."""

    policies: tuple[RecommendedPolicy, ...]
    flows: tuple[Flow, ...]
    tuple_count: int
    flow_count: int
    skipped: Mapping[str, Mapping[str, int]]
    warnings: tuple[str, ...]

    @property
    def skipped_tuples(self) -> int:
        return sum(v["tuples"] for v in self.skipped.values())


# Row positions (FlowTuple order); rows may be FlowTuples or the warehouse's plain tuples.
(SRC_NS, SRC_LABELS, SRC_IP, DST_IP, DST_NS, DST_LABELS, SVC, DST_PORT, PROTO, FLOW_TYPE,
 FLOWS, BYTES, FIRST, LAST) = range(14)  # fmt: skip


class _Builder:
    """Adds tuples to groups. Runs once per distinct tuple, so everything a tuple needs that
    depends on one of its values alone (pod, address, Service) is computed once per value and
    cached; rule peers are interned as small integers (hashing them is then free).

    A run may be split into partitions by namespace (``owners``: namespace -> partition,
    filled before the namespace's first tuple arrives). Partition ``part`` then makes the
    egress rules of the namespaces it owns from tuples whose source it owns, and the ingress
    rules from tuples whose destination it owns; it counts (and reports as skipped) the tuples
    whose source namespace it owns, or whose destination namespace it owns when the source
    has none. A tuple reaches every partition that owns one of its namespaces.
    """

    def __init__(
        self, options: Options, part: int = 0, owners: Mapping[str, int] | None = None
    ) -> None:
        self.options = options
        self.part = part
        self.owners = owners
        self.allow = frozenset(options.ns_allow_list)
        self.ignore = frozenset(options.label_ignore_list)
        self.groups: dict[_GroupKey, _Group] = {}
        self.peers: list[Peer] = []  # peer id -> peer
        self._peer_ids: dict[Peer, int] = {}
        self._labels: dict[str | None, tuple[Labels, Labels] | SkipReason] = {}
        self._namespaces: dict[str, bool] = {}
        # Endpoints replayed in the self-check, by id (0: the unknown destination of a flow to
        # a Service without a backend pod).
        self.endpoints: list[Endpoint] = [Endpoint()]
        # (namespace, labels minus the ignore list) or an address -> endpoint id.
        self._endpoint_ids: dict[tuple[str, Labels] | str, int] = {}
        # (namespace, raw labels text) -> (endpoint id, group or None if allow-listed, peer id).
        self._pods: dict[tuple[str, str | None], tuple[int, _Group | None, int]] = {}
        # raw address -> (peer id of its ipBlock, id of the endpoint outside the cluster).
        self._ips: dict[str, tuple[int, int] | None] = {}
        self._services: dict[str, int | None] = {}  # "<ns>/<name>:<port>" -> peer id
        # (a rule's ports, one more port) -> the sorted ports with it, one object per set.
        self._port_sets: dict[tuple[tuple[Port, ...], Port], tuple[Port, ...]] = {}
        self._service_names: dict[int, tuple[str, str]] = {}
        self.skipped: dict[str, Counter[str]] = {}
        # The self-check's flows by the namespace whose policies decide them: namespace ->
        # flows whose source is a pod there (egress), and whose destination is (ingress), in
        # the directions this partition owns. A flow is five ints (see _flow), not an object
        # (a large run has millions of them), packed into an array once collected. Tuples that
        # differ only in ignored labels give the same five ints; the self-check replays them
        # once (see Collected.take_checks).
        self.egress_checks: dict[str, list[int]] = {}
        self.ingress_checks: dict[str, list[int]] = {}
        self.tuple_count = 0
        self.flow_count = 0
        self.use_services = options.to_services and options.policy_type != PolicyType.K8S_NP

    def peer_id(self, peer: Peer) -> int:
        found = self._peer_ids.get(peer)
        if found is None:
            found = self._peer_ids[peer] = len(self.peers)
            self.peers.append(peer)
        return found

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
    ) -> tuple[Endpoint, _Group | None, int]:
        """The pod endpoint for the self-check, its group (namespace and labels minus the
        ignore list; None in an allow-listed namespace) and the id of the rule peer that
        selects that group.

        The endpoint carries the labels minus the ignore list too: no selector the builder
        makes names an ignored key, so an ignored label cannot change a verdict (the service
        checks that the compiled set agrees before it replays)."""
        if not ns:
            raise _Invalid(missing)
        found = self._pods.get((ns, labels))  # one lookup per endpoint seen before
        if found is not None:
            return found
        valid = self._namespaces.get(ns)
        if valid is None:
            valid = self._namespaces[ns] = is_namespace(ns)
        if not valid:
            raise _Invalid(SkipReason.INVALID_NAMESPACE)
        kept = self.labels(labels)[1]
        endpoint = self.endpoint_id((ns, kept))
        group = None
        # Allow-listed namespaces get the namespace-wide ACNP only; another partition's
        # namespaces get their groups there.
        if ns not in self.allow and (self.owners is None or self.owners.get(ns) == self.part):
            group = self.groups.get((ns, kept))
            if group is None:
                group = self.groups[(ns, kept)] = _Group()
        found = self._pods[(ns, labels)] = (endpoint, group, self.peer_id((2, ns, kept)))
        return found

    def endpoint_id(self, key: tuple[str, Labels] | str) -> int:
        """The id of the endpoint of a pod (namespace, labels minus the ignore list) or of an
        address outside the cluster (its canonical text)."""
        found = self._endpoint_ids.get(key)
        if found is None:
            found = self._endpoint_ids[key] = len(self.endpoints)
            self.endpoints.append(Endpoint(*key) if isinstance(key, tuple) else Endpoint(ip=key))
        return found

    def ip(self, raw: str | None) -> tuple[int, int]:
        """The id of the ipBlock rule peer and of the outside endpoint of a peer IP."""
        if raw is None:
            raise _Invalid(SkipReason.INVALID_IP)
        found = self._ips.get(raw, False)
        if found is False:
            try:
                version, number, cidr = _ip(raw)
                found = (
                    self.peer_id((0, version, number, cidr)),
                    self.endpoint_id(cidr[: cidr.index("/")]),
                )
            except _Invalid:
                found = None
            self._ips[raw] = found
        if found is None:
            raise _Invalid(SkipReason.INVALID_IP)
        return found

    def service(self, svc_port_name: str) -> int | None:
        found = self._services.get(svc_port_name, False)
        if found is False:
            service = _service(svc_port_name)
            found = None
            if service is not None:
                found = self.peer_id((1, service[0], service[1]))
                self._service_names[found] = service
            self._services[svc_port_name] = found
        return found

    def rule(
        self,
        rules: _Rules,
        peer: int,
        port: Port | None,
        flows: int,
        octets: int,
        first: int,
        last: int,
    ) -> None:
        row = rules.index.get(peer)
        if row is None:
            rules.index[peer] = len(rules.ports)
            if port is None:
                rules.ports.append(())
            else:
                ports = self._port_sets.get(((), port))
                if ports is None:
                    ports = self._port_sets[((), port)] = (port,)
                rules.ports.append(ports)
            rules.flows.append(flows)
            rules.octets.append(octets)
            rules.first.append(first)
            rules.last.append(last)
            return
        known = rules.ports[row]
        if port is not None and port not in known:
            key = (known, port)
            ports = self._port_sets.get(key)
            if ports is None:
                ports = self._port_sets[key] = tuple(sorted({*known, port}))
            rules.ports[row] = ports
        rules.flows[row] += flows
        rules.octets[row] += octets
        if first < rules.first[row]:
            rules.first[row] = first
        if last > rules.last[row]:
            rules.last[row] = last

    def add(self, row: Sequence[Any]) -> None:
        flows = int(row[FLOWS] or 0)
        owners = self.owners
        if owners is None:
            egress = ingress = counted = True
        else:
            src_owner = owners.get(row[SRC_NS] or "")
            dst_owner = owners.get(row[DST_NS] or "")
            egress = src_owner == self.part
            ingress = dst_owner == self.part
            counted = egress or (src_owner is None and (ingress or (dst_owner is None and self.part == 0)))
        if counted:
            self.tuple_count += 1
            self.flow_count += flows
        try:
            self._add(row, flows, egress, ingress)
        except _Invalid as invalid:
            if counted:
                c = self.skipped.setdefault(invalid.reason.value, Counter())
                c["tuples"] += 1
                c["flows"] += flows

    def _flow(
        self,
        flow: tuple[int, int, int, int, int],
        src_ns: str | None,
        dst_ns: str | None,
        egress: bool,
        ingress: bool,
    ) -> None:
        """File a flow for the self-check under the namespaces whose policies decide it:
        (source endpoint id, destination endpoint id, port, protocol number, Service peer id
        or -1). A namespace is None for an address outside the cluster (no policy of ours)."""
        if egress and src_ns is not None:
            found = self.egress_checks.get(src_ns)
            if found is None:
                found = self.egress_checks[src_ns] = []
            found.extend(flow)
        if ingress and dst_ns is not None:
            found = self.ingress_checks.get(dst_ns)
            if found is None:
                found = self.ingress_checks[dst_ns] = []
            found.extend(flow)

    def _add(self, row: Sequence[Any], flows: int, egress: bool, ingress: bool) -> None:
        protocol = _PROTOCOL_NAMES.get(row[PROTO])
        if protocol is None:
            raise _Invalid(SkipReason.UNSUPPORTED_PROTOCOL)
        dst_port = row[DST_PORT]
        if dst_port is None or not 1 <= dst_port <= 65535:
            raise _Invalid(SkipReason.INVALID_PORT)
        dst_port = int(dst_port)
        port: Port = (dst_port, protocol)
        number = _PROTOCOL_NUMBERS[protocol]
        octets = int(row[BYTES] or 0)
        first = row[FIRST]
        if first is None:
            first = NO_FIRST
        last = row[LAST]
        if last is None:
            last = NO_LAST
        rule = self.rule
        ft = row[FLOW_TYPE]
        if ft == FLOW_FROM_EXTERNAL:
            peer, outside = self.ip(row[SRC_IP])
            dst_ns = row[DST_NS]
            dst, dst_group, _ = self.pod(
                dst_ns, row[DST_LABELS], SkipReason.DESTINATION_WITHOUT_NAMESPACE
            )
            if dst_group is not None and ingress:
                rule(dst_group.ingress, peer, port, flows, octets, first, last)
            self._flow((outside, dst, dst_port, number, -1), None, dst_ns, egress, ingress)
            return
        if ft not in (FLOW_INTRA_NODE, FLOW_INTER_NODE, FLOW_TO_EXTERNAL):
            raise _Invalid(SkipReason.UNKNOWN_FLOW_TYPE)
        src_ns = row[SRC_NS]
        src, src_group, src_peer = self.pod(
            src_ns, row[SRC_LABELS], SkipReason.SOURCE_WITHOUT_NAMESPACE
        )
        if ft == FLOW_TO_EXTERNAL:
            peer, outside = self.ip(row[DST_IP])
            if src_group is not None and egress:
                rule(src_group.egress, peer, port, flows, octets, first, last)
            self._flow((src, outside, dst_port, number, -1), src_ns, None, egress, ingress)
            return
        svc_name = row[SVC]
        service = self.service(svc_name) if svc_name else None
        dst_ns = row[DST_NS]
        if service is not None and self.use_services:
            # toServices rules carry no ports (Antrea rejects ports next to toServices).
            backend = None
            if dst_ns:
                backend = self.pod(
                    dst_ns, row[DST_LABELS], SkipReason.DESTINATION_WITHOUT_NAMESPACE
                )
            if src_group is not None and egress:
                rule(src_group.egress, service, None, flows, octets, first, last)
            if backend is not None and backend[1] is not None and ingress:
                rule(backend[1].ingress, src_peer, port, flows, octets, first, last)
            # Without a backend pod, the destination is unknown (endpoint 0).
            dst = backend[0] if backend else 0
            self._flow(
                (src, dst, dst_port, number, service),
                src_ns, dst_ns if backend else None, egress, ingress,
            )  # fmt: skip
            return
        dst, dst_group, dst_peer = self.pod(
            dst_ns, row[DST_LABELS], SkipReason.DESTINATION_WITHOUT_NAMESPACE
        )
        if src_group is not None and egress:
            rule(src_group.egress, dst_peer, port, flows, octets, first, last)
        if dst_group is not None and ingress:
            rule(dst_group.ingress, src_peer, port, flows, octets, first, last)
        flow = (src, dst, dst_port, number, -1 if service is None else service)
        self._flow(flow, src_ns, dst_ns, egress, ingress)


def _selector(labels: Labels) -> dict[str, Any]:
    return {"matchLabels": dict(labels)} if labels else {}


def _ns_selector(ns: str) -> dict[str, Any]:
    return {"matchLabels": {NS_NAME_LABEL: ns}}


def _peer_text(peer: Peer) -> str:
    if peer[0] == 0:
        return str(peer[3])
    if peer[0] == 1:
        return f"service {peer[1]}/{peer[2]}"
    labels = ",".join(f"{k}={v}" for k, v in peer[2])
    return f"{peer[1]}/{{{labels}}}"


class _Parts:
    """Manifest fragments shared between policies (the renderer emits each one once, the
    self-check compiles each one once).

    ``uses`` counts the rules of each peer (peer id -> rules in every group and direction). A
    rule whose peer no other rule has (most of them on a cluster with many external addresses)
    is made on its own: nothing of it is kept for sharing, so it is freed with its policy. The
    shared fragments of any other peer are let go after its last rule (see :meth:`retire`)."""

    def __init__(self, peers: Sequence[Peer], groups: Iterable[_Group]) -> None:
        self.peer_of = peers  # peer id -> peer
        uses = [0] * len(peers)
        for group in groups:
            for peer_id in group.egress.index:
                uses[peer_id] += 1
            for peer_id in group.ingress.index:
                uses[peer_id] += 1
        self.uses = uses
        self.left = list(uses)  # peer id -> rules not yet made
        self.retiring: list[int] = []  # peers whose last rule was made
        # peer id -> (cache, key) of each shared rule of that peer in rule_dicts (one, or a
        # list of them: see add_one_or_many)
        self.rule_keys: dict[int, Any] = {}
        self.peers: dict[int, list[dict[str, Any]]] = {}  # by peer id
        self.ports: dict[tuple[Port, ...], list[dict[str, Any]]] = {}
        self.selectors: dict[Labels, dict[str, Any]] = {}
        self.namespaces: dict[str, dict[str, Any]] = {}
        # Evidence texts, shared like the manifest fragments (peers recur across groups).
        self.peer_texts: dict[int, str] = {}  # JSON strings, by peer id
        self.port_texts: dict[tuple[Port, ...], str] = {}  # JSON arrays
        # (antrea, "to"/"from") -> (peer id, ports) -> (shared rule, evidence text; see _rule)
        self.rule_dicts: dict[tuple[bool, str], dict[Any, tuple[dict[str, Any], str]]] = {}
        # id -> fragment of everything above that manifests share (alive as long as this).
        self.shared: dict[int, Any] = {}

    def _share(self, value: Any) -> Any:
        self.shared[id(value)] = value
        return value

    def selector(self, labels: Labels) -> dict[str, Any]:
        found = self.selectors.get(labels)
        if found is None:
            found = self.selectors[labels] = self._share(_selector(labels))
        return found

    def ns_selector(self, ns: str) -> dict[str, Any]:
        found = self.namespaces.get(ns)
        if found is None:
            found = self.namespaces[ns] = self._share(_ns_selector(ns))
        return found

    def peer_list(self, peer_id: int, peer: Peer, share: bool = True) -> list[dict[str, Any]]:
        found = self.peers.get(peer_id) if share else None
        if found is None:
            if peer[0] == 0:
                found = [{"ipBlock": {"cidr": peer[3]}}]
            else:
                found = [
                    {
                        "namespaceSelector": self.ns_selector(peer[1]),
                        "podSelector": self.selector(peer[2]),
                    }
                ]
            if share:
                self.peers[peer_id] = self._share(found)
        return found

    def port_list(self, ports: tuple[Port, ...]) -> list[dict[str, Any]]:
        found = self.ports.get(ports)
        if found is None:
            found = self.ports[ports] = self._share(
                [{"port": p, "protocol": proto} for p, proto in ports]
            )
        return found

    def _rule(
        self, antrea: bool, key: str, peer_id: int, ports: tuple[Port, ...], share: bool = True
    ) -> tuple[dict[str, Any], str]:
        """The rule for a peer and its ports, and the evidence text between the rule's
        position and its flow count. Shared (unless ``share`` is False), rules with the same
        peer and ports are one object, rendered and compiled once: a peer is often reached by
        many groups on one port."""
        peer = self.peer_of[peer_id]
        rule: dict[str, Any] = {"action": "Allow"} if antrea else {}
        if peer[0] == 1:
            rule["toServices"] = [{"name": peer[2], "namespace": peer[1]}]
        else:
            rule[key] = self.peer_list(peer_id, peer, share)
            rule["ports"] = self.port_list(ports)
        peer_json = self.peer_texts.get(peer_id) if share else None
        if peer_json is None:
            peer_json = json.dumps(_peer_text(peer))
            if share:
                self.peer_texts[peer_id] = peer_json
        ports_json = self.port_texts.get(ports)
        if ports_json is None:
            ports_json = self.port_texts[ports] = json.dumps(
                [f"{p}/{proto}" for p, proto in ports], separators=(",", ":")
            )
        middle = f',"peer":{peer_json},"ports":{ports_json},"flow_count":'
        return (self._share(rule) if share else rule), middle

    def retire(self, forget: Callable[[list[int]], None]) -> None:
        """Let go of the shared fragments (rules, peer lists) of the peers whose last rule was
        made. ``forget`` gets their ids first, to drop what the caller keeps for them by id
        (rendered texts, compiled forms) while they are still alive."""
        if not self.retiring:
            return
        rule_keys = self.rule_keys
        entries = [e for p in self.retiring for e in one_or_many(rule_keys.pop(p, None))]
        ids = [id(cache[key][0]) for cache, key in entries]
        ids += [id(self.peers[p]) for p in self.retiring if p in self.peers]
        forget(ids)
        for cache, key in entries:
            del cache[key]
        for peer_id in self.retiring:
            self.peers.pop(peer_id, None)
            self.peer_texts.pop(peer_id, None)
        for i in ids:
            del self.shared[i]
        self.retiring.clear()

    def rules(
        self, group: _Group, antrea: bool
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        """The egress and ingress rules of a group, and its evidence (RecommendedPolicy
        fields: the JSON text, one object per rule, and the totals)."""
        egress: list[dict[str, Any]] = []
        ingress: list[dict[str, Any]] = []
        evidence: list[str] = []
        flows = octets = 0
        first = NO_FIRST
        last = NO_LAST
        peer_of = self.peer_of
        uses = self.uses
        left = self.left
        for direction, rules, out in (
            ("egress", group.egress, egress),
            ("ingress", group.ingress, ingress),
        ):
            key = "to" if direction == "egress" else "from"
            made = self.rule_dicts.setdefault((antrea, key), {})
            head = '{"direction":"' + direction + '","rule":'
            index = rules.index
            for peer_id in sorted(index, key=peer_of.__getitem__):
                row = index[peer_id]
                ports = rules.ports[row]
                if uses[peer_id] == 1:
                    # The only rule with this peer: not kept for sharing (freed once made).
                    rule, middle = self._rule(antrea, key, peer_id, ports, share=False)
                else:
                    found = made.get((peer_id, ports))
                    if found is None:
                        found = made[(peer_id, ports)] = self._rule(antrea, key, peer_id, ports)
                        add_one_or_many(self.rule_keys, peer_id, (made, (peer_id, ports)))
                    rule, middle = found
                    left[peer_id] -= 1
                    if not left[peer_id]:
                        self.retiring.append(peer_id)
                r_flows = rules.flows[row]
                r_octets = rules.octets[row]
                r_first = rules.first[row]
                r_last = rules.last[row]
                # The text json.dumps(..., separators=(",", ":")) gives for this object;
                # times stay Unix seconds.
                evidence.append(
                    f'{head}{len(out)}{middle}{r_flows},"bytes":{r_octets},"first_seen":'
                    f'{"null" if r_first == NO_FIRST else r_first},"last_seen":'
                    f'{"null" if r_last == NO_LAST else r_last}}}'
                )
                flows += r_flows
                octets += r_octets
                if r_first < first:
                    first = r_first
                if r_last > last:
                    last = r_last
                out.append(rule)
        return (
            egress,
            ingress,
            {
                "evidence_json": "[" + ",".join(evidence) + "]",
                "rule_count": len(evidence),
                "flow_count": flows,
                "bytes": octets,
                "first_seen": None if first == NO_FIRST else first,
                "last_seen": None if last == NO_LAST else last,
            },
        )


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
    options: Options, parts: _Parts, ns: str, labels: Labels, group: _Group
) -> list[RecommendedPolicy]:
    api = options.antrea_api_version.value
    if options.policy_type == PolicyType.K8S_NP:
        egress, ingress, evidence = parts.rules(group, antrea=False)
        types = (["Egress"] if egress else []) + (["Ingress"] if ingress else [])
        name = naming.k8s_np_name(ns, labels)
        manifest = {
            "apiVersion": K8S_API_VERSION,
            "kind": "NetworkPolicy",
            "metadata": _metadata(name, ns),
            "spec": {
                "egress": egress,
                "ingress": ingress,
                "podSelector": parts.selector(labels),
                "policyTypes": types,
            },
        }
        return [
            RecommendedPolicy("NetworkPolicy", K8S_API_VERSION, ns, name, manifest, **evidence)
        ]
    egress, ingress, evidence = parts.rules(group, antrea=True)
    name = naming.allow_anp_name(ns, labels)
    manifest = {
        "apiVersion": api,
        "kind": "NetworkPolicy",
        "metadata": _metadata(name, ns),
        "spec": {
            "appliedTo": [{"podSelector": parts.selector(labels)}],
            "egress": egress,
            "ingress": ingress,
            "priority": PRIORITY,
            "tier": "Application",
        },
    }
    out = [RecommendedPolicy("NetworkPolicy", api, ns, name, manifest, **evidence)]
    if options.policy_type == PolicyType.ANP_DENY_APPLIED:
        applied = {"namespaceSelector": _ns_selector(ns), "podSelector": _selector(labels)}
        out.append(_acnp(api, naming.reject_acnp_name(ns, labels), "Baseline", "Reject", applied))
    return out


class Collected:
    """The tuples of a run reduced to groups and rules; policies are made on demand.

    :meth:`policies` yields the policies in their final order (static ones first, then per
    group sorted by namespace and labels) one at a time, so a caller can render and store
    each one and let it go. The accepted tuples become flows for the self-check, one per class
    of tuples that differ only in ignored labels (see :meth:`_Builder.pod`):
    :meth:`take_checks` gives the flows whose egress (from a pod there) or ingress (to a pod
    there) the policies of a namespace decide; :meth:`replay_flows` lists all of them once.

    In a partition of a run (see :class:`_Builder`), the policies are the static ones and
    those of the namespaces the partition owns; :meth:`keyed_policies` gives each its place in
    the whole run's order, and the checks hold only the directions whose end it owns.
    """

    def __init__(self, builder: _Builder) -> None:
        self.options = builder.options
        self._egress_checks = {ns: _packed(v, "i") for ns, v in builder.egress_checks.items()}
        self._ingress_checks = {ns: _packed(v, "i") for ns, v in builder.ingress_checks.items()}
        builder.egress_checks.clear()
        builder.ingress_checks.clear()
        for group in builder.groups.values():
            group.egress.pack()
            group.ingress.pack()
        self._endpoints = builder.endpoints
        self._service_names = builder._service_names
        self.tuple_count = builder.tuple_count
        self.flow_count = builder.flow_count
        self.skipped: dict[str, dict[str, int]] = {
            k: {"tuples": v["tuples"], "flows": v["flows"]}
            for k, v in sorted(builder.skipped.items())
        }
        self.keyed_warnings: list[tuple[PolicyOrder, str]] = []
        self._parts: _Parts | None = _Parts(builder.peers, builder.groups.values())
        self._groups: dict[_GroupKey, _Group] | None = builder.groups
        # What only adding needed (per-pod, per-address and per-label caches) goes now.
        for cache in (builder._pods, builder._ips, builder._labels, builder._endpoint_ids,
                      builder._services, builder._peer_ids, builder._port_sets):  # fmt: skip
            cache.clear()

    def retire(self, forget: Callable[[list[int]], None]) -> None:
        """Let go of the shared fragments no policy still to come holds (see
        :meth:`_Parts.retire`). Call it between policies, once the last one yielded is rendered
        and compiled; ``forget(ids)`` drops what the caller keeps for those fragments."""
        if self._parts is not None:
            self._parts.retire(forget)

    def _flows(self, packed: Iterable[Sequence[int]]) -> list[Flow]:
        """The flows of packed checks (see :meth:`_Builder._flow`), each once."""
        endpoints = self._endpoints
        names = self._service_names
        keys: dict[tuple[int, ...], None] = {}
        for flows in packed:
            it = iter(flows)
            keys.update(dict.fromkeys(zip(it, it, it, it, it, strict=True)))
        return [
            Flow(endpoints[src], endpoints[dst], port, _PROTOCOL_NAMES[number], names.get(svc))
            for src, dst, port, number, svc in keys
        ]

    def check_namespaces(self) -> list[str]:
        """The namespaces whose checks were not taken yet, sorted."""
        return sorted({*self._egress_checks, *self._ingress_checks})

    def take_checks(self, ns: str) -> tuple[list[Flow], list[Flow]]:
        """The flows whose egress and whose ingress the policies of ``ns`` decide, each once;
        the check lets them go."""
        egress = self._egress_checks.pop(ns, None)
        ingress = self._ingress_checks.pop(ns, None)
        return (
            self._flows([egress] if egress else []),
            self._flows([ingress] if ingress else []),
        )

    def replay_flows(self) -> list[Flow]:
        """Every flow of the checks once (a flow can be in an egress and an ingress check)."""
        return self._flows(
            checks[ns]
            for checks in (self._egress_checks, self._ingress_checks)
            for ns in sorted(checks)
        )

    @property
    def skipped_tuples(self) -> int:
        return sum(v["tuples"] for v in self.skipped.values())

    @property
    def warnings(self) -> list[str]:
        return [text for _, text in self.keyed_warnings]

    @property
    def shared(self) -> Mapping[int, Any]:
        """Manifest fragments shared between policies, by id (see :class:`_Parts`)."""
        if self._parts is None:
            raise RuntimeError("the policies were already made")
        return self._parts.shared

    def policies(self) -> Iterator[RecommendedPolicy]:
        """Every policy, in order; ``warnings`` is complete once this is exhausted.

        Iterable once: each group's rules are freed as soon as its policies are made."""
        return (policy for _, policy in self.keyed_policies())

    def keyed_policies(self) -> Iterator[tuple[PolicyOrder, RecommendedPolicy]]:
        """:meth:`policies` with each one's sort key in the run's order: partitions of a run
        merge into that order (the static policies, which every partition makes, first)."""
        options = self.options
        groups = self._groups
        parts = self._parts
        if groups is None or parts is None:
            raise RuntimeError("Collected.policies() can only be iterated once")
        self._groups = None
        seen: set[str] = set()

        def checked(policy: RecommendedPolicy) -> RecommendedPolicy:
            if policy.key in seen:  # a hash collision would silently merge two workloads
                raise RuntimeError(f"duplicate policy name {policy.key}; report this as a bug")
            seen.add(policy.key)
            return policy

        self.keyed_warnings.clear()
        for n, policy in enumerate(static_policies(options)):
            yield (0, "", (), n), checked(policy)
        for ns, labels in sorted(groups):
            group = groups.pop((ns, labels))
            if not group.egress and not group.ingress:
                continue  # its pods were seen only in tuples that were then skipped
            group_policies = _group_policies(options, parts, ns, labels, group)
            if not labels:
                self.keyed_warnings.append((
                    (1, ns, labels, 0),
                    f"empty selector: {group_policies[0].name} applies to every pod of namespace "
                    f"{ns!r} (flows from pods without labels, or only ignored labels)",
                ))  # fmt: skip
            for n, policy in enumerate(group_policies):
                yield (1, ns, labels, n), checked(policy)
        self._parts = None  # the shared fragments go with the last policy


def collect(
    tuples: Iterable[FlowTuple | Sequence[Any]],
    options: Options,
    *,
    part: int = 0,
    owners: Mapping[str, int] | None = None,
) -> Collected:
    """Reduce the tuples (FlowTuples or plain rows in the same column order) to rules; with
    ``owners``, only partition ``part`` of them (see :class:`_Builder`)."""
    builder = _Builder(options, part, owners)
    add = builder.add
    for t in tuples:
        add(t)
    return Collected(builder)


def build_recommendation(
    tuples: Iterable[FlowTuple | Sequence[Any]], options: Options
) -> Recommendation:
    """All policies for the tuples at once (see :class:`Collected` for the streaming form)."""
    collected = collect(tuples, options)
    policies = tuple(collected.policies())
    return Recommendation(
        policies,
        tuple(collected.replay_flows()),
        collected.tuple_count,
        collected.flow_count,
        collected.skipped,
        tuple(collected.warnings),
    )
