"""The SQL library: every statement the product runs lives in ``sql/**/*.sql``.

Files are written in the Snowflake dialect with ``:name`` placeholders for values. Jinja
(with ``StrictUndefined``) may choose structure; identifiers go through :func:`ident`.
Files whose name ends in ``.duckdb.sql`` are DuckDB-only statements (for example reading
CSV files with ``read_csv``) and are never transpiled.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
import sqlglot
from sqlglot import exp

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}")


def ident(name: object) -> str:
    """Allow only plain (optionally db.schema-qualified) identifiers into SQL text."""
    if not isinstance(name, str) or not _IDENT.fullmatch(name):
        raise ValueError(f"unsafe SQL identifier: {name!r}")
    return name


def sql_string(value: object) -> str:
    """Render a *trusted, code-defined* constant as a SQL string literal.

    Only for values that come from the product itself (column type names in a layout),
    never for user input: user values are always bound.
    """
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_ (),]*", value):
        raise ValueError(f"unsafe SQL constant: {value!r}")
    return "'" + value + "'"


# Snowflake takes no bind variables in integration, stage and task DDL, so the few values
# that must appear there as literals (ARNs, s3:// URLs, object comments) pass through these
# strict validators instead. The patterns exclude quotes and backslashes.
_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{0,12}:[A-Za-z0-9_+=,.@/:-]{1,1024}")
_S3_URL = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9_.=-]+)*/?")
_COMMENT = re.compile(r"[A-Za-z0-9 _.:/,()-]{0,256}")


def _validated_literal(pattern: re.Pattern[str], what: str) -> Any:
    def literal(value: object) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise ValueError(f"unsafe {what} for a SQL literal: {value!r}")
        return "'" + value + "'"

    return literal


arn_literal = _validated_literal(_ARN, "ARN")
s3_url_literal = _validated_literal(_S3_URL, "s3:// URL")
comment_literal = _validated_literal(_COMMENT, "comment")


def default_sql_dir() -> Path:
    """The ``sql/`` folder: next to the source tree, or packaged inside the wheel."""
    if env := os.environ.get("THEIA_SQL_DIR"):
        return Path(env)
    here = Path(__file__).resolve().parent
    for candidate in (here.parents[1] / "sql", here / "_sql"):
        if (candidate / "migrations").is_dir():
            return candidate
    raise FileNotFoundError("cannot find the sql/ folder; set THEIA_SQL_DIR")


@dataclass(frozen=True)
class Query:
    """A rendered statement: Snowflake-dialect text plus its bound values."""

    name: str
    text: str
    binds: Mapping[str, Any] = field(default_factory=dict)
    native_duckdb: bool = False

    @cached_property
    def _trees(self) -> list[exp.Expression]:
        if self.native_duckdb:
            return [t for t in sqlglot.parse(self.text, read="duckdb") if t is not None]
        return [t for t in sqlglot.parse(self.text, read="snowflake") if t is not None]

    def placeholders(self) -> set[str]:
        names = {p.name for t in self._trees for p in t.find_all(exp.Placeholder) if p.name}
        if self.native_duckdb:
            names |= {p.name for t in self._trees for p in t.find_all(exp.Parameter)}
        return names

    def statements(self) -> list[exp.Expression]:
        return list(self._trees)


class SqlLibrary:
    """Loads and renders the statement files under one root folder."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_sql_dir()
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.root),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
        )
        self._env.filters["ident"] = ident
        self._env.filters["sql_string"] = sql_string
        self._env.filters["arn"] = arn_literal
        self._env.filters["s3_url"] = s3_url_literal
        self._env.filters["comment"] = comment_literal

    def names(self) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*.sql"))

    def text(self, name: str, /, **structure: Any) -> str:
        """The text of ``name`` rendered with Jinja ``structure`` (no placeholder checks: for
        statements another program runs, such as Grafana's panel queries)."""
        return self._env.get_template(name).render(**structure)

    def render(
        self,
        name: str,
        /,
        *,
        binds: Mapping[str, Any] | None = None,
        row_binds: Iterable[str] = (),
        **structure: Any,
    ) -> Query:
        """Render ``name`` with Jinja ``structure`` and check every placeholder is bound,
        by ``binds`` or, for ``Session.insert_rows``, by each row (``row_binds``)."""
        text = self.text(name, **structure)
        query = Query(name, text, dict(binds or {}), native_duckdb=name.endswith(".duckdb.sql"))
        missing = query.placeholders() - set(query.binds) - set(row_binds)
        if missing:
            raise KeyError(f"{name}: unbound placeholders {sorted(missing)}")
        return query
