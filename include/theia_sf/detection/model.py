"""Value objects of drop detection: configuration, daily counts, anomalies, attribution."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from theia_sf.errors import ConfigurationError
from theia_sf.identifiers import parse_cluster_uuid
from theia_sf.timewindow import Window


class Method(StrEnum):
    """``theia``: theia-sf's statistics; ``baseline``: each day against the days before it."""

    BASELINE = "baseline"
    THEIA = "theia"


class Granularity(StrEnum):
    """``pod``: ns/pod (theia-sf); ``workload``: pod name without its generated suffix."""

    POD = "pod"
    WORKLOAD = "workload"


class Direction(StrEnum):
    INGRESS = "ingress"
    EGRESS = "egress"


@dataclass(frozen=True, slots=True)
class DetectionConfig:
    """Parameters of one detection run; each field is the DAG Param of the same name."""

    method: Method = Method.BASELINE
    granularity: Granularity = Granularity.WORKLOAD
    sigma: float = 3.0
    min_history_days: int = 3
    min_drops: int = 10
    shift_days: int = 3
    cluster_uuid: str | None = None
    top_n: int = 3

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "method", Method(self.method))
        except ValueError:
            raise ConfigurationError(
                f"method={self.method!r} is not a detection method; use one of "
                + ", ".join(m.value for m in Method)
            ) from None
        try:
            object.__setattr__(self, "granularity", Granularity(self.granularity))
        except ValueError:
            raise ConfigurationError(
                f"granularity={self.granularity!r} is not an endpoint granularity; use one of "
                + ", ".join(g.value for g in Granularity)
            ) from None
        if isinstance(self.sigma, bool) or not isinstance(self.sigma, int | float):
            raise ConfigurationError(f"sigma={self.sigma!r} must be a number greater than 0")
        if not math.isfinite(self.sigma) or self.sigma <= 0:
            raise ConfigurationError(f"sigma={self.sigma!r} must be a number greater than 0")
        if (
            isinstance(self.min_history_days, bool)
            or not isinstance(self.min_history_days, int)
            or self.min_history_days < 1
        ):
            raise ConfigurationError(
                f"min_history_days={self.min_history_days!r} must be an integer of at least 1"
            )
        if (
            isinstance(self.min_drops, bool)
            or not isinstance(self.min_drops, int)
            or self.min_drops < 0
        ):
            raise ConfigurationError(f"min_drops={self.min_drops!r} must be an integer >= 0")
        if (
            isinstance(self.shift_days, bool)
            or not isinstance(self.shift_days, int)
            or self.shift_days < 1
        ):
            raise ConfigurationError(
                f"shift_days={self.shift_days!r} must be an integer of at least 1"
            )
        if not isinstance(self.top_n, int) or self.top_n < 1:
            raise ConfigurationError(f"top_n={self.top_n!r} must be an integer of at least 1")
        object.__setattr__(self, "cluster_uuid", parse_cluster_uuid(self.cluster_uuid))

    def to_record(self) -> dict[str, Any]:
        return {
            "method": self.method.value,
            "granularity": self.granularity.value,
            "sigma": float(self.sigma),
            "min_history_days": self.min_history_days,
            "min_drops": self.min_drops,
            "shift_days": self.shift_days,
            "cluster_uuid": self.cluster_uuid,
            "top_n": self.top_n,
        }


def run_id_for(config: DetectionConfig, window: Window) -> str:
    """The same window and parameters always give the same run id (re-runs replace results)."""
    payload = json.dumps(
        {**config.to_record(), "start": window.start.isoformat(), "end": window.end.isoformat()},
        sort_keys=True,
    )
    return "dd-" + hashlib.sha256(payload.encode()).hexdigest()[:24]


