"""Stable policy names: the suffix is a hash of what the policy applies to.

theia-sf drew 5 random characters per policy, so every run renamed everything and
``kubectl apply`` duplicated policies. Hashing the applied-to group (namespace and labels)
gives the same name on every run for the same workload.
"""

from __future__ import annotations

import base64
import hashlib
import json

SUFFIX_LENGTH = 10  # base32 characters: 50 bits, collisions are checked per run anyway


def stable_suffix(*parts: object) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    digest = hashlib.sha256(text.encode()).digest()
    return base64.b32encode(digest).decode().lower()[:SUFFIX_LENGTH]


def group_suffix(namespace: str, labels: tuple[tuple[str, str], ...]) -> str:
    return stable_suffix(namespace, [list(kv) for kv in labels])


def allow_anp_name(namespace: str, labels: tuple[tuple[str, str], ...]) -> str:
    return "recommend-allow-anp-" + group_suffix(namespace, labels)


def reject_acnp_name(namespace: str, labels: tuple[tuple[str, str], ...]) -> str:
    return "recommend-reject-acnp-" + group_suffix(namespace, labels)


def k8s_np_name(namespace: str, labels: tuple[tuple[str, str], ...]) -> str:
    return "recommend-k8s-np-" + group_suffix(namespace, labels)


def namespace_allow_acnp_name(namespace: str) -> str:
    return f"recommend-allow-acnp-{namespace}-" + stable_suffix(namespace)[:5]


REJECT_ALL_ACNP_NAME = "recommend-reject-all-acnp"
