"""A run's parameters besides its :class:`~theia_sf.recommendation.model.Options`: validated
from what the user gave (messages name the Param), recorded so that runs with equal records
compare, and the shard count with the split of the namespaces over the shards."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

from theia_sf.errors import ConfigurationError
from theia_sf.recommendation.model import Options

JOB_TYPE = "initial"
MAX_SHARDS = 64
# Default shards on a distributed engine: about this many workload groups each, at most 8.
GROUPS_PER_SHARD = 5_000
DEFAULT_MAX_SHARDS = 8


def validate_cluster_uuid(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ConfigurationError(f"cluster_uuid={value!r} is not a UUID") from None


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


def default_shards(engine: str, groups: int, namespaces: int) -> int:
    """The embedded engine has one writer, so its shards would only queue: one. A distributed
    engine gets one shard per :data:`GROUPS_PER_SHARD` workload groups (at most 8 and at most
    one per namespace), so its workers share a large run."""
    if engine == "duckdb":
        return 1
    wanted = math.ceil(groups / GROUPS_PER_SHARD)
    return max(1, min(DEFAULT_MAX_SHARDS, namespaces, wanted))


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
