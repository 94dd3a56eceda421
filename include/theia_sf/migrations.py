"""Forward-only schema migrations, recorded in ``SCHEMA_MIGRATIONS``.

Files are ``sql/migrations/NNNNNN_<desc>.up.sql``; each one is applied with its record in
one transaction where the engine allows DDL in transactions (DuckDB), and every file is
written to be idempotent anyway (``IF NOT EXISTS`` / ``OR REPLACE``), since Snowflake
commits DDL immediately.
"""

from __future__ import annotations

import logging
import re
from contextlib import nullcontext
from dataclasses import dataclass

from theia_sf.sql import SqlLibrary
from theia_sf.warehouse import Session

log = logging.getLogger(__name__)

_NAME = re.compile(r"(\d{6})_([a-z0-9_]+)\.up\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    path: str  # relative to the SQL library root


def discover(sql: SqlLibrary) -> list[Migration]:
    found = []
    for path in sorted((sql.root / "migrations").glob("*.up.sql")):
        m = _NAME.fullmatch(path.name)
        if not m:
            raise ValueError(f"migration file {path.name} is not named NNNNNN_<desc>.up.sql")
        found.append(Migration(int(m.group(1)), m.group(2), f"migrations/{path.name}"))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {versions}")
    return found


def applied_versions(session: Session, sql: SqlLibrary) -> set[int]:
    session.execute(sql.render("schema/create_schema_migrations.sql"))
    _, rows = session.fetch_rows(sql.render("schema/select_schema_migrations.sql"))
    return {int(r[0]) for r in rows}


def migrate(session: Session, sql: SqlLibrary) -> list[int]:
    """Apply every pending migration in order; return the versions applied now."""
    done = applied_versions(session, sql)
    applied = []
    for migration in discover(sql):
        if migration.version in done:
            continue
        log.info("applying migration %06d %s", migration.version, migration.description)
        # Snowflake commits DDL implicitly (it would end any open transaction), so only
        # DuckDB applies a migration and its record atomically.
        with session.transaction() if session.engine == "duckdb" else nullcontext():
            session.execute(sql.render(migration.path))
            session.execute(
                sql.render(
                    "schema/insert_schema_migration.sql",
                    binds={"version": migration.version, "description": migration.description},
                )
            )
        applied.append(migration.version)
    if not applied:
        log.info("schema is up to date (%d migrations)", len(done))
    return applied
