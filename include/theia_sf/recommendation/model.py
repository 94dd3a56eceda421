"""Values of a recommendation run: options, reduced tuples, rules, policies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from theia_sf.errors import ConfigurationError
from theia_sf.identifiers import is_label_key, is_namespace

DEFAULT_NS_ALLOW_LIST = ("kube-system", "flow-aggregator", "flow-visibility")
DEFAULT_LABEL_IGNORE_LIST = (
    "pod-template-hash",
    "controller-revision-hash",
    "pod-template-generation",
)

class PolicyType(StrEnum):
    """theia-sf's ``--policy-type`` (its isolation methods 1, 2, 3)."""

    ANP_DENY_APPLIED = "anp-deny-applied"
    ANP_DENY_ALL = "anp-deny-all"
    K8S_NP = "k8s-np"


class AntreaApiVersion(StrEnum):
    V1BETA1 = "crd.antrea.io/v1beta1"
    V1ALPHA1 = "crd.antrea.io/v1alpha1"

    @classmethod
    def parse(cls, value: str) -> AntreaApiVersion:
        for member in cls:
            if value in (member.value, member.value.rsplit("/", 1)[1]):
                return member
        raise ConfigurationError(f"antrea_api_version={value!r} is not one of v1beta1, v1alpha1")


class SkipReason(StrEnum):
    """Why a reduced tuple produced no rule; counted in the run report."""

    UNSUPPORTED_PROTOCOL = "unsupported_protocol"
    INVALID_PORT = "invalid_port"
    UNKNOWN_FLOW_TYPE = "unknown_flow_type"
    SOURCE_WITHOUT_NAMESPACE = "source_without_namespace"
    DESTINATION_WITHOUT_NAMESPACE = "destination_without_namespace"
    INVALID_NAMESPACE = "invalid_namespace"
    INVALID_LABELS = "invalid_labels"
    INVALID_IP = "invalid_ip"


