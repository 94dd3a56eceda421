"""Publish a run's result files to the results location: a per-run key plus a ``latest`` alias.

Keys: ``<area>/runs/<run_id>/<name>`` (immutable, one folder per run) and
``<area>/latest/<name>`` (overwritten by every run). The per-run objects are written first, so
``latest`` never points at files that do not exist yet. A run whose result waits for approval
publishes its own key first (:func:`publish_run_files`) and moves ``latest`` only once approved
(:func:`promote_run_files`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from theia_sf.objectstore import ObjectStore

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
CONTENT_TYPES = {
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".json": "application/json",
    ".csv": "text/csv",
    ".txt": "text/plain",
}


def _content_type(name: str) -> str:
    for suffix, content_type in CONTENT_TYPES.items():
        if name.endswith(suffix):
            return content_type
    return "application/octet-stream"


def run_key(area: str, run_id: str, name: str) -> str:
    return f"{area}/runs/{run_id}/{name}"


def latest_key(area: str, name: str) -> str:
    return f"{area}/latest/{name}"


def _check_segments(*segments: str) -> None:
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            raise ValueError(f"unsafe object key segment {segment!r}")


def publish_run_files(
    store: ObjectStore, area: str, run_id: str, files: Mapping[str, bytes]
) -> dict[str, str]:
    """Write ``files`` under the run's key only; return name -> run URI."""
    _check_segments(area, run_id, *files)
    uris = {}
    for name, data in files.items():
        store.put_bytes(run_key(area, run_id, name), data, _content_type(name))
        uris[name] = store.uri(run_key(area, run_id, name))
    return uris


def promote_run_files(
    store: ObjectStore, area: str, run_id: str, names: Sequence[str]
) -> dict[str, str]:
    """Point ``latest`` at files a run already published (copied from its key, so the alias
    holds the very bytes of that run); return name -> latest URI."""
    _check_segments(area, run_id, *names)
    files = {name: store.get_bytes(run_key(area, run_id, name)) for name in names}
    return _write_latest(store, area, files)


def _write_latest(store: ObjectStore, area: str, files: Mapping[str, bytes]) -> dict[str, str]:
    uris = {}
    for name, data in files.items():
        store.put_bytes(latest_key(area, name), data, _content_type(name))
        uris[name] = store.uri(latest_key(area, name))
    return uris


def publish_artifacts(
    store: ObjectStore, area: str, run_id: str, files: Mapping[str, bytes]
) -> dict[str, str]:
    """Write ``files`` under the run's key and the ``latest`` alias; return name -> run URI."""
    uris = publish_run_files(store, area, run_id, files)
    _write_latest(store, area, files)
    return uris


def publish_json(
    store: ObjectStore, area: str, run_id: str, name: str, document: Any
) -> dict[str, str]:
    """Publish ``document`` as indented, key-sorted JSON (see :func:`publish_artifacts`)."""
    data = json.dumps(document, indent=2, sort_keys=True, default=str).encode()
    return publish_artifacts(store, area, run_id, {name: data})
