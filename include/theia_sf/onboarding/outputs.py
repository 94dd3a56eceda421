"""What onboarding reports: theia-sf's result table and the Flow Aggregator Helm values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class Outputs:
    """Rows of the result table (label, value), in theia-sf's order, plus Helm values."""

    rows: tuple[tuple[str, str], ...]
    helm_values: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        """A bordered two-column table like theia-sf's output."""
        if not self.rows:
            return ""
        left = max(len(k) for k, _ in self.rows)
        right = max(len(v) for _, v in self.rows)
        rule = f"+-{'-' * left}-+-{'-' * right}-+"
        lines = [rule]
        lines += [f"| {k.ljust(left)} | {v.ljust(right)} |" for k, v in self.rows]
        lines.append(rule)
        return "\n".join(lines)

    def helm_yaml(self) -> str:
        return yaml.safe_dump(self.helm_values, sort_keys=False) if self.helm_values else ""

    def helm_set_flags(self) -> list[str]:
        """The same values as ``--set`` flags, for ``helm install flow-aggregator ...``."""
        flags: list[str] = []

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(f"{prefix}.{k}" if prefix else k, v)
            else:
                text = str(value).lower() if isinstance(value, bool) else str(value)
                flags.append(f"--set {prefix}={text}")

        walk("", self.helm_values)
        return flags

    def note(self) -> str:
        """Markdown for a DAG-run note or a task log."""
        parts = ["```", self.table(), "```"]
        if self.helm_values:
            parts += ["Flow Aggregator Helm values:", "```yaml", self.helm_yaml().rstrip(), "```"]
        return "\n".join(parts)

    def to_record(self) -> dict[str, Any]:
        return {
            "table": {k: v for k, v in self.rows},
            "helm_values": self.helm_values,
            "text": self.table(),
        }


def flow_aggregator_values(bucket: str, prefix: str, region: str) -> dict[str, Any]:
    """Values for Antrea's flow-aggregator chart, including the pod labels theia-sf forgot."""
    return {
        "s3Uploader": {
            "enable": True,
            "bucketName": bucket,
            "bucketPrefix": prefix,
            "region": region,
            "recordFormat": "CSV",
            "compress": True,
        },
        "recordContents": {"podLabels": True},
    }
