"""What a run is asked to do (:class:`RecommendationRequest`: its window, options, scope,
shards, preview and approval, validated once, with messages that name the Param), the record
of the parameters that shape its output (runs with equal records compare), and the split of the
namespaces over the shards."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from theia_sf.errors import ConfigurationError
from theia_sf.identifiers import parse_cluster_uuid
from theia_sf.recommendation import preview
from theia_sf.recommendation.model import Options
from theia_sf.timewindow import Window

JOB_TYPE = "initial"
MAX_SHARDS = 64
# Default shards on a distributed engine: about this many workload groups each, at most 8.
GROUPS_PER_SHARD = 5_000
DEFAULT_MAX_SHARDS = 8
# Default shards on any engine: at most about this many tuple ends each (an end is a tuple's
# side in a namespace the shard owns). Measured at high cardinality (1M flows, 380,467 ends):
# one shard peaked at 902 MiB, four at 577 MiB, in about the same time.
ENDS_PER_SHARD = 250_000
DEFAULT_APPROVAL_HOURS = 24
MAX_APPROVAL_HOURS = 72  # the DAG's run timeout makes room for this wait
# The Params that make up the run's Options (named as Options.create's arguments).
OPTION_PARAMS = (
    "policy_type", "ns_allow_list", "label_ignore_list", "to_services", "antrea_api_version",
    "external_ipv4_prefix", "external_ipv6_prefix",
)  # fmt: skip


def validate_limit(value: int | None) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"limit={value!r} must be an integer >= 0 (0 means no limit)")
    return value


def validate_shards(value: int | None) -> int:
    """0 or None: chosen per run (see :func:`default_shards`)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SHARDS:
        raise ConfigurationError(f"shards={value!r} must be an integer from 0 (automatic) to 64")
    return value


def default_shards(engine: str, groups: int, ends: int, namespaces: int) -> int:
    """Enough shards that none reads more than :data:`ENDS_PER_SHARD` tuple ends (a shard's
    memory grows with them); on a distributed engine also one per :data:`GROUPS_PER_SHARD`
    workload groups (at most 8), so its workers share a large run. The embedded engine has one
    writer, so its shards only queue: it gets no more than memory asks for. At most one shard
    per namespace."""
    by_memory = math.ceil(ends / ENDS_PER_SHARD)
    by_workers = 1
    if engine != "duckdb":
        by_workers = min(DEFAULT_MAX_SHARDS, math.ceil(groups / GROUPS_PER_SHARD))
    return max(1, min(MAX_SHARDS, namespaces, max(by_memory, by_workers)))


def validate_approval_hours(value: int | None) -> int | None:
    """None: no approval asked; else the hours to wait, 1 to :data:`MAX_APPROVAL_HOURS`."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_APPROVAL_HOURS
    ):
        raise ConfigurationError(
            f"approval_hours={value!r} must be an integer from 1 to {MAX_APPROVAL_HOURS}"
        )
    return value


@dataclass(frozen=True, slots=True)
class RecommendationRequest:
    """One run's request, valid once made: the window, the options, the scope (``cluster_uuid``,
    ``limit``: the busiest tuples only), ``shards`` (0: automatic), ``preview_days`` (0: no
    impact preview), the Snowflake ``warehouse_name`` (None: the connection's, or a temporary
    one) and ``approval_hours`` (None: published without approval)."""

    window: Window
    options: Options = field(default_factory=Options.create)
    cluster_uuid: str | None = None
    limit: int = 0
    shards: int = 0
    preview_days: int = 0
    warehouse_name: str | None = None
    approval_hours: int | None = None

    def __post_init__(self) -> None:
        normal = {
            "cluster_uuid": parse_cluster_uuid(self.cluster_uuid),
            "limit": validate_limit(self.limit),
            "shards": validate_shards(self.shards),
            "preview_days": preview.validate_days(self.preview_days),
            "warehouse_name": self.warehouse_name or None,
            "approval_hours": validate_approval_hours(self.approval_hours),
        }
        for name, value in normal.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_params(
        cls, params: Mapping[str, Any], interval_end: dt.datetime | None
    ) -> RecommendationRequest:
        """From the DAG's Params (``start``/``end``/``lookback`` give the window, ending at
        ``interval_end`` or now); raises ConfigurationError or TimeSpecError naming the Param."""
        window = Window.resolve(
            start=params["start"],
            end=params["end"],
            lookback_days=params["lookback"],
            interval_end=interval_end,
        )
        return cls(
            window,
            Options.create(**{name: params[name] for name in OPTION_PARAMS}),
            cluster_uuid=params["cluster_uuid"],
            limit=params["limit"],
            shards=params["shards"],
            preview_days=params["preview_days"],
            warehouse_name=params["warehouse_name"],
            approval_hours=params["approval_hours"] if params["require_approval"] else None,
        )

    def to_record(self) -> dict[str, Any]:
        """As JSON (what the DAG's tasks pass on); :meth:`from_record` reads it back."""
        return {
            "window": self.window.to_record(),
            "options": {
                **self.options.to_record(),
                "external_ipv4_prefix": self.options.external_ipv4_prefix,
                "external_ipv6_prefix": self.options.external_ipv6_prefix,
            },
            "cluster_uuid": self.cluster_uuid,
            "limit": self.limit,
            "shards": self.shards,
            "preview_days": self.preview_days,
            "warehouse_name": self.warehouse_name,
            "approval_hours": self.approval_hours,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> RecommendationRequest:
        window = record["window"]
        return cls(
            Window(
                dt.datetime.fromisoformat(window["start"]), dt.datetime.fromisoformat(window["end"])
            ),
            Options.from_record(record["options"]),
            cluster_uuid=record["cluster_uuid"],
            limit=record["limit"],
            shards=record["shards"],
            preview_days=record["preview_days"],
            warehouse_name=record["warehouse_name"],
            approval_hours=record["approval_hours"],
        )


def assign_shards(ends: Mapping[str, int], shards: int) -> dict[str, int]:
    """Namespace -> shard: the busiest namespaces first, each to the shard with the least
    work so far (ties to the lowest shard), so runs repeat."""
    loads = [0] * shards
    owners = {}
    for ns, count in sorted(ends.items(), key=lambda item: (-item[1], item[0])):
        shard = loads.index(min(loads))
        owners[ns] = shard
        loads[shard] += count
    return owners


def parameters_record(options: Options, cluster_uuid: str | None, limit: int) -> dict[str, Any]:
    """The options that shape the output; equal records make runs comparable."""
    return {
        "job_type": JOB_TYPE,
        **options.to_record(),
        "cluster_uuid": cluster_uuid,
        "limit": limit,
    }


def parameters_hash(record: Mapping[str, Any]) -> str:
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
