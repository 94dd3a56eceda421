"""Onboarding services: create, converge and remove a stack; state bucket and KMS key jobs.

Each function takes its ports (warehouse, AWS, Snowflake factory, state store) as arguments,
so it runs the same from pytest (DuckDB files, moto, a Snowflake double) and from the
Airflow glue (:mod:`theia_sf.airflow.onboarding`). Results are small JSON-able dicts.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from theia_sf.alerts.model import AlertDeliveryError, AlertMessage, AlertSink, try_send
from theia_sf.errors import ConfigurationError
from theia_sf.onboarding.cloud import (
    STEPS,
    CloudRequest,
    CloudStack,
    SnowflakeFactory,
    plan_cloud,
)
from theia_sf.onboarding.embedded import (
    ENGINE as EMBEDDED,
)
from theia_sf.onboarding.embedded import (
    EmbeddedRequest,
    offboard_embedded,
    onboard_embedded,
    plan_embedded,
)
from theia_sf.onboarding.health import PipeError, decode_notification, judge_pipe
from theia_sf.onboarding.names import (
    BUCKET_PATTERN as BUCKET_NAME_PATTERN,
)
from theia_sf.onboarding.names import (
    KMS_ALIAS_PATTERN,
    StackNames,
    check_stack_name,
    stack_tags,
)
from theia_sf.onboarding.outputs import Outputs
from theia_sf.onboarding.ports import AwsPort
from theia_sf.onboarding.state import StateStore
from theia_sf.sql import SqlLibrary
from theia_sf.warehouse import Warehouse

log = logging.getLogger(__name__)


def check_confirmation(confirm: object, expected: str, what: str = "stack name") -> None:
    """Destructive jobs run only when Param ``confirm`` repeats the name of what goes away."""
    if confirm != expected:
        raise ConfigurationError(
            f"refusing to delete: Param confirm must equal the {what} {expected!r} "
            f"(got {confirm!r})"
        )


def _result(engine: str, stack: str, *, dry_run: bool, **fields: Any) -> dict[str, Any]:
    return {"engine": engine, "stack": stack, "dry_run": dry_run, **fields}


def _with_outputs(result: dict[str, Any], outputs: Outputs) -> dict[str, Any]:
    result["outputs"] = outputs.to_record()
    result["table"] = outputs.table()
    result["helm_values"] = outputs.helm_values
    result["helm_set"] = outputs.helm_set_flags()
    result["note"] = outputs.note()
    return result


# --- embedded engine -------------------------------------------------------------------------


def onboard_embedded_stack(
    request: EmbeddedRequest,
    *,
    warehouse: Callable[[], Warehouse],
    sql: SqlLibrary,
    state_store: StateStore,
    aws: Callable[[], AwsPort],
    dry_run: bool = False,
    after_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Create the DuckDB file (migrated), the flows and results locations; save the state."""
    plan = plan_embedded(request, sql)
    if dry_run:
        return _result(EMBEDDED, request.stack_name, dry_run=True, plan=plan)
    outputs = onboard_embedded(
        request,
        warehouse=warehouse,
        sql=sql,
        state_store=state_store,
        aws=aws,
        after_step=after_step,
    )
    result = _result(
        EMBEDDED, request.stack_name, dry_run=False, plan=plan, state=state_store.location
    )
    return _with_outputs(result, outputs)


def offboard_embedded_stack(
    stack: str,
    *,
    confirm: str,
    state_store: StateStore,
    aws: Callable[[], AwsPort],
    dry_run: bool = False,
) -> dict[str, Any]:
    check_stack_name(stack)
    state = state_store.load(stack)
    if state is None:
        return _result(
            EMBEDDED,
            stack,
            dry_run=dry_run,
            removed=[],
            message=f"no state record for stack {stack!r}: nothing to remove",
        )
    if state.engine != EMBEDDED:
        raise ConfigurationError(
            f"stack {stack!r} is a {state.engine} stack: run theia_offboard with engine "
            f"{state.engine}"
        )
    if dry_run:
        would = [
            f"{step}: {info.get('location') or info.get('path')}"
            for step, info in reversed(list(state.steps.items()))
        ]
        return _result(EMBEDDED, stack, dry_run=True, would_remove=would)
    check_confirmation(confirm, stack)
    removed = offboard_embedded(state, state_store=state_store, aws=aws)
    return _result(EMBEDDED, stack, dry_run=False, removed=removed)


