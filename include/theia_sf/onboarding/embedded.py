"""Onboarding for the embedded engine: a DuckDB file, its schema, and the two locations.

Steps, in order: the DuckDB file with every migration, the flows location, the results
location. A location is a local directory (created) or an S3-compatible bucket (created when
missing, through the ``theia_aws`` connection). The state record remembers which of them this
stack created, so offboarding removes exactly those and leaves pre-existing ones (and their
data) alone; the database file is always removed, it is the stack's own.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from theia_sf.errors import ConfigurationError
from theia_sf.migrations import discover, migrate
from theia_sf.objectstore import parse_location
from theia_sf.onboarding.names import check_stack_name, stack_tags
from theia_sf.onboarding.outputs import Outputs, flow_aggregator_values
from theia_sf.onboarding.ports import AwsPort
from theia_sf.onboarding.state import StackState, StateStore, Status
from theia_sf.sql import SqlLibrary
from theia_sf.warehouse import Warehouse

log = logging.getLogger(__name__)

ENGINE = "duckdb"
STEPS = ("create_database_file", "prepare_flows_location", "prepare_results_location")


@dataclass(frozen=True, slots=True)
class EmbeddedRequest:
    stack_name: str
    duckdb_path: Path
    flows_location: str
    results_location: str
    region: str = "us-west-2"  # for buckets created on an S3-compatible store

    def __post_init__(self) -> None:
        check_stack_name(self.stack_name)
        for name, location in (
            ("THEIA_FLOWS_LOCATION", self.flows_location),
            ("THEIA_RESULTS_LOCATION", self.results_location),
        ):
            try:
                parse_location(location)
            except ConfigurationError as error:
                raise ConfigurationError(f"{name}: {error}") from None


def plan_embedded(request: EmbeddedRequest, sql: SqlLibrary) -> list[dict[str, Any]]:
    """Every action of an embedded onboarding, for dry runs and logs."""
    migrations = [f"{m.version:06d}_{m.description}" for m in discover(sql)]
    items = [
        {
            "step": "create_database_file",
            "action": "create DuckDB file and apply migrations",
            "target": str(request.duckdb_path),
            "migrations": migrations,
        }
    ]
    for step, location in (
        ("prepare_flows_location", request.flows_location),
        ("prepare_results_location", request.results_location),
    ):
        scheme, _root, _prefix = parse_location(location)
        what = "create directory" if scheme == "file" else "create or verify bucket"
        items.append({"step": step, "action": what, "target": location})
    return items


def _prepare_location(location: str, stack: str, aws: Callable[[], AwsPort]) -> dict[str, Any]:
    scheme, root, prefix = parse_location(location)
    if scheme == "file":
        path = Path(root)
        existed = path.exists()
        if existed and not path.is_dir():
            raise ConfigurationError(f"location {location} exists and is not a directory")
        path.mkdir(parents=True, exist_ok=True)
        return {"location": location, "kind": "directory", "created": not existed}
    port = aws()
    created = port.ensure_bucket(root, port.region, stack_tags(stack))
    return {
        "location": location,
        "kind": "bucket",
        "bucket": root,
        "prefix": prefix,
        "created": created,
    }


def _remove_location(info: dict[str, Any], aws: Callable[[], AwsPort]) -> str:
    location = info["location"]
    if not info.get("created"):
        return f"kept {location} (it existed before onboarding)"
    if info["kind"] == "directory":
        shutil.rmtree(location, ignore_errors=True)
        return f"removed directory {location}"
    deleted = aws().delete_bucket(info["bucket"], force=True)
    return f"removed bucket {info['bucket']} ({deleted or 0} object versions)"


def outputs_embedded(state: StackState) -> Outputs:
    db = state.output("create_database_file", "path", "")
    flows = state.steps.get("prepare_flows_location", {})
    results = state.output("prepare_results_location", "location", "")
    rows = (
        ("Engine", "duckdb"),
        ("Stack", state.stack),
        ("DuckDB File", str(db)),
        ("Schema Version", str(state.output("create_database_file", "schema_version", ""))),
        ("Flows Table Name", "FLOWS"),
        ("Flows Location", str(flows.get("location", ""))),
        ("Results Location", str(results)),
    )
    helm: dict[str, Any] = {}
    if flows.get("kind") == "bucket":
        helm = flow_aggregator_values(
            flows["bucket"], flows.get("prefix") or "", state.request.get("region", "")
        )
    return Outputs(rows, helm)


def onboard_embedded(
    request: EmbeddedRequest,
    *,
    warehouse: Callable[[], Warehouse],
    sql: SqlLibrary,
    state_store: StateStore,
    aws: Callable[[], AwsPort],
    after_step: Callable[[str], None] | None = None,
) -> Outputs:
    """Create (or converge) the embedded stack; the state is saved after every step."""
    state = state_store.load(request.stack_name)
    if state is not None and state.engine != ENGINE:
        raise ConfigurationError(
            f"stack {request.stack_name!r} is a {state.engine} stack; offboard it first or "
            "choose another stack_name"
        )
    if state is None:
        state = StackState(stack=request.stack_name, engine=ENGINE)
    state.request = {
        "duckdb_path": str(request.duckdb_path),
        "flows_location": request.flows_location,
        "results_location": request.results_location,
        "region": request.region,
    }
    state.status = Status.ONBOARDING
    state_store.save(state)
    try:
        path = Path(request.duckdb_path)
        existed = path.exists()
        with warehouse().session() as session:
            applied = migrate(session, sql)
        previous = state.steps.get("create_database_file", {})
        state.record(
            "create_database_file",
            {
                "path": str(path),
                "created": bool(previous.get("created")) or not existed,
                "applied_now": applied,
                "schema_version": max((m.version for m in discover(sql)), default=0),
            },
        )
        log.info("DuckDB file %s ready (migrations applied now: %s)", path, applied or "none")
        state_store.save(state)
        if after_step:
            after_step("create_database_file")
        for step, location in (
            ("prepare_flows_location", request.flows_location),
            ("prepare_results_location", request.results_location),
        ):
            info = _prepare_location(location, request.stack_name, aws)
            # Keep "created" once true: a re-run must not forget that this stack made it.
            info["created"] = info["created"] or bool(state.output(step, "created"))
            state.record(step, info)
            log.info("%s: %s", step, info)
            state_store.save(state)
            if after_step:
                after_step(step)
    except Exception as error:
        state.status = Status.FAILED
        state.last_error = f"{type(error).__name__}: {error}"
        state_store.save(state)
        raise
    state.status = Status.ONBOARDED
    state.last_error = None
    state_store.save(state)
    return outputs_embedded(state)


def offboard_embedded(
    state: StackState, *, state_store: StateStore, aws: Callable[[], AwsPort]
) -> list[str]:
    """Remove what :func:`onboard_embedded` made, in reverse order; the state record last."""
    state.status = Status.OFFBOARDING
    state_store.save(state)
    done: list[str] = []
    for step in ("prepare_results_location", "prepare_flows_location"):
        info = state.steps.get(step)
        if info:
            done.append(_remove_location(info, aws))
            del state.steps[step]
            state_store.save(state)
    db_path = state.output("create_database_file", "path") or state.request.get("duckdb_path")
    if db_path:
        path = Path(db_path)
        for candidate in (path, path.with_name(path.name + ".wal")):
            if candidate.exists():
                candidate.unlink()
                done.append(f"removed {candidate}")
    state.steps.pop("create_database_file", None)
    state_store.delete(state.stack)
    done.append(f"removed state record of stack {state.stack}")
    return done
