"""The identifiers users give: each with its pattern (the Params' JSON-schema pattern is built
from it) and the check or parse the core calls."""

from __future__ import annotations

import re

from theia_sf.errors import ConfigurationError

# The Flow Aggregator's cluster UUID, in the canonical 8-4-4-4-12 form it writes.
CLUSTER_UUID_PATTERN = (
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
# Kubernetes names: a namespace is a DNS-1123 label; a label key is an optional DNS-1123
# subdomain prefix plus a 63-character name; a label value is empty or a 63-character name.
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
LABEL_NAME_PATTERN = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
LABEL_KEY_PATTERN = rf"^({_DNS_SUBDOMAIN}/)?{LABEL_NAME_PATTERN}$"

_CLUSTER_UUID = re.compile(CLUSTER_UUID_PATTERN)
_NAMESPACE = re.compile(NAMESPACE_PATTERN)
_LABEL_KEY = re.compile(LABEL_KEY_PATTERN)
_LABEL_VALUE = re.compile(rf"^({LABEL_NAME_PATTERN})?$")


def parse_cluster_uuid(value: object) -> str | None:
    """A cluster filter: None or empty for every cluster, else the UUID in lower case (as the
    Flow Aggregator writes it, so an upper-case entry still matches its flows)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _CLUSTER_UUID.fullmatch(value):
        raise ConfigurationError(
            f"cluster_uuid={value!r} is not a UUID (8-4-4-4-12 hexadecimal digits)"
        )
    return value.lower()


def is_namespace(name: object) -> bool:
    return isinstance(name, str) and bool(_NAMESPACE.fullmatch(name))


def is_label_key(key: object) -> bool:
    if not isinstance(key, str) or not _LABEL_KEY.fullmatch(key):
        return False
    prefix, _, _ = key.rpartition("/")
    return len(prefix) <= 253


def is_label_value(value: object) -> bool:
    return isinstance(value, str) and bool(_LABEL_VALUE.fullmatch(value))
