"""Difference between two runs' policy sets, by policy identity (kind, namespace, name).

Names are stable, so the same workload keeps its policy name across runs and a change of its
rules shows up as "changed" rather than as one removal plus one addition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PolicyDiff:
    previous_run_id: str | None
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    unchanged: int

    def to_record(self) -> dict[str, Any]:
        return {
            "previous_run_id": self.previous_run_id,
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
            "unchanged": self.unchanged,
        }


def diff_policies(
    previous: Mapping[str, str] | None, current: Mapping[str, str], previous_run_id: str | None
) -> PolicyDiff:
    """``previous``/``current`` map policy key to a digest of its YAML.

    Without a previous run, every policy is "added".
    """
    before = previous or {}
    added = sorted(k for k in current if k not in before)
    removed = sorted(k for k in before if k not in current)
    common = [k for k in current if k in before]
    changed = sorted(k for k in common if current[k] != before[k])
    return PolicyDiff(
        previous_run_id, tuple(added), tuple(removed), tuple(changed), len(common) - len(changed)
    )
