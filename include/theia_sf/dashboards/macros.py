"""Grafana macro substitution for tests and tools.

Grafana and the Snowflake datasource plugin expand macros before the query reaches
Snowflake: ``$__timeFrom()``/``$__timeTo()`` become RFC 3339 UTC string literals and
``${clusterID:sqlstring}`` a comma-separated list of quoted values. Here they become
``:name`` placeholders with bound values instead, so the same text runs through the
warehouse port (DuckDB or Snowflake) without splicing values into SQL. Any macro this
module does not know is an error, so a panel cannot use one that tests never ran.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from theia_sf.sql import Query

TIME_FROM = "grafana_time_from"
TIME_TO = "grafana_time_to"
CLUSTER_PREFIX = "grafana_cluster_"

_KNOWN = re.compile(r"\$__timeFrom\(\)|\$__timeTo\(\)|\$\{clusterID:sqlstring\}")
# Anything else that looks like a Grafana macro or variable.
_ANY = re.compile(r"\$__\w+|\$\{[^}]*\}|\$[A-Za-z_]\w*")


def find_macros(text: str) -> list[str]:
    """Every macro or variable reference in ``text``, in order."""
    return [m.group(0) for m in _ANY.finditer(text)]


def substitute_macros(
    text: str,
    *,
    time_from: datetime,
    time_to: datetime,
    clusters: Sequence[str],
    name: str = "dashboard panel",
) -> Query:
    """Replace the Grafana macros in ``text`` by placeholders and return a bound query."""
    if time_from.tzinfo is None or time_to.tzinfo is None:
        raise ValueError("time_from and time_to must be timezone-aware")
    if not clusters:
        raise ValueError("clusters must name at least one cluster UUID")
    unknown = [m for m in find_macros(_KNOWN.sub("", text)) if m]
    if unknown:
        raise ValueError(f"{name}: unsupported Grafana macro(s) {sorted(set(unknown))}")
    cluster_names = [f"{CLUSTER_PREFIX}{i}" for i in range(len(clusters))]
    replacements = {
        "$__timeFrom()": ":" + TIME_FROM,
        "$__timeTo()": ":" + TIME_TO,
        "${clusterID:sqlstring}": ", ".join(":" + n for n in cluster_names),
    }
    out = _KNOWN.sub(lambda m: replacements[m.group(0)], text)
    binds: dict[str, Any] = {
        # Grafana sends RFC 3339 strings; bind the same shape so casts behave alike.
        TIME_FROM: time_from.isoformat(),
        TIME_TO: time_to.isoformat(),
    }
    binds.update(zip(cluster_names, clusters, strict=True))
    placeholders = set(re.findall(r":(grafana_\w+)", out))
    return Query(name, out, {k: v for k, v in binds.items() if k in placeholders})
