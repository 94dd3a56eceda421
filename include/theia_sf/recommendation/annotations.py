"""Evidence annotations on published policies, so ``kubectl get -o yaml`` says where an object
came from: the run, its window, and the flows and bytes behind its rules.

They are added to the rendered documents when a run is published, not stored with the policy:
the warehouse keeps the rule text the self-check compiled, and its digest (the run diff's
notion of "changed") covers the rules only, so new evidence alone never reads as a change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import yaml

from theia_sf.recommendation.render import render_manifest

PREFIX = "theia.antrea.io/"
_METADATA = "\nmetadata:\n"


def _iso(value: dt.datetime | str) -> str:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat()


def evidence_annotations(
    run_id: str,
    window_start: dt.datetime | str,
    window_end: dt.datetime | str,
    flows: int | None,
    bytes_: int | None,
    first_seen: dt.datetime | str | None = None,
    last_seen: dt.datetime | str | None = None,
) -> dict[str, str]:
    """The annotations of one policy (values are strings, as Kubernetes requires)."""
    notes = {
        PREFIX + "run-id": run_id,
        PREFIX + "window": f"{_iso(window_start)}/{_iso(window_end)}",
        PREFIX + "flows": str(int(flows or 0)),
        PREFIX + "bytes": str(int(bytes_ or 0)),
    }
    if first_seen is not None:
        notes[PREFIX + "first-seen"] = _iso(first_seen)
    if last_seen is not None:
        notes[PREFIX + "last-seen"] = _iso(last_seen)
    return notes


def annotate(document: str, annotations: Mapping[str, str]) -> str:
    """``document`` (a rendered policy) with ``annotations`` under its metadata, laid out as the
    renderer lays out the annotated manifest (keys sorted: ``annotations`` comes first under
    ``metadata``). Documents of another shape are parsed and rendered again."""
    at = document.find(_METADATA)
    if at < 0 or document.startswith("  annotations:", at + len(_METADATA)):
        manifest = yaml.safe_load(document)
        metadata = manifest.setdefault("metadata", {})
        metadata["annotations"] = {**(metadata.get("annotations") or {}), **annotations}
        return render_manifest(manifest)
    block = render_manifest({"annotations": dict(annotations)})
    indented = "".join("  " + line for line in block.splitlines(keepends=True))
    cut = at + len(_METADATA)
    return document[:cut] + indented + document[cut:]