# --- cloud (Snowflake) engine ----------------------------------------------------------------


def onboard_cloud_stack(
    request: CloudRequest,
    *,
    aws: AwsPort | None,
    snowflake: SnowflakeFactory | None,
    sql: SqlLibrary,
    state_store: StateStore,
    dry_run: bool = False,
    after_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Pre-flight checks, then every step (idempotent), the state saved after each one."""
    if dry_run:
        # A dry run changes nothing. It reads the state record, if it can, to show an existing
        # stack's real names; a new stack's suffix and account id are shown as placeholders.
        try:
            state = state_store.load(request.stack_name)
        except Exception as error:
            log.warning("dry run: cannot read the state record (%s); names are placeholders", error)
            state = None
        suffix = state.suffix if state is not None and state.engine == "snowflake" else None
        account = state.output("lookup_account", "account_id") if suffix and state else None
        plan = plan_cloud(request, sql, suffix=suffix, account_id=account)
        return _result(
            "snowflake",
            request.stack_name,
            dry_run=True,
            plan=plan,
            existing_stack=suffix is not None,
        )
    if aws is None or snowflake is None:
        raise ValueError("onboarding needs the AWS and Snowflake ports")
    stack = CloudStack(aws=aws, snowflake=snowflake, sql=sql, state_store=state_store)
    checks = stack.preflight(request)
    log.info("pre-flight checks passed: %s", checks)
    outputs = stack.onboard(request, after_step=after_step)
    result = _result(
        "snowflake", request.stack_name, dry_run=False, state=state_store.location, preflight=checks
    )
    return _with_outputs(result, outputs)


def offboard_cloud_stack(
    stack: str,
    *,
    confirm: str,
    aws: AwsPort,
    snowflake: SnowflakeFactory,
    sql: SqlLibrary,
    state_store: StateStore,
    remove_orphans: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Remove the stack from its state record alone; report (or remove) tagged leftovers."""
    check_stack_name(stack)
    state = state_store.load(stack)
    if state is not None and state.engine != "snowflake":
        raise ConfigurationError(
            f"stack {stack!r} is a {state.engine} stack: run theia_offboard with engine "
            f"{state.engine}"
        )
    if dry_run:
        would: list[str] = []
        if state is not None and state.suffix:
            names = StackNames(stack, state.suffix)
            would = [
                f"{spec.name} ({names.database if spec.provider == 'snowflake' else names.bucket})"
                for spec in reversed(STEPS)
            ]
        orphans = [f"{r.kind} {r.name}" for r in aws.tagged_resources(stack)]
        return _result(
            "snowflake",
            stack,
            dry_run=True,
            would_remove=would,
            tagged_resources=orphans,
            state_found=state is not None,
        )
    check_confirmation(confirm, stack)
    removed: list[str] = []
    cloud = CloudStack(aws=aws, snowflake=snowflake, sql=sql, state_store=state_store)
    if state is None:
        removed.append(f"no state record for stack {stack!r}")
    else:
        removed += cloud.offboard(state)
    leftovers = aws.tagged_resources(stack)
    databases = cloud.snowflake_leftovers(stack)
    orphans = [f"{r.kind} {r.name}" for r in leftovers] + [f"database {d}" for d in databases]
    if orphans and remove_orphans:
        for resource in leftovers:
            aws.delete_tagged(resource)
            removed.append(f"orphan {resource.kind} {resource.name} removed")
        for database in databases:
            cloud.drop_database(database)
            removed.append(f"orphan database {database} dropped")
        orphans = []
    elif orphans:
        log.warning(
            "resources of stack %s that its state does not list: %s (set Param "
            "remove_orphans to delete them)",
            stack,
            orphans,
        )
    return _result("snowflake", stack, dry_run=False, removed=removed, orphans=orphans)


# --- state bucket and KMS key ------------------------------------------------------------------


def create_state_bucket(
    aws: AwsPort, *, region: str, name: str | None, prefix: str = "antrea", dry_run: bool = False
) -> dict[str, Any]:
    """Create (or reuse) the bucket that holds state records; works in us-east-1 too."""
    import re

    bucket = name or f"{prefix}-{secrets.token_hex(6)}"
    if not re.fullmatch(BUCKET_NAME_PATTERN, bucket):
        raise ConfigurationError(f"bucket name {bucket!r} is not valid (Params name / prefix)")
    if dry_run:
        return {"bucket": bucket, "region": region, "dry_run": True}
    created = aws.ensure_bucket(bucket, region, {"theia:managed-by": "theia-sf-airflow"})
    return {"bucket": bucket, "region": region, "created": created, "dry_run": False}


def delete_bucket(
    aws: AwsPort, *, name: str, force: bool, confirm: str, dry_run: bool = False
) -> dict[str, Any]:
    """Delete a bucket; with ``force`` every object version on every page first."""
    if dry_run:
        return {"bucket": name, "dry_run": True, "object_versions": aws.bucket_objects(name)}
    check_confirmation(confirm, name, "bucket name")
    if not force and aws.bucket_objects(name):
        raise ConfigurationError(f"bucket {name!r} is not empty; set Param force to delete it")
    deleted = aws.delete_bucket(name, force=force)
    return {
        "bucket": name,
        "dry_run": False,
        "existed": deleted is not None,
        "object_versions_deleted": deleted or 0,
    }


def create_kms_key(
    aws: AwsPort, *, region: str, alias: str, dry_run: bool = False
) -> dict[str, Any]:
    """Create a symmetric key for state encryption, or reuse the one behind ``alias``."""
    import re

    if not re.fullmatch(KMS_ALIAS_PATTERN, alias):
        raise ConfigurationError(f"Param alias={alias!r} must look like alias/<name>")
    if dry_run:
        return {"alias": alias, "region": region, "dry_run": True}
    key = aws.ensure_key(
        alias,
        "Created by theia-sf-airflow to encrypt onboarding state records",
        region,
        {"theia:managed-by": "theia-sf-airflow"},
    )
    return {
        "key_id": key.key_id,
        "key_arn": key.arn,
        "alias": alias,
        "region": key.region,
        "dry_run": False,
    }


def delete_kms_key(
    aws: AwsPort,
    *,
    key_id: str,
    region: str,
    pending_window_days: int,
    confirm: str,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Schedule deletion of a key after 7-30 days (AWS never deletes a key at once)."""
    if not 7 <= pending_window_days <= 30:
        raise ConfigurationError("Param pending_window_days must be between 7 and 30")
    key = aws.describe_key(key_id, region)
    if key is None:
        raise ConfigurationError(
            f"KMS key {key_id!r} not found in {region} (Params key_id, region)"
        )
    if dry_run:
        return {"key_id": key.key_id, "state": key.state, "dry_run": True}
    check_confirmation(confirm, key_id, "key id")
    date = aws.schedule_key_deletion(key.key_id, region, pending_window_days)
    return {"key_id": key.key_id, "deletion_date": date, "dry_run": False}


__all__ = [
    "check_confirmation",
    "check_ingestion_health",
    "create_kms_key",
    "create_state_bucket",
    "delete_bucket",
    "delete_kms_key",
    "offboard_cloud_stack",
    "offboard_embedded_stack",
    "onboard_cloud_stack",
    "onboard_embedded_stack",
    "stack_tags",
]


# --- ingestion health (Snowflake stacks) -----------------------------------------------------


def check_ingestion_health(
    stack: str,
    *,
    state_store: StateStore,
    aws: AwsPort,
    warehouse: Warehouse,
    sql: SqlLibrary,
    sinks: Sequence[AlertSink],
    max_messages: int = 100,
    max_lag: dt.timedelta = dt.timedelta(minutes=30),
    lookback: dt.timedelta = dt.timedelta(hours=24),
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Read Snowpipe error notifications (SQS, SNS envelope), the pipe's status and its
    copy history; alert every sink once when files fail to load or the pipe lags.

    Messages are deleted from the queue only after every sink accepted the alert, so a failed
    delivery (the task fails and retries) loses nothing.
    """
    now = now or dt.datetime.now(dt.UTC)
    state = state_store.load(check_stack_name(stack))
    if state is None or state.engine != "snowflake" or not state.suffix:
        raise ConfigurationError(
            f"no onboarded Snowflake stack {stack!r} in {state_store.location}; check Params "
            "stack_name and state_bucket"
        )
    names = StackNames(stack, state.suffix)
    queue_arn = state.output("create_error_queue", "queue_arn")
    received = aws.receive_messages(queue_arn, max_messages) if queue_arn else []
    errors = [decode_notification(body) for body, _ in received]
    with warehouse.session(read_only=True) as session:
        rows = session.fetch(
            sql.render("onboarding/select_pipe_status.sql", binds={"pipe_name": names.pipe})
        )
        history = session.fetch(
            sql.render(
                "onboarding/select_copy_history.sql",
                database=names.database,
                binds={"table_name": names.flows_table, "start_time": now - lookback},
            )
        )
    health = judge_pipe(rows[0]["pipe_status"] if rows else "", now=now, max_lag=max_lag)
    failed_files = [
        {
            "file": str(r.get("file_name")),
            "status": str(r.get("status")),
            "errors": r.get("error_count"),
            "first_error": str(r.get("first_error_message") or "")[:500],
        }
        for r in history
    ]
    problems: list[dict[str, Any]] = [{"kind": "load_error", **e.to_record()} for e in errors] + [
        {"kind": "failed_file", **f} for f in failed_files
    ]
    problems += [{"kind": "pipe", "problem": p} for p in health.problems]
    result: dict[str, Any] = {
        "stack": stack,
        "pipe": names.pipe,
        "pipe_health": health.to_record(),
        "error_notifications": len(errors),
        "failed_files": len(failed_files),
        "problems": problems[:50],
        "alerted": [],
    }
    if problems:
        message = _health_message(stack, names.pipe, errors, failed_files, health.problems, now)
        log.warning("%s", message.text)
        failures = []
        for sink in sinks:  # every sink is tried, whatever an earlier one did
            error = try_send(sink, message)
            if error is None:
                result["alerted"].append(sink.sink_id)
            else:
                failures.append(error)
        if failures:  # fails the task; the queue messages stay for the retry
            raise AlertDeliveryError("; ".join(failures))
    for _, receipt in received:
        aws.delete_message(queue_arn, receipt)
    return result


def _health_message(
    stack: str,
    pipe: str,
    errors: list[PipeError],
    failed_files: list[dict[str, Any]],
    pipe_problems: tuple[str, ...],
    now: dt.datetime,
) -> AlertMessage:
    subject = f"Theia: Snowpipe ingestion problems in stack {stack}"
    lines = [f"*{subject}* (pipe {pipe}, checked {now.isoformat(timespec='seconds')})"]
    lines += [f"• pipe: {p}" for p in pipe_problems]
    lines += [f"• load error: {e.file or '?'}: {e.message}" for e in errors[:10]]
    lines += [f"• {f['status']}: {f['file']}: {f['first_error']}" for f in failed_files[:10]]
    extra = max(0, len(errors) - 10) + max(0, len(failed_files) - 10)
    if extra:
        lines.append(f"… and {extra} more")
    return AlertMessage(
        subject=subject[:100],
        text="\n".join(lines),
        anomalies=tuple(
            [{"kind": "load_error", **e.to_record()} for e in errors]
            + [{"kind": "failed_file", **f} for f in failed_files]
            + [{"kind": "pipe", "problem": p} for p in pipe_problems]
        ),
        run={"stack": stack, "pipe": pipe, "checked_at": now.isoformat()},
    )
