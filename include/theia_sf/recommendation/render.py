"""YAML rendering as theia-sf did it: block style, keys sorted at every level, 2-space indent.

theia-sf used ``yaml.dump`` (PyYAML defaults). Its representer is pure Python and took most of
a run's time for large policy sets, so documents are emitted here directly, with the exact
layout PyYAML produces for this restricted shape (mappings, sequences, strings, integers). Each
distinct string is quoted by PyYAML itself, once, so quoting rules ("on", "1", "null"...) are
PyYAML's. Anything outside that shape falls back to ``yaml.dump``; tests compare both paths.
Sub-trees shared between policies (peers, port lists) are rendered once per call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from theia_sf.policyeval import add_one_or_many, one_or_many

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
    """Emits lines. ``shared`` (id -> object, kept alive by the caller) limits the cache of
    rendered sub-trees to those objects; without it every sub-tree is cached, which is only
    valid while all rendered objects are alive (ids are reused once an object is freed)."""

    def __init__(self, shared: Mapping[int, Any] | None = None) -> None:
        self.scalars: dict[Any, str] = {}
        self.only = shared
        # Rendered text of a sub-tree (its lines joined), by (id, indent): a manifest's line
        # list then holds one item per shared sub-tree, which the final join copies once.
        self.shared: dict[tuple[int, int], str] = {}
        # id -> the object: a cached object is held, so its id cannot be reused while its
        # texts are kept (forget() lets it go); keys_of: id -> its key (or keys) in shared.
        self.held: dict[int, Any] = {}
        self.keys_of: dict[int, Any] = {}

    def keep(self, key: tuple[int, int], value: Any, text: str) -> str:
        self.shared[key] = text
        if self.only is not None:
            self.held[key[0]] = value
            add_one_or_many(self.keys_of, key[0], key)
        return text

    def forget(self, ids: Iterable[int]) -> None:
        for i in ids:
            for key in one_or_many(self.keys_of.pop(i, None)):
                del self.shared[key]
            self.held.pop(i, None)

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
        if self.only is not None and id(value) not in self.only:
            self.mapping(value, indent, out)
            return
        key = (id(value), indent)
        text = self.shared.get(key)
        if text is None:
            lines: list[str] = []
            self.mapping(value, indent, lines)
            text = self.keep(key, value, "\n".join(lines))
        out.append(text)

    def sequence(self, items: Sequence[Any], indent: int, out: list[str]) -> None:
        cache = self.only is None or id(items) in self.only
        key = (id(items), indent)
        cached = self.shared.get(key) if cache else None
        if cached is not None:
            out.append(cached)
            return
        lines: list[str] = []
        pad = " " * indent
        only = self.only
        for item in items:
            if type(item) is dict or isinstance(item, Mapping):
                if not item:
                    lines.append(pad + "- {}")
                elif only is not None and id(item) in only:  # a shared item: rendered once
                    item_key = (id(item), -indent - 1)
                    item_text = self.shared.get(item_key)
                    if item_text is None:
                        item_lines: list[str] = []
                        self.mapping(item, indent + 2, item_lines, first=pad + "- ")
                        item_text = self.keep(item_key, item, "\n".join(item_lines))
                    lines.append(item_text)
                else:
                    self.mapping(item, indent + 2, lines, first=pad + "- ")
            elif isinstance(item, list | tuple):
                raise _Fallback  # nested sequences do not occur in policies
            else:
                lines.append(pad + "- " + self.scalar(item))
        if cache:
            text = self.keep(key, items, "\n".join(lines))
            out.append(text)
        else:
            out.extend(lines)


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
    """Renders manifests one at a time (each may be freed after its turn).

    ``shared`` maps the ids of sub-trees that several manifests hold (peer lists, port lists,
    selectors) to those objects; they are rendered once. The caller keeps them alive.
    """

    def __init__(self, shared: Mapping[int, Any]) -> None:
        self._emitter = _Emitter(shared)

    def render(self, manifest: Mapping[str, Any]) -> str:
        return _render(self._emitter, manifest)

    def forget(self, ids: Iterable[int]) -> None:
        """Drop the texts of these shared objects: call it before the caller lets them out of
        ``shared`` (their ids may then be reused)."""
        self._emitter.forget(ids)


def render_manifest(manifest: Mapping[str, Any]) -> str:
    return render_manifests([manifest])[0]


def render_documents(documents: Iterable[str]) -> str:
    """Join rendered documents with ``---`` lines between them."""
    return DOCUMENT_SEPARATOR.join(documents)
