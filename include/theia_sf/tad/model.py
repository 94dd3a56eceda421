"""Value objects of throughput anomaly detection: configuration, series, anomalous points."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from theia_sf.errors import ConfigurationError
from theia_sf.identifiers import NAMESPACE_PATTERN, parse_cluster_uuid
from theia_sf.timewindow import Window

# Pod names are DNS-1123 subdomains.
POD_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
# Antrea writes destinationServicePortName as <namespace>/<service>:<port name>.
SERVICE_PORT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(:[A-Za-z0-9._-]{0,63})?$"
# Any printable text of up to 256 characters: a substring of the labels JSON.
POD_LABEL_PATTERN = r"^[^\x00-\x1f\x7f]{1,256}$"
# Loose on purpose (IPv4 or IPv6 text); the first task parses the address.
EXTERNAL_IP_PATTERN = r"^[0-9A-Fa-f.:]{2,45}$"
MAX_LABEL_FILTER = 256
MAX_NS_IGNORE = 100
_NAMESPACE = re.compile(NAMESPACE_PATTERN.strip("^$"))
_POD_NAME = re.compile(POD_NAME_PATTERN.strip("^$"))
_SERVICE_PORT_NAME = re.compile(SERVICE_PORT_NAME_PATTERN.strip("^$"))
# Keys standard Theia removes from a pod series' labels before showing them.
GENERATED_LABEL_KEYS = ("pod-template-hash", "controller-revision-hash", "pod-template-generation")


class Algorithm(StrEnum):
    """Standard Theia's algorithms, spelt as its ``--algo`` flag takes them."""

    EWMA = "EWMA"
    ARIMA = "ARIMA"
    DBSCAN = "DBSCAN"


class AggFlow(StrEnum):
    """How flows become series: ``none`` per connection, else aggregated as standard Theia."""

    NONE = "none"
    EXTERNAL = "external"
    POD = "pod"
    SVC = "svc"


class Variant(StrEnum):
    """``theia``: standard Theia's definitions; ``corrected``: its known flaws fixed."""

    THEIA = "theia"
    CORRECTED = "corrected"


def _enum(kind: type[StrEnum], value: Any, param: str, what: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ConfigurationError(
            f"{param}={value!r} is not {what}; use one of " + ", ".join(k.value for k in kind)
        ) from None


def _optional_text(value: Any, param: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"{param}={value!r} must be a string")
    return value


@dataclass(frozen=True, slots=True)
class TadConfig:
    """Parameters of one run; each field is the DAG Param of the same name."""

    algorithm: Algorithm = Algorithm.EWMA
    agg_flow: AggFlow = AggFlow.NONE
    variant: Variant = Variant.THEIA
    pod_label: str | None = None
    pod_name: str | None = None
    pod_namespace: str | None = None
    external_ip: str | None = None
    svc_port_name: str | None = None
    ns_ignore_list: tuple[str, ...] = ()
    cluster_uuid: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "algorithm", _enum(Algorithm, self.algorithm, "algorithm", "an algorithm"))
        set_(self, "agg_flow", _enum(AggFlow, self.agg_flow, "agg_flow", "an aggregation"))
        set_(self, "variant", _enum(Variant, self.variant, "variant", "a variant"))
        for name in ("pod_label", "pod_name", "pod_namespace", "external_ip", "svc_port_name"):
            set_(self, name, _optional_text(getattr(self, name), name))
        # A filter of another mode would be ignored silently (standard Theia does): refuse it.
        mode_of = {
            "pod_label": AggFlow.POD,
            "pod_name": AggFlow.POD,
            "pod_namespace": AggFlow.POD,
            "external_ip": AggFlow.EXTERNAL,
            "svc_port_name": AggFlow.SVC,
        }
        for name, mode in mode_of.items():
            if getattr(self, name) is not None and self.agg_flow is not mode:
                raise ConfigurationError(
                    f"{name} filters agg_flow={mode.value} series; this run has "
                    f"agg_flow={self.agg_flow.value}"
                )
        if self.pod_label is not None and (
            len(self.pod_label) > MAX_LABEL_FILTER or not self.pod_label.isprintable()
        ):
            raise ConfigurationError(
                f"pod_label must be printable text of at most {MAX_LABEL_FILTER} characters"
            )
        if self.pod_name is not None and not _POD_NAME.fullmatch(self.pod_name):
            raise ConfigurationError(f"pod_name={self.pod_name!r} is not a Kubernetes pod name")
        if self.pod_namespace is not None:
            if not _NAMESPACE.fullmatch(self.pod_namespace):
                raise ConfigurationError(
                    f"pod_namespace={self.pod_namespace!r} is not a Kubernetes namespace"
                )
            if self.pod_label is None and self.pod_name is None:
                raise ConfigurationError("pod_namespace needs pod_label or pod_name as well")
        if self.external_ip is not None:
            try:
                set_(self, "external_ip", str(ipaddress.ip_address(self.external_ip)))
            except ValueError:
                raise ConfigurationError(
                    f"external_ip={self.external_ip!r} is not an IP address"
                ) from None
        if self.svc_port_name is not None and not _SERVICE_PORT_NAME.fullmatch(self.svc_port_name):
            raise ConfigurationError(
                f"svc_port_name={self.svc_port_name!r} is not <namespace>/<service>[:<port>]"
            )
        ignore = self.ns_ignore_list
        if ignore is None:
            ignore = ()
        if isinstance(ignore, str) or not all(isinstance(n, str) for n in ignore):
            raise ConfigurationError("ns_ignore_list must be a list of namespace names")
        ignore = tuple(ignore)
        bad = [n for n in ignore if not _NAMESPACE.fullmatch(n)]
        if bad:
            raise ConfigurationError(f"ns_ignore_list: {bad!r} are not Kubernetes namespaces")
        if len(ignore) > MAX_NS_IGNORE:
            raise ConfigurationError(f"ns_ignore_list holds at most {MAX_NS_IGNORE} namespaces")
        set_(self, "ns_ignore_list", tuple(sorted(set(ignore))))
        set_(self, "cluster_uuid", parse_cluster_uuid(self.cluster_uuid))

    @property
    def pod_by_name(self) -> bool:
        """Pod series keyed by pod name (a name filter) rather than by labels."""
        return self.pod_name is not None

    def to_record(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm.value,
            "agg_flow": self.agg_flow.value,
            "variant": self.variant.value,
            "pod_label": self.pod_label,
            "pod_name": self.pod_name,
            "pod_namespace": self.pod_namespace,
            "external_ip": self.external_ip,
            "svc_port_name": self.svc_port_name,
            "ns_ignore_list": list(self.ns_ignore_list),
            "cluster_uuid": self.cluster_uuid,
        }


