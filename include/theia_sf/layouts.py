"""Flow-record layouts: the one place that says which CSV field is which column.

Antrea's Flow Aggregator writes header-less CSV whose field order depends on the Antrea
version. Every loader derives from :data:`LAYOUTS`: the DuckDB ingestion SQL and the
Snowpipe COPY of the Snowflake engine.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from theia_sf.errors import ConfigurationError


class Kind(StrEnum):
    TIME = "time"  # Unix seconds in the file, TIMESTAMP_TZ in the table
    INT = "int"
    STR = "str"  # empty field -> NULL
    LABELS = "labels"  # single-quoted flat JSON string map, empty, or the literal null


# Unix seconds as Antrea writes them (IPFIX dateTimeSeconds is an unsigned 32-bit number).
TIME_RANGE = (0, 2**32 - 1)

# Pod labels are Kubernetes labels: string keys to string values. The whole field must be a
# JSON object of strings (any nesting, number, array or boolean is refused). Written as a
# regular expression so that Python (line checks) and DuckDB (RE2, fast path) test exactly
# the same grammar, in linear time and without recursion however deep a hostile value nests.
_JSON_STRING = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9A-Fa-f]{4})*"'
_WS = r"[ \t\r\n]*"
_PAIR = _JSON_STRING + _WS + ":" + _WS + _JSON_STRING + _WS
LABELS_PATTERN = _WS + r"\{" + _WS + "(?:" + _PAIR + "(?:," + _WS + _PAIR + ")*)?" + r"\}" + _WS
_LABELS = re.compile(LABELS_PATTERN)


def labels_problem(value: str) -> str | None:
    """Why a label field's text is not a flat string map, or None when it is one.

    Empty and the literal ``null`` mean "no labels" (a pod without labels)."""
    if not value or value == "null" or _LABELS.fullmatch(value):
        return None
    try:  # only to word the reason; the pattern above decided
        parsed = json.loads(value)
    except ValueError:
        return "is not valid JSON"
    except RecursionError:
        return "nests too deeply (labels are a flat map of strings)"
    if not isinstance(parsed, dict):
        return "is not a JSON object"
    return "is not a flat map of strings to strings (Kubernetes labels)"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    sql_type: str  # Snowflake type of the FLOWS column
    kind: Kind


def _c(name: str, sql_type: str) -> Column:
    if sql_type == "TIMESTAMP_TZ":
        kind = Kind.TIME
    elif sql_type.startswith("NUMBER"):
        kind = Kind.INT
    elif name.endswith("PodLabels"):
        kind = Kind.LABELS
    else:
        kind = Kind.STR
    return Column(name, sql_type, kind)


# theia-sf's FLOWS table, in order: 51 columns.
THEIA_COLUMNS: tuple[Column, ...] = tuple(
    _c(n, t)
    for n, t in [
        ("flowStartSeconds", "TIMESTAMP_TZ"),
        ("flowEndSeconds", "TIMESTAMP_TZ"),
        ("flowEndSecondsFromSourceNode", "TIMESTAMP_TZ"),
        ("flowEndSecondsFromDestinationNode", "TIMESTAMP_TZ"),
        ("flowEndReason", "NUMBER(3,0)"),
        ("sourceIP", "STRING(50)"),
        ("destinationIP", "STRING(50)"),
        ("sourceTransportPort", "NUMBER(5,0)"),
        ("destinationTransportPort", "NUMBER(5,0)"),
        ("protocolIdentifier", "NUMBER(3,0)"),
        ("packetTotalCount", "NUMBER(20,0)"),
        ("octetTotalCount", "NUMBER(20,0)"),
        ("packetDeltaCount", "NUMBER(20,0)"),
        ("octetDeltaCount", "NUMBER(20,0)"),
        ("reversePacketTotalCount", "NUMBER(20,0)"),
        ("reverseOctetTotalCount", "NUMBER(20,0)"),
        ("reversePacketDeltaCount", "NUMBER(20,0)"),
        ("reverseOctetDeltaCount", "NUMBER(20,0)"),
        ("sourcePodName", "STRING(256)"),
        ("sourcePodNamespace", "STRING(256)"),
        ("sourceNodeName", "STRING(256)"),
        ("destinationPodName", "STRING(256)"),
        ("destinationPodNamespace", "STRING(256)"),
        ("destinationNodeName", "STRING(256)"),
        ("destinationClusterIP", "STRING(50)"),
        ("destinationServicePort", "NUMBER(5,0)"),
        ("destinationServicePortName", "STRING(256)"),
        ("ingressNetworkPolicyName", "STRING(256)"),
        ("ingressNetworkPolicyNamespace", "STRING(256)"),
        ("ingressNetworkPolicyRuleName", "STRING(256)"),
        ("ingressNetworkPolicyRuleAction", "NUMBER(3,0)"),
        ("ingressNetworkPolicyType", "NUMBER(3,0)"),
        ("egressNetworkPolicyName", "STRING(256)"),
        ("egressNetworkPolicyNamespace", "STRING(256)"),
        ("egressNetworkPolicyRuleName", "STRING(256)"),
        ("egressNetworkPolicyRuleAction", "NUMBER(3,0)"),
        ("egressNetworkPolicyType", "NUMBER(3,0)"),
        ("tcpState", "STRING(20)"),
        ("flowType", "NUMBER(3,0)"),
        ("sourcePodLabels", "STRING(10000)"),
        ("destinationPodLabels", "STRING(10000)"),
        ("throughput", "NUMBER(20,0)"),
        ("reverseThroughput", "NUMBER(20,0)"),
        ("throughputFromSourceNode", "NUMBER(20,0)"),
        ("throughputFromDestinationNode", "NUMBER(20,0)"),
        ("reverseThroughputFromSourceNode", "NUMBER(20,0)"),
        ("reverseThroughputFromDestinationNode", "NUMBER(20,0)"),
        ("clusterUUID", "STRING(36)"),
        ("timeInserted", "TIMESTAMP_TZ"),
        ("egressName", "STRING(256)"),
        ("egressIP", "STRING(50)"),
    ]
)

# Columns of newer Antrea versions, added by forward migration 000004.
NEWER_COLUMNS: tuple[Column, ...] = (
    _c("destinationServiceIP", "STRING(50)"),
    _c("appProtocolName", "STRING(256)"),
    _c("httpVals", "STRING"),
    _c("egressNodeName", "STRING(256)"),
)

FLOW_COLUMNS: tuple[Column, ...] = THEIA_COLUMNS + NEWER_COLUMNS
COLUMNS_BY_NAME: dict[str, Column] = {c.name: c for c in FLOW_COLUMNS}

_BASE = [c.name for c in THEIA_COLUMNS[:49]]
_V113 = [*_BASE, "egressName", "egressIP"]
_V115 = [*_V113, "appProtocolName", "httpVals"]
_V20 = [*_V115, "egressNodeName"]
_V26 = [*_V113, "egressNodeName"]
_V27 = list(_V26)
_V27.insert(_V27.index("destinationClusterIP") + 1, "destinationServiceIP")


@dataclass(frozen=True, slots=True)
class Layout:
    name: str
    antrea: str
    fields: tuple[str, ...]

    @property
    def columns(self) -> tuple[Column, ...]:
        return tuple(COLUMNS_BY_NAME[f] for f in self.fields)


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout("v1.9", "1.9 - 1.12", tuple(_BASE)),
        Layout("v1.13", "1.13 - 1.14", tuple(_V113)),
        Layout("v1.15", "1.15 - 1.x", tuple(_V115)),
        Layout("v2.0", "2.0 - 2.5", tuple(_V20)),
        Layout("v2.6", "2.6", tuple(_V26)),
        Layout("v2.7", "2.7 and later", tuple(_V27)),
    )
}
AUTO = "auto"
LAYOUT_NAMES: tuple[str, ...] = (*LAYOUTS, AUTO)


def get_layout(name: str) -> Layout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown flow-record layout {name!r}: set THEIA_FLOW_LAYOUT (or the layout Param) "
            f"to one of {', '.join(LAYOUT_NAMES)}"
        ) from None


def split_fields(line: str) -> list[str]:
    """Split one CSV line on commas, honouring single-quoted fields (labels).

    Raises ValueError on a quote that is never closed or text glued to a quoted field.
    """
    fields: list[str] = []
    i, n = 0, len(line)
    while True:
        if i < n and line[i] == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ValueError(f"unterminated quote in field {len(fields) + 1}")
            fields.append(line[i + 1 : end])
            i = end + 1
            if i < n and line[i] != ",":
                raise ValueError(f"text after the closing quote of field {len(fields)}")
        else:
            end = line.find(",", i)
            end = n if end < 0 else end
            value = line[i:end]
            if "'" in value:
                raise ValueError(f"stray quote in field {len(fields) + 1}")
            fields.append(value)
            i = end
        if i >= n:
            return fields
        i += 1  # skip the comma
        if i == n:
            fields.append("")
            return fields


def detect_layout(sample_lines: list[str]) -> Layout:
    """Pick the layout of a file from its first lines (``auto``).

    The field count decides, except for the two 53-field layouts: the 26th field is the
    integer destinationServicePort in ``v1.15`` and destinationServiceIP (an IP or empty)
    in ``v2.7``. Lines that do not split are skipped (they will be rejected at load time).
    """
    by_count: dict[int, list[Layout]] = {}
    for layout in LAYOUTS.values():
        by_count.setdefault(len(layout.fields), []).append(layout)
    for line in sample_lines:
        try:
            fields = split_fields(line.rstrip("\r\n"))
        except ValueError:
            continue
        candidates = by_count.get(len(fields), [])
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            # v1.15 always writes an integer port there (0 without a service).
            return LAYOUTS["v1.15"] if fields[25].isdigit() else LAYOUTS["v2.7"]
    counts = sorted(by_count)
    raise ValueError(
        f"cannot detect the flow-record layout: no line has a known field count {counts}; "
        "set the layout explicitly"
    )
