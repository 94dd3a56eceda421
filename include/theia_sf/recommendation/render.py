"""YAML rendering as theia-sf did it: block style, keys sorted at every level, 2-space indent.

theia-sf used ``yaml.dump`` (PyYAML defaults). Its representer is pure Python and took most of
a run's time for large policy sets, so documents are emitted here directly, with the exact
layout PyYAML produces for this restricted shape (mappings, sequences, strings, integers). Each
distinct string is quoted by PyYAML itself, once, so quoting rules ("on", "1", "null"...) are
PyYAML's. Anything outside that shape falls back to ``yaml.dump``; tests compare both paths.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

try:
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # PyYAML built without libyaml
    _Dumper = yaml.SafeDumper

DOCUMENT_SEPARATOR = "---\n"
SCALAR_CACHE = 16384  # distinct scalars an emitter remembers (see _Emitter.scalar)
# PyYAML writes longer mapping keys in the explicit "? key" form; leave those to it.
_MAX_SIMPLE_KEY = 120


# Strings PyYAML certainly writes plain (unquoted), checked without calling it: lower-case
# DNS-style names and IPv4 CIDRs. No implicit resolver (bool, null, int, float, timestamp)
# matches them, except the YAML 1.1 booleans and null spelled in lower case, excluded here;
# none contains an indicator or a space. A large run has ~100,000 such distinct strings.
_PLAIN = re.compile(r"[a-z][a-z0-9-]*|[0-9]{1,3}(?:\.[0-9]{1,3}){3}/[0-9]{1,3}")
_RESOLVED_WORDS = frozenset(("yes", "no", "true", "false", "on", "off", "null"))


def is_plain(value: str) -> bool:
    """True when PyYAML would emit ``value`` as-is (a conservative subset of such strings)."""
    return _PLAIN.fullmatch(value) is not None and value not in _RESOLVED_WORDS


class _Fallback(Exception):
    pass


def render_with_pyyaml(manifest: Mapping[str, Any]) -> str:
    """The reference rendering: ``yaml.dump`` with sorted keys and block style."""
    return yaml.dump(
        _plain(manifest),
        Dumper=_Dumper,
        default_flow_style=False,
        sort_keys=True,
        allow_unicode=True,
    )


def _plain(value: Any) -> Any:
    # Mappings that are not dicts (e.g. MappingProxyType) are not representable by SafeDumper.
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class _Emitter:
    """Emits lines; remembers how it wrote recent scalars (texts and numbers, by value)."""

    def __init__(self) -> None:
        self.scalars: dict[Any, str] = {}

    def scalar(self, value: Any) -> str:
        text = self.scalars.get(value)
        if text is None:
            if isinstance(value, bool) or value is None:
                raise _Fallback
            if isinstance(value, int):
                text = str(value)
            elif isinstance(value, str) and is_plain(value):
                text = value
            elif isinstance(value, str):
                dumped = yaml.dump([value], Dumper=_Dumper, allow_unicode=True, width=1 << 30)
                if not dumped.startswith("- ") or dumped.count("\n") != 1:
                    raise _Fallback
                text = dumped[2:-1]
            else:
                raise _Fallback
            if len(self.scalars) >= SCALAR_CACHE:
                # Most scalars of a large set occur once (an address in one rule): start over
                # rather than hold them all; the frequent ones come back at once.
                self.scalars.clear()
            self.scalars[value] = text
        return text

    def key(self, key: Any) -> str:
        if not isinstance(key, str) or len(key) > _MAX_SIMPLE_KEY:
            raise _Fallback
        return self.scalar(key)

    def mapping(
        self, value: Mapping[str, Any], indent: int, out: list[str], first: str = ""
    ) -> None:
        """Lines of a non-empty mapping; ``first`` prefixes the first line ("- ")."""
        pad = " " * indent
        lead = first or pad
        scalars = self.scalars  # key() and scalar() for texts already known, inlined
        for k in sorted(value):
            v = value[k]
            known = scalars.get(k) if type(k) is str and len(k) <= _MAX_SIMPLE_KEY else None
            head = lead + (known or self.key(k)) + ":"
            lead = pad
            # Exact type checks first: isinstance against the Mapping ABC is slow, and this
            # runs for every key of every rule.
            kind = type(v)
            if kind is str or kind is int:
                out.append(head + " " + (scalars.get(v) or self.scalar(v)))
            elif kind is dict or (kind is not list and isinstance(v, Mapping)):
                if v:
                    out.append(head)
                    self.nested(v, indent + 2, out)
                else:
                    out.append(head + " {}")
            elif isinstance(v, list | tuple):
                if v:
                    out.append(head)
                    # Sequences inside a mapping are not indented (PyYAML's default).
                    self.sequence(v, indent, out)
                else:
                    out.append(head + " []")
            else:
                out.append(head + " " + self.scalar(v))

    def nested(self, value: Mapping[str, Any], indent: int, out: list[str]) -> None:
        self.mapping(value, indent, out)

    def sequence(self, items: Sequence[Any], indent: int, out: list[str]) -> None:
        pad = " " * indent
        for item in items:
            if type(item) is dict or isinstance(item, Mapping):
                if item:
                    self.mapping(item, indent + 2, out, first=pad + "- ")
                else:
                    out.append(pad + "- {}")
            elif isinstance(item, list | tuple):
                raise _Fallback  # nested sequences do not occur in policies
            else:
                out.append(pad + "- " + self.scalar(item))


def _render(emitter: _Emitter, manifest: Mapping[str, Any]) -> str:
    lines: list[str] = []
    try:
        if not manifest:
            raise _Fallback
        emitter.mapping(manifest, 0, lines)
    except _Fallback:
        return render_with_pyyaml(manifest)
    lines.append("")
    return "\n".join(lines)


def render_manifests(manifests: Sequence[Mapping[str, Any]]) -> list[str]:
    """One YAML document per manifest, each ending with a newline."""
    emitter = _Emitter()
    return [_render(emitter, manifest) for manifest in manifests]


class Renderer:
    """Renders manifests one at a time, sharing the scalar texts between them."""

    def __init__(self) -> None:
        self._emitter = _Emitter()

    def render(self, manifest: Mapping[str, Any]) -> str:
        return _render(self._emitter, manifest)


def render_manifest(manifest: Mapping[str, Any]) -> str:
    return render_manifests([manifest])[0]


def render_documents(documents: Iterable[str]) -> str:
    """Join rendered documents with ``---`` lines between them."""
    return DOCUMENT_SEPARATOR.join(documents)