class Protocol(StrEnum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


PROTOCOL_NUMBERS: Mapping[int, Protocol] = {6: Protocol.TCP, 17: Protocol.UDP, 132: Protocol.SCTP}

# Antrea's flowType codes.
FLOW_INTRA_NODE, FLOW_INTER_NODE, FLOW_TO_EXTERNAL, FLOW_FROM_EXTERNAL = 1, 2, 3, 4


def _split_list(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(i.strip() for i in items if i and i.strip()))


@dataclass(frozen=True, slots=True)
class Options:
    """What the user asked for; validated on construction (messages name the Param)."""

    policy_type: PolicyType = PolicyType.ANP_DENY_APPLIED
    ns_allow_list: tuple[str, ...] = DEFAULT_NS_ALLOW_LIST
    label_ignore_list: tuple[str, ...] = DEFAULT_LABEL_IGNORE_LIST
    to_services: bool = True
    antrea_api_version: AntreaApiVersion = AntreaApiVersion.V1BETA1
    # External-peer compaction: addresses outside the cluster become ipBlocks of this prefix
    # length (32 and 128: one address each, no compaction).
    external_ipv4_prefix: int = 32
    external_ipv6_prefix: int = 128

    def external_prefix(self, version: int) -> int:
        return self.external_ipv4_prefix if version == 4 else self.external_ipv6_prefix

    @classmethod
    def create(
        cls,
        *,
        policy_type: str = PolicyType.ANP_DENY_APPLIED.value,
        ns_allow_list: str | list[str] | tuple[str, ...] | None = DEFAULT_NS_ALLOW_LIST,
        label_ignore_list: str | list[str] | tuple[str, ...] | None = DEFAULT_LABEL_IGNORE_LIST,
        to_services: bool = True,
        antrea_api_version: str = AntreaApiVersion.V1BETA1.value,
        external_ipv4_prefix: int = 32,
        external_ipv6_prefix: int = 128,
    ) -> Options:
        try:
            ptype = PolicyType(policy_type)
        except ValueError:
            raise ConfigurationError(
                f"policy_type={policy_type!r} is not one of "
                + ", ".join(p.value for p in PolicyType)
            ) from None
        namespaces = _split_list(ns_allow_list)
        for ns in namespaces:
            if not is_namespace(ns):
                raise ConfigurationError(
                    f"ns_allow_list: {ns!r} is not a valid Kubernetes namespace name"
                )
        keys = _split_list(label_ignore_list)
        for key in keys:
            if not is_label_key(key):
                raise ConfigurationError(
                    f"label_ignore_list: {key!r} is not a valid Kubernetes label key"
                )
        for param, value, top in (
            ("external_ipv4_prefix", external_ipv4_prefix, 32),
            ("external_ipv6_prefix", external_ipv6_prefix, 128),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 8 <= value <= top:
                raise ConfigurationError(f"{param}={value!r} must be an integer from 8 to {top}")
        return cls(
            ptype,
            namespaces,
            keys,
            bool(to_services),
            AntreaApiVersion.parse(antrea_api_version),
            external_ipv4_prefix,
            external_ipv6_prefix,
        )

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "policy_type": self.policy_type.value,
            "ns_allow_list": list(self.ns_allow_list),
            "label_ignore_list": list(self.label_ignore_list),
            "to_services": self.to_services,
            "antrea_api_version": self.antrea_api_version.value,
        }
        # Only when on: runs without compaction keep the parameters (and so the diff chain)
        # they had before compaction existed.
        if (self.external_ipv4_prefix, self.external_ipv6_prefix) != (32, 128):
            record["external_ipv4_prefix"] = self.external_ipv4_prefix
            record["external_ipv6_prefix"] = self.external_ipv6_prefix
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Options:
        """The options of a stored run's parameters (see :meth:`to_record`)."""
        return cls.create(
            policy_type=record["policy_type"],
            ns_allow_list=tuple(record["ns_allow_list"]),
            label_ignore_list=tuple(record["label_ignore_list"]),
            to_services=record["to_services"],
            antrea_api_version=record["antrea_api_version"],
            external_ipv4_prefix=record.get("external_ipv4_prefix", 32),
            external_ipv6_prefix=record.get("external_ipv6_prefix", 128),
        )


class FlowTuple(NamedTuple):
    """One row of ``sql/recommendation/select_flow_tuples.sql``: a distinct tuple + evidence.

    A NamedTuple rather than a dataclass: runs hold hundreds of thousands of them, and the
    builder also accepts the warehouse's plain row tuples in this column order.
    """

    src_ns: str | None
    src_labels: str | None
    src_ip: str | None
    dst_ip: str | None
    dst_ns: str | None
    dst_labels: str | None
    svc_port_name: str | None
    dst_port: int | None
    protocol: int | None
    flow_type: int | None
    flow_count: int = 1
    bytes: int = 0
    first_seen: int | None = None  # Unix seconds
    last_seen: int | None = None


# Columns of the reduction query, in FlowTuple order.
TUPLE_COLUMNS = FlowTuple._fields


def to_datetime(epoch: int | float | None) -> dt.datetime | None:
    return None if epoch is None else dt.datetime.fromtimestamp(int(epoch), dt.UTC)


class RulePeer(NamedTuple):
    """One peer of one rule of a policy: its direction, rule index, place in the rule's peer
    list, and the peer (see :mod:`theia_sf.recommendation.building`)."""

    direction: str
    rule: int
    position: int
    peer: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class RecommendedPolicy:
    """One emitted object: its manifest (as it will be rendered) and the peers of its rules.
    The evidence behind each peer is summed by the warehouse (``RECOMMENDATION_EVIDENCE``)."""

    kind: str
    api_version: str
    namespace: str | None
    name: str
    manifest: Mapping[str, Any]
    rule_count: int = 0
    peers: tuple[RulePeer, ...] = ()
    # The builder's cell number of each peer (in ``peers`` order): which tuples fed it, for
    # the warehouse's evidence. Numbers depend on the order rows arrived in, so they do not
    # take part in comparisons.
    cells: tuple[int, ...] = field(default=(), compare=False)

    @property
    def key(self) -> str:
        """Identity across runs: kind, namespace and name."""
        return f"{self.kind}/{self.namespace or ''}/{self.name}"
