"""The state record of a stack: one JSON document, written after every step.

It holds the random suffix (the only thing that cannot be recomputed), the arguments of the
last onboarding, and what each completed step produced. Offboarding needs nothing else.
Where it lives is a port (:class:`StateStore`): an S3 object encrypted with SSE-KMS (cloud
stacks; :class:`theia_sf.adapters.aws.S3StateStore`) or a JSON file under the data
directory (embedded stacks without a state bucket; :class:`FileStateStore`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from theia_sf.errors import ConfigurationError
from theia_sf.onboarding.names import check_stack_name

STATE_VERSION = 1


class Status(StrEnum):
    ONBOARDING = "onboarding"
    ONBOARDED = "onboarded"
    FAILED = "failed"
    OFFBOARDING = "offboarding"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class StackState:
    """Mutable on purpose: steps record into it, and it is saved after each one."""

    stack: str
    engine: str
    suffix: str | None = None
    request: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: str = Status.ONBOARDING
    last_error: str | None = None
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    version: int = STATE_VERSION

    def __post_init__(self) -> None:
        check_stack_name(self.stack)

    def record(self, step: str, outputs: dict[str, Any]) -> None:
        self.steps[step] = dict(outputs)
        self.updated_at = _now()

    def output(self, step: str, key: str, default: Any = None) -> Any:
        return self.steps.get(step, {}).get(key, default)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> StackState:
        raw = json.loads(data)
        if raw.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported state record version {raw.get('version')!r}")
        return cls(**raw)


class StateStore(Protocol):
    location: str

    def check(self) -> None:
        """Raise ConfigurationError when the store cannot be used (before anything is made)."""
        ...

    def load(self, stack: str) -> StackState | None: ...

    def save(self, state: StackState) -> None: ...

    def delete(self, stack: str) -> None: ...


class FileStateStore:
    """``<root>/<stack>.json``, replaced atomically."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.location = str(self.root)

    def check(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise ConfigurationError(f"state location {self.root} is not a directory")

    def path(self, stack: str) -> Path:
        return self.root / f"{check_stack_name(stack)}.json"

    def load(self, stack: str) -> StackState | None:
        path = self.path(stack)
        return StackState.from_json(path.read_bytes()) if path.exists() else None

    def save(self, state: StackState) -> None:
        path = self.path(state.stack)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(state.to_json())
        os.replace(tmp, path)

    def delete(self, stack: str) -> None:
        self.path(stack).unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # leave no empty folder behind; keep other stacks
            self.root.rmdir()