def anomaly_key(
    *,
    cluster_uuid: str | None,
    granularity: Granularity | str,
    endpoint: str,
    direction: Direction | str,
    day: dt.date,
) -> str:
    """Stable identity of an anomaly across runs and methods: what alert dedup is keyed on."""
    payload = json.dumps(
        [cluster_uuid or "", str(granularity), endpoint, str(direction), day.isoformat()]
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class DailyCount:
    day: dt.date
    drops: int


@dataclass(frozen=True, slots=True)
class Series:
    """The daily drop counts of one (endpoint, direction), in day order."""

    endpoint: str
    direction: Direction
    days: tuple[DailyCount, ...]


# Antrea's enum for ingress/egressNetworkPolicyType, by the names Antrea itself prints.
POLICY_TYPE_NAMES = {
    1: "K8sNetworkPolicy",
    2: "AntreaNetworkPolicy",
    3: "AntreaClusterNetworkPolicy",
}


def policy_type_name(value: int | str | None) -> str | None:
    """The name of an Antrea policy type number (names pass through; 0 and None: no policy)."""
    if value is None or (isinstance(value, str) and not value.isdigit()):
        return value
    number = int(value)
    if number == 0:
        return None
    return POLICY_TYPE_NAMES.get(number, f"Unknown({number})")


@dataclass(frozen=True, slots=True)
class RuleShare:
    policy_namespace: str | None
    policy_name: str | None
    rule_name: str | None
    policy_type: int | str | None  # Antrea's number from the warehouse; its name in records
    drops: int

    @property
    def policy(self) -> str:
        if self.policy_namespace:
            return f"{self.policy_namespace}/{self.policy_name or '?'}"
        return self.policy_name or "(no policy)"

    def label(self) -> str:
        return f"{self.policy} rule {self.rule_name or '?'}"

    def to_record(self) -> dict[str, Any]:
        return {
            "policy_namespace": self.policy_namespace,
            "policy_name": self.policy_name,
            "rule_name": self.rule_name,
            "policy_type": policy_type_name(self.policy_type),
            "drops": self.drops,
        }


@dataclass(frozen=True, slots=True)
class PeerShare:
    peer: str | None
    drops: int

    def to_record(self) -> dict[str, Any]:
        return {"peer": self.peer, "drops": self.drops}


@dataclass(frozen=True, slots=True)
class Attribution:
    """The rules and peers that account for most of an anomaly's drops, largest first."""

    rules: tuple[RuleShare, ...] = ()
    peers: tuple[PeerShare, ...] = ()

    def to_record(self) -> dict[str, Any]:
        return {
            "rules": [r.to_record() for r in self.rules],
            "peers": [p.to_record() for p in self.peers],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> Attribution:
        if not record:
            return cls()
        return cls(
            rules=tuple(RuleShare(**r) for r in record.get("rules", [])),
            peers=tuple(PeerShare(**p) for p in record.get("peers", [])),
        )


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One anomalous day of one endpoint and direction."""

    endpoint: str
    direction: Direction
    day: dt.date
    drops: int
    mean: float
    stdev: float
    score: float
    history_days: int
    attribution: Attribution = field(default_factory=Attribution)

    def key(self, config: DetectionConfig) -> str:
        return anomaly_key(
            cluster_uuid=config.cluster_uuid,
            granularity=config.granularity,
            endpoint=self.endpoint,
            direction=self.direction,
            day=self.day,
        )

    def to_record(self) -> dict[str, Any]:
        top_rule = self.attribution.rules[0] if self.attribution.rules else None
        top_peer = self.attribution.peers[0] if self.attribution.peers else None
        return {
            "endpoint": self.endpoint,
            "direction": self.direction.value,
            "day": self.day.isoformat(),
            "drops": self.drops,
            "baseline_mean": self.mean,
            "baseline_stdev": self.stdev,
            "score": self.score,
            "history_days": self.history_days,
            "top_policy": top_rule.policy if top_rule else None,
            "top_rule": top_rule.rule_name if top_rule else None,
            "top_peer": top_peer.peer if top_peer else None,
            "attribution": self.attribution.to_record(),
        }


def anomaly_record_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """A ``DROP_ANOMALIES`` row (lower-cased columns) as the JSON record of an anomaly."""
    day = row["anomalydate"]
    attribution = row.get("attribution")
    return {
        "anomaly_key": row["anomalykey"],
        "endpoint": row["endpoint"],
        "direction": row["direction"],
        "day": day.isoformat() if hasattr(day, "isoformat") else str(day)[:10],
        "drops": int(row["dropcount"]),
        "baseline_mean": None if row["baselinemean"] is None else float(row["baselinemean"]),
        "baseline_stdev": None if row["baselinestdev"] is None else float(row["baselinestdev"]),
        "score": None if row["score"] is None else float(row["score"]),
        "history_days": None if row["historydays"] is None else int(row["historydays"]),
        "top_policy": row.get("toppolicy"),
        "top_rule": row.get("toprule"),
        "top_peer": row.get("toppeer"),
        "attribution": _named_policy_types(
            json.loads(attribution) if attribution else {"rules": [], "peers": []}
        ),
    }


def _named_policy_types(attribution: dict[str, Any]) -> dict[str, Any]:
    """Runs stored before policy types were named carry Antrea's numbers: name them."""
    for rule in attribution.get("rules", []):
        rule["policy_type"] = policy_type_name(rule.get("policy_type"))
    return attribution