def run_id_for(config: TadConfig, window: Window) -> str:
    """The same window and parameters always give the same run id (re-runs replace results)."""
    payload = json.dumps(
        {**config.to_record(), "start": window.start.isoformat(), "end": window.end.isoformat()},
        sort_keys=True,
    )
    return "tad-" + hashlib.sha256(payload.encode()).hexdigest()[:24]


# The series key, in the order of the series query's columns.
KEY_COLUMNS = (
    "source_ip",
    "source_port",
    "destination_ip",
    "destination_port",
    "protocol",
    "flow_start",
    "pod_namespace",
    "pod_labels",
    "pod_name",
    "service_port_name",
    "direction",
)


def clean_labels(text: str | None) -> str | None:
    """Standard Theia's label text for a pod series: JSON without generated keys, sorted.

    Text that is not a JSON object becomes ``""`` as there."""
    if text is None:
        return None
    try:
        labels = json.loads(text)
    except ValueError:
        return ""
    if not isinstance(labels, dict):
        return ""
    for key in GENERATED_LABEL_KEYS:
        labels.pop(key, None)
    return json.dumps(labels, sort_keys=True)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return str(value)


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """What identifies one throughput series (columns the aggregation does not use: None)."""

    agg_flow: AggFlow
    values: tuple[Any, ...]  # in KEY_COLUMNS order

    def as_dict(self) -> dict[str, Any]:
        return dict(zip(KEY_COLUMNS, self.values, strict=True))

    def label(self) -> str:
        k = self.as_dict()
        if self.agg_flow is AggFlow.NONE:
            return (
                f"{k['source_ip']}:{k['source_port']} -> {k['destination_ip']}:"
                f"{k['destination_port']} proto {k['protocol']} from {_iso(k['flow_start'])}"
            )
        if self.agg_flow is AggFlow.EXTERNAL:
            return f"external {k['destination_ip']}"
        if self.agg_flow is AggFlow.SVC:
            return f"svc {k['service_port_name']}"
        pod = k["pod_name"] if k["pod_name"] is not None else clean_labels(k["pod_labels"])
        return f"pod {k['pod_namespace']} {pod} {k['direction']}"

    def stable(self) -> list[Any]:
        return [self.agg_flow.value, *(_iso(v) if v is not None else None for v in self.values)]


def anomaly_key(cluster_uuid: str | None, key: SeriesKey, flow_end: dt.datetime) -> str:
    """Stable identity of an anomalous point across runs and algorithms (alert dedup)."""
    payload = json.dumps(["tad", cluster_uuid or "", *key.stable(), _iso(flow_end)])
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class ThroughputSeries:
    """One series' points in time order (Unix seconds), and its sample standard deviation
    (None if n < 2)."""

    key: SeriesKey
    times: tuple[int, ...]
    values: tuple[float, ...]
    stddev: float | None


@dataclass(frozen=True, slots=True)
class ThroughputAnomaly:
    """One anomalous point: its value, the algorithm's value and the threshold used."""

    key: SeriesKey
    flow_end: dt.datetime
    throughput: float
    algo_calc: float | None
    stddev: float | None

    def record(self, config: TadConfig) -> dict[str, Any]:
        k = self.key.as_dict()
        return {
            "anomaly_key": anomaly_key(config.cluster_uuid, self.key, self.flow_end),
            "series": self.key.label(),
            "source_ip": k["source_ip"],
            "source_port": k["source_port"],
            "destination_ip": k["destination_ip"],
            "destination_port": k["destination_port"],
            "protocol": k["protocol"],
            "flow_start": k["flow_start"],
            "pod_namespace": k["pod_namespace"],
            "pod_labels": clean_labels(k["pod_labels"]),
            "pod_name": k["pod_name"],
            "service_port_name": k["service_port_name"],
            "direction": k["direction"],
            "flow_end": self.flow_end,
            "throughput": self.throughput,
            "algo_calc": self.algo_calc,
            "stddev": self.stddev,
        }
