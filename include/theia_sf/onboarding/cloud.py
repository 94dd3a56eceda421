"""Onboarding and offboarding of a cloud stack: AWS resources plus the Snowflake objects.

The plan is a fixed sequence of named steps (:data:`STEPS`), theia-sf's resources without its UDFs.
Every step is idempotent ("exists -> reuse", IF NOT EXISTS) and records its outputs in the
state record, which is saved after each step: a failed run is resumed by running again, and a
re-run converges (new migrations apply, IAM trust and policies are updated, nothing is
duplicated). Offboarding walks the same steps in reverse from the state alone; "already
gone" is success and the state record goes last.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass
from typing import Any

from theia_sf.errors import ConfigurationError, TheiaError
from theia_sf.layouts import LAYOUTS
from theia_sf.migrations import discover, migrate
from theia_sf.onboarding.names import (
    BUCKET_PATTERN,
    FLOWS_FOLDER,
    FLOWS_TABLE,
    IAM_PATH,
    KMS_KEY_PATTERN,
    PIPE,
    PREFIX_PATTERN,
    REGION_PATTERN,
    SCHEMA,
    StackNames,
    check_stack_name,
    new_suffix,
    stack_comment,
    stack_tags,
)
from theia_sf.onboarding.outputs import Outputs, flow_aggregator_values
from theia_sf.onboarding.pipe import check_pipe_layout, copy_columns
from theia_sf.onboarding.ports import AwsPort, QueueRef
from theia_sf.onboarding.state import StackState, StateStore, Status
from theia_sf.sql import Query, SqlLibrary, ident
from theia_sf.warehouse import Warehouse

log = logging.getLogger(__name__)

ENGINE = "snowflake"
QUEUE_RETENTION_SECONDS = 604800  # 7 days, as theia-sf
BUCKET_NOTIFICATION_ID = "Auto-ingest Snowflake"
DRY_RUN_ACCOUNT = "000000000000"

# (database, warehouse name) -> a Warehouse whose sessions use them (None: none selected).
SnowflakeFactory = Callable[[str | None, str | None], Warehouse]


@dataclass(frozen=True, slots=True)
class CloudRequest:
    """The arguments of ``theia_onboard`` for the Snowflake engine (theia-sf's flags)."""

    stack_name: str = "default"
    region: str = "us-west-2"
    state_bucket: str = ""
    state_prefix: str = "antrea-flows-infra"
    state_bucket_region: str | None = None
    kms_key_id: str | None = None
    kms_key_region: str | None = None
    warehouse_name: str | None = None
    flow_retention_days: int = 30
    file_retention_days: int = 7
    flow_layout: str = "v2.7"

    def __post_init__(self) -> None:
        check_stack_name(self.stack_name)
        checks = [
            ("region", self.region, REGION_PATTERN),
            ("state_bucket", self.state_bucket, BUCKET_PATTERN),
            ("state_prefix", self.state_prefix, PREFIX_PATTERN),
        ]
        if self.state_bucket_region:
            checks.append(("state_bucket_region", self.state_bucket_region, REGION_PATTERN))
        if self.kms_key_id:
            checks.append(("kms_key_id", self.kms_key_id, KMS_KEY_PATTERN))
        if self.kms_key_region:
            checks.append(("kms_key_region", self.kms_key_region, REGION_PATTERN))
        for param, value, pattern in checks:
            if not isinstance(value, str) or not re.fullmatch(pattern, value):
                raise ConfigurationError(f"Param {param}={value!r} is not valid")
        if self.warehouse_name:
            try:
                ident(self.warehouse_name)
            except ValueError:
                raise ConfigurationError(
                    f"Param warehouse_name={self.warehouse_name!r} is not a plain identifier"
                ) from None
        if not 1 <= self.flow_retention_days <= 3650:
            raise ConfigurationError("Param flow_retention_days must be between 1 and 3650")
        if not 1 <= self.file_retention_days <= 3650:
            raise ConfigurationError("Param file_retention_days must be between 1 and 3650")
        check_pipe_layout(self.flow_layout)
        bucket_region = self.state_bucket_region or self.region
        if self.kms_key_id and self.key_region != bucket_region:
            raise ConfigurationError(
                f"Param kms_key_region={self.key_region} differs from the state bucket's "
                f"region {bucket_region}: SSE-KMS needs a key in the bucket's region"
            )

    @property
    def key_region(self) -> str:
        return self.kms_key_region or self.region


@dataclass(frozen=True, slots=True)
class StepSpec:
    name: str
    provider: str  # aws | snowflake
    action: str


STEPS: tuple[StepSpec, ...] = (
    StepSpec(
        "create_flows_bucket", "aws", "S3 bucket, private, tagged; lifecycle expiry of flows/"
    ),
    StepSpec("create_error_queue", "aws", "SQS queue for Snowpipe errors (7-day retention)"),
    StepSpec("create_error_topic", "aws", "SNS topic for Snowpipe errors"),
    StepSpec("set_queue_policy", "aws", "SQS policy: the topic may send messages"),
    StepSpec("subscribe_queue", "aws", "SNS subscription of the queue to the topic"),
    StepSpec("lookup_account", "aws", "STS caller identity (account id for role ARNs)"),
    StepSpec("create_storage_integration", "snowflake", "storage integration; DESCRIBE it"),
    StepSpec("create_storage_role", "aws", "IAM policy and role trusted by the integration"),
    StepSpec("create_notification_integration", "snowflake", "notification integration; DESCRIBE"),
    StepSpec("create_notification_role", "aws", "IAM policy and role trusted by the integration"),
    StepSpec("create_database", "snowflake", "database and schema THEIA"),
    StepSpec("create_stage", "snowflake", "external stage FLOWSTAGE on s3://<bucket>/flows/"),
    StepSpec("run_migrations", "snowflake", "schema migrations (temporary warehouse if needed)"),
    StepSpec("create_pipe", "snowflake", "auto-ingest pipe FLOWPIPE; read its channel"),
    StepSpec("create_retention_task", "snowflake", "daily retention task DELETE_STALE_FLOWS"),
    StepSpec("connect_bucket_notification", "aws", "S3 event notification to the pipe's channel"),
)
STEP_NAMES: tuple[str, ...] = tuple(s.name for s in STEPS)


def storage_policy(bucket: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": f"arn:aws:s3:::{bucket}/{FLOWS_FOLDER}/*",
            },
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": [f"{FLOWS_FOLDER}/*"]}},
            },
            {
                "Effect": "Allow",
                "Action": "s3:GetBucketLocation",
                "Resource": f"arn:aws:s3:::{bucket}",
            },
        ],
    }


def notification_policy(topic_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn}],
    }


def queue_policy(queue_arn: str, topic_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }


def trust_policy(user_arn: str, external_id: str) -> dict[str, Any]:
    """The role trust of the Snowflake handshake: Snowflake's IAM user, with its external id."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": user_arn},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }


def integration_properties(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {str(r.get("property")): str(r.get("property_value")) for r in rows}


# --- Snowflake statements, per step (also what a dry run prints) -------------------------


def snowflake_statements(
    step: str,
    names: StackNames,
    request: CloudRequest,
    sql: SqlLibrary,
    *,
    account_id: str,
    topic_arn: str,
    replace_pipe: bool = False,
) -> list[Query]:
    comment = stack_comment(names.stack)
    if step == "create_storage_integration":
        return [
            sql.render(
                "onboarding/create_storage_integration.sql",
                name=names.storage_integration,
                role_arn=names.role_arn(account_id, names.storage_role),
                location=names.flows_url,
                comment=comment,
            ),
            sql.render("onboarding/describe_integration.sql", name=names.storage_integration),
        ]
    if step == "create_notification_integration":
        return [
            sql.render(
                "onboarding/create_notification_integration.sql",
                name=names.notification_integration,
                topic_arn=topic_arn,
                role_arn=names.role_arn(account_id, names.notification_role),
                comment=comment,
            ),
            sql.render("onboarding/describe_integration.sql", name=names.notification_integration),
        ]
    if step == "create_database":
        return [
            sql.render(
                "onboarding/create_database.sql",
                database=names.database,
                schema=names.schema,
                comment=comment,
            )
        ]
    if step == "create_stage":
        return [
            sql.render(
                "onboarding/create_stage.sql",
                stage=names.stage,
                url=names.flows_url,
                integration=names.storage_integration,
                comment=comment,
            )
        ]
    if step == "run_migrations":
        queries = []
        if not request.warehouse_name:
            queries.append(
                sql.render(
                    "onboarding/create_warehouse.sql",
                    name=names.onboarding_warehouse,
                    comment=comment,
                )
            )
        queries += [sql.render(m.path) for m in discover(sql)]
        if not request.warehouse_name:
            queries.append(
                sql.render("onboarding/drop_warehouse.sql", name=names.onboarding_warehouse)
            )
        return queries
    if step == "create_pipe":
        return [
            sql.render(
                "onboarding/create_pipe.sql",
                replace=replace_pipe,
                pipe=names.pipe,
                error_integration=names.notification_integration,
                flows_table=names.flows_table,
                stage=names.stage,
                columns=[asdict(c) for c in copy_columns(request.flow_layout)],
                comment=comment,
            ),
            sql.render("onboarding/show_pipes.sql", pipe_name=PIPE, schema=names.schema),
        ]
    if step == "create_retention_task":
        return [
            sql.render(
                "onboarding/create_retention_task.sql",
                task=names.retention_task,
                flows_table=names.flows_table,
                retention_days=int(request.flow_retention_days),
                comment=comment,
            )
        ]
    return []


def _without_comments(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(line for line in lines if line).strip()


def plan_cloud(
    request: CloudRequest,
    sql: SqlLibrary,
    *,
    suffix: str | None = None,
    account_id: str | None = None,
) -> list[dict[str, Any]]:
    """Every step with its resources and Snowflake statements, touching nothing.

    Values only known after earlier steps (the account id when no state has it, a new
    stack's suffix) are shown as placeholders.
    """
    names = StackNames(request.stack_name, suffix or "x" * 16)
    account = account_id or DRY_RUN_ACCOUNT
    topic_arn = f"arn:aws:sns:{request.region}:{account}:{names.topic}"
    resources = {
        "create_flows_bucket": [
            f"s3://{names.bucket} (expire {FLOWS_FOLDER}/ after {request.file_retention_days} days)"
        ],
        "create_error_queue": [f"sqs:{names.queue}"],
        "create_error_topic": [f"sns:{names.topic}"],
        "set_queue_policy": [f"sqs:{names.queue} policy"],
        "subscribe_queue": [f"sns:{names.topic} -> sqs:{names.queue}"],
        "lookup_account": ["sts:GetCallerIdentity"],
        "create_storage_role": [
            f"iam:policy{IAM_PATH}{names.storage_policy}",
            f"iam:role{IAM_PATH}{names.storage_role}",
        ],
        "create_notification_role": [
            f"iam:policy{IAM_PATH}{names.notification_policy}",
            f"iam:role{IAM_PATH}{names.notification_role}",
        ],
        "connect_bucket_notification": [f"s3://{names.bucket} events -> pipe channel"],
    }
    plan = []
    for spec in STEPS:
        statements = snowflake_statements(
            spec.name, names, request, sql, account_id=account, topic_arn=topic_arn
        )
        plan.append(
            {
                "step": spec.name,
                "provider": spec.provider,
                "action": spec.action,
                "resources": resources.get(spec.name, []),
                "statements": [_without_comments(q.text) for q in statements],
            }
        )
    return plan


class CloudStack:
    """Applies and removes the steps of one stack against the AWS and Snowflake ports."""

    def __init__(
        self,
        *,
        aws: AwsPort,
        snowflake: SnowflakeFactory,
        sql: SqlLibrary,
        state_store: StateStore,
    ) -> None:
        self.aws = aws
        self.snowflake = snowflake
        self.sql = sql
        self.state_store = state_store

    # --- checks before anything is created -------------------------------------------

    def preflight(self, request: CloudRequest) -> dict[str, Any]:
        """Fail with a clear error before any resource exists: credentials, state bucket,
        KMS key (existence, region, state), Snowflake connection."""
        account = self.aws.account_id()
        self.state_store.check()
        if request.kms_key_id:
            if request.kms_key_id.startswith("arn:"):
                key_region = request.kms_key_id.split(":")[3]
                if key_region != request.key_region:
                    raise ConfigurationError(
                        f"KMS key {request.kms_key_id} is in {key_region}, not in "
                        f"{request.key_region}; set Param kms_key_region={key_region} or use "
                        "a key in that region"
                    )
            key = self.aws.describe_key(request.kms_key_id, request.key_region)
            if key is None:
                raise ConfigurationError(
                    f"KMS key {request.kms_key_id!r} does not exist in region "
                    f"{request.key_region} (Params kms_key_id / kms_key_region)"
                )
            if key.state != "Enabled":
                raise ConfigurationError(
                    f"KMS key {request.kms_key_id!r} is {key.state}, not Enabled (Param kms_key_id)"
                )
        try:
            with self.snowflake(None, None).session() as session:
                role = session.fetch(self.sql.render("onboarding/select_current_role.sql"))
        except TheiaError:
            raise
        except Exception as error:
            raise ConfigurationError(
                f"cannot connect to Snowflake through the theia_warehouse connection: {error}"
            ) from error
        existing = self.state_store.load(request.stack_name)
        if existing is not None and existing.engine != ENGINE:
            raise ConfigurationError(
                f"stack {request.stack_name!r} is a {existing.engine} stack; offboard it first "
                "or choose another stack_name"
            )
        return {
            "account_id": account,
            "role": role[0]["current_role"] if role else None,
            "existing_state": existing is not None,
        }

    # --- onboarding ----------------------------------------------------------------------

    def onboard(
        self, request: CloudRequest, *, after_step: Callable[[str], None] | None = None
    ) -> Outputs:
        state = self.state_store.load(request.stack_name)
        if state is None:
            state = StackState(stack=request.stack_name, engine=ENGINE, suffix=new_suffix())
        elif state.engine != ENGINE:
            raise ConfigurationError(f"stack {request.stack_name!r} is a {state.engine} stack")
        elif state.request.get("region") not in (None, request.region):
            raise ConfigurationError(
                f"stack {request.stack_name!r} lives in {state.request['region']}; onboard it "
                f"again with Param region={state.request['region']} (or offboard it first)"
            )
        state.request = asdict(request)
        state.status = Status.ONBOARDING
        # The suffix is saved before any resource exists, so nothing can be orphaned.
        self.state_store.save(state)
        assert state.suffix is not None
        names = StackNames(request.stack_name, state.suffix)
        try:
            for spec in STEPS:
                log.info("step %s: %s", spec.name, spec.action)
                outputs = getattr(self, "_apply_" + spec.name)(request, names, state)
                state.record(spec.name, outputs)
                self.state_store.save(state)
                if after_step:
                    after_step(spec.name)
        except Exception as error:
            state.status = Status.FAILED
            state.last_error = f"{type(error).__name__}: {error}"
            with suppress(Exception):
                self.state_store.save(state)
            raise
        state.status = Status.ONBOARDED
        state.last_error = None
        self.state_store.save(state)
        return cloud_outputs(state)

    def _sf(self, queries: list[Query]) -> list[list[dict[str, Any]]]:
        results = []
        with self.snowflake(None, None).session() as session:
            for query in queries:
                results.append(session.fetch(query))
        return results

    def _statements(
        self, step: str, request: CloudRequest, names: StackNames, state: StackState, **extra: Any
    ) -> list[Query]:
        return snowflake_statements(
            step,
            names,
            request,
            self.sql,
            account_id=state.output("lookup_account", "account_id"),
            topic_arn=state.output("create_error_topic", "topic_arn", ""),
            **extra,
        )

    def _apply_create_flows_bucket(
        self, request: CloudRequest, names: StackNames, state: StackState
    ) -> dict[str, Any]:
        created = self.aws.ensure_bucket(names.bucket, request.region, stack_tags(names.stack))
        self.aws.put_expiry_rule(
            names.bucket, FLOWS_FOLDER, f"{FLOWS_FOLDER}/", request.file_retention_days
        )
        return {
            "bucket": names.bucket,
            "created": created or state.output("create_flows_bucket", "created", False),
        }

    def _apply_create_error_queue(
        self, request: CloudRequest, names: StackNames, state: StackState
    ) -> dict[str, Any]:
        ref = self.aws.ensure_queue(
            names.queue,
            {"MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS)},
            stack_tags(names.stack),
        )
        return {"queue_url": ref.url, "queue_arn": ref.arn}

    def _apply_create_error_topic(
        self, request: CloudRequest, names: StackNames, state: StackState
    ) -> dict[str, Any]:
        return {"topic_arn": self.aws.ensure_topic(names.topic, stack_tags(names.stack))}

    def _queue(self, state: StackState) -> QueueRef:
        return QueueRef(
            state.output("create_error_queue", "queue_url"),
            state.output("create_error_queue", "queue_arn"),
        )

    def _apply_set_queue_policy(
        self, request: CloudRequest, names: StackNames, state: StackState
    ) -> dict[str, Any]:
        queue = self._queue(state)
        topic = state.output("create_error_topic", "topic_arn")
        self.aws.set_queue_policy(queue, queue_policy(queue.arn, topic))
        return {}

    def _apply_subscribe_queue(
        self, request: CloudRequest, names: StackNames, state: StackState
    ) -> dict[str, Any]:
        arn = self.aws.ensure_subscription(
            state.output("create_error_topic", "topic_arn"), self._queue(state).arn
        )
        return {"subscription_arn": arn}

    def _apply_lookup_account(
        self, request: CloudRequest, names: StackNames, state: StackState
    ) -> dict[str, Any]:
        return {"account_id": self.aws.account_id()}

    def _integration(
        self,
        step: str,
        request: CloudRequest,
        names: StackNames,
        state: StackState,
        user_key: str,
        id_key: str,
    ) -> dict[str, Any]:
        results = self._sf(self._statements(step, request, names, state))
        props = integration_properties(results[-1])
        user_arn, external_id = props.get(user_key), props.get(id_key)
        if not user_arn or not external_id:
            raise TheiaError(
                f"DESCRIBE INTEGRATION did not return {user_key}/{id_key}; got {sorted(props)}"
            )
        return {"user_arn": user_arn, "external_id": external_id}

    def _apply_create_storage_integration(
        self, request: CloudRequest, names: StackNames, state: StackState
    ) -> dict[str, Any]:
        out = self._integration(
            "create_storage_integration",
            request,
            names,
            state,
            "STORAGE_AWS_IAM_USER_ARN",
            "STORAGE_AWS_EXTERNAL_ID",
        )
        return {"name": names.storage_integration, **out}

    def _apply_create_notification_integration(
        self, request: CloudRequest, names: StackNames, state: StackState
    ) -> dict[str, Any]:
        out = self._integration(
            "create_notification_integration",
            request,
            names,
            state,
            "SF_AWS_IAM_USER_ARN",
            "SF_AWS_EXTERNAL_ID",
        )
        return {"name": names.notification_integration, **out}

    def _role(
        self,
        integration_step: str,
        role: str,
        policy: str,
        document: dict[str, Any],
        names: StackNames,
        state: StackState,
    ) -> dict[str, Any]:
        tags = stack_tags(names.stack)
        policy_arn = self.aws.ensure_policy(policy, IAM_PATH, document, tags)
        trust = trust_policy(
            state.output(integration_step, "user_arn"),
            state.output(integration_step, "external_id"),
        )
        role_arn = self.aws.ensure_role(role, IAM_PATH, trust, tags, policy_arn)
        return {"policy_arn": policy_arn, "role_arn": role_arn}

    def _apply_create_storage_role(
        self, request: CloudRequest, names: StackNames, state: StackState
    ) -> dict[str, Any]:
        return self._role(
            "create_storage_integration",
            names.storage_role,
            names.storage_policy,
            storage_policy(names.bucket),
            names,
            state,
        )

    def _apply_create_notification_role(
        self, request: CloudRequest, names: StackNames, state: StackState
    ) -> dict[str, Any]:
        topic = state.output("create_error_topic", "topic_arn")
        return self._role(
            "create_notification_integration",
            names.notification_role,
            names.notification_policy,
            notification_policy(topic),
            names,
            state,
        )

    def _apply_create_database(
        self, request: CloudRequest, names: StackNames, state: StackState
    ) -> dict[str, Any]:
        self._sf(self._statements("create_database", request, names, state))
        return {"database": names.database, "schema": SCHEMA}

    def _apply_create_stage(
        self, request: CloudRequest, names: StackNames, state: StackState
    ) -> dict[str, Any]:
        self._sf(self._statements("create_stage", request, names, state))
        return {"stage": names.stage, "url": names.flows_url}

    def _apply_run_migrations(
        self, request: CloudRequest, names: StackNames, state: StackState
    ) -> dict[str, Any]:
        warehouse = request.warehouse_name
        temporary = not warehouse
        comment = stack_comment(names.stack)
        if temporary:
            warehouse = names.onboarding_warehouse
            with self.snowflake(None, None).session() as session:
                session.execute(
                    self.sql.render(
                        "onboarding/create_warehouse.sql", name=warehouse, comment=comment
                    )
                )
        try:
            with self.snowflake(names.database, warehouse).session() as session:
                applied = migrate(session, self.sql)
        finally:
            if temporary:
                # Always dropped, even when a migration failed (theia-sf could leak it).
                with self.snowflake(None, None).session() as session:
                    session.execute(
                        self.sql.render("onboarding/drop_warehouse.sql", name=warehouse)
                    )
        return {
            "applied_now": applied,
            "schema_version": max((m.version for m in discover(self.sql)), default=0),
        }

    def _apply_create_pipe(
        self, request: CloudRequest, names: StackNames, state: StackState
    ) -> dict[str, Any]:
        previous = state.output("create_pipe", "layout")
        replace = previous is not None and previous != request.flow_layout
        if replace:
            log.warning(
                "flow layout changed from %s to %s: replacing the pipe",
                previous,
                request.flow_layout,
            )
        results = self._sf(
            self._statements("create_pipe", request, names, state, replace_pipe=replace)
        )
        rows = [r for r in results[-1] if str(r.get("name", "")).upper() == PIPE]
        channel = rows[0].get("notification_channel") if rows else None
        if not channel:
            raise TheiaError(f"SHOW PIPES returned no notification_channel for {names.pipe}")
        return {"pipe": names.pipe, "notification_channel": channel, "layout": request.flow_layout}

    def _apply_create_retention_task(
        self, request: CloudRequest, names: StackNames, state: StackState
    ) -> dict[str, Any]:
        self._sf(self._statements("create_retention_task", request, names, state))
        return {"task": names.retention_task, "retention_days": request.flow_retention_days}

    def _apply_connect_bucket_notification(
        self, request: CloudRequest, names: StackNames, state: StackState
    ) -> dict[str, Any]:
        channel = state.output("create_pipe", "notification_channel")
        self.aws.put_queue_notification(
            names.bucket, BUCKET_NOTIFICATION_ID, channel, f"{FLOWS_FOLDER}/"
        )
        return {"queue_arn": channel}

    # --- offboarding ---------------------------------------------------------------------

    def offboard(self, state: StackState) -> list[str]:
        """Remove every resource of ``state``'s stack in reverse order; the record last."""
        done: list[str] = []
        state.status = Status.OFFBOARDING
        self.state_store.save(state)
        if state.suffix:
            names = StackNames(state.stack, state.suffix)
            account = state.output("lookup_account", "account_id") or self.aws.account_id()
            for spec in reversed(STEPS):
                note = getattr(self, "_remove_" + spec.name)(names, state, account)
                if note:
                    done.append(note)
                state.steps.pop(spec.name, None)
                self.state_store.save(state)
        self.state_store.delete(state.stack)
        done.append(f"state record of stack {state.stack} removed")
        return done

    def snowflake_leftovers(self, stack: str) -> list[str]:
        """Databases whose COMMENT names ``stack`` (what offboarding could not know about)."""
        comment = stack_comment(stack)
        with self.snowflake(None, None).session() as session:
            rows = session.fetch(self.sql.render("onboarding/show_databases.sql"))
        return sorted(str(r["name"]) for r in rows if r.get("comment") == comment)

    def drop_database(self, database: str) -> None:
        self._drop("onboarding/drop_database.sql", database=database)

    def _drop(self, path: str, /, **structure: Any) -> None:
        with self.snowflake(None, None).session() as session:
            session.execute(self.sql.render(path, **structure))

    def _remove_connect_bucket_notification(
        self, names: StackNames, state: StackState, account: str
    ) -> str:
        cleared = self.aws.clear_notifications(names.bucket)
        return f"bucket notification of {names.bucket} removed" if cleared else ""

    def _remove_create_retention_task(
        self, names: StackNames, state: StackState, account: str
    ) -> str:
        self._drop("onboarding/drop_task.sql", task=names.retention_task)
        return f"task {names.retention_task} dropped"

    def _remove_create_pipe(self, names: StackNames, state: StackState, account: str) -> str:
        self._drop("onboarding/drop_pipe.sql", pipe=names.pipe)
        return f"pipe {names.pipe} dropped"

    def _remove_run_migrations(self, names: StackNames, state: StackState, account: str) -> str:
        # Migrations go with the database; a warehouse leaked by a crashed run goes here.
        self._drop("onboarding/drop_warehouse.sql", name=names.onboarding_warehouse)
        return ""

    def _remove_create_stage(self, names: StackNames, state: StackState, account: str) -> str:
        self._drop("onboarding/drop_stage.sql", stage=names.stage)
        return f"stage {names.stage} dropped"

    def _remove_create_database(self, names: StackNames, state: StackState, account: str) -> str:
        self._drop("onboarding/drop_database.sql", database=names.database)
        return f"database {names.database} dropped"

    def _remove_role(self, role: str, policy: str, account: str) -> str:
        gone_role = self.aws.delete_role(role)
        gone_policy = self.aws.delete_policy(names_policy_arn(account, policy))
        return (
            f"IAM role {role} {'deleted' if gone_role else 'already gone'}, policy {policy} "
            f"{'deleted' if gone_policy else 'already gone'}"
        )

    def _remove_create_notification_role(
        self, names: StackNames, state: StackState, account: str
    ) -> str:
        return self._remove_role(names.notification_role, names.notification_policy, account)

    def _remove_create_notification_integration(
        self, names: StackNames, state: StackState, account: str
    ) -> str:
        self._drop("onboarding/drop_integration.sql", name=names.notification_integration)
        return f"integration {names.notification_integration} dropped"

    def _remove_create_storage_role(
        self, names: StackNames, state: StackState, account: str
    ) -> str:
        return self._remove_role(names.storage_role, names.storage_policy, account)

    def _remove_create_storage_integration(
        self, names: StackNames, state: StackState, account: str
    ) -> str:
        self._drop("onboarding/drop_integration.sql", name=names.storage_integration)
        return f"integration {names.storage_integration} dropped"

    def _remove_lookup_account(self, names: StackNames, state: StackState, account: str) -> str:
        return ""

    def _remove_subscribe_queue(self, names: StackNames, state: StackState, account: str) -> str:
        return ""  # deleting the topic removes its subscriptions

    def _remove_set_queue_policy(self, names: StackNames, state: StackState, account: str) -> str:
        return ""  # goes with the queue

    def _remove_create_error_topic(self, names: StackNames, state: StackState, account: str) -> str:
        region = state.request.get("region") or self.aws.region
        arn = (
            state.output("create_error_topic", "topic_arn")
            or f"arn:aws:sns:{region}:{account}:{names.topic}"
        )
        return f"topic {names.topic} " + (
            "deleted" if self.aws.delete_topic(arn) else "already gone"
        )

    def _remove_create_error_queue(self, names: StackNames, state: StackState, account: str) -> str:
        gone = self.aws.delete_queue(names.queue)
        return f"queue {names.queue} " + ("deleted" if gone else "already gone")

    def _remove_create_flows_bucket(
        self, names: StackNames, state: StackState, account: str
    ) -> str:
        deleted = self.aws.delete_bucket(names.bucket, force=True)
        if deleted is None:
            return f"bucket {names.bucket} already gone"
        return f"bucket {names.bucket} deleted ({deleted} object versions)"


def names_policy_arn(account: str, policy: str) -> str:
    return f"arn:aws:iam::{account}:policy{IAM_PATH}{policy}"


def cloud_outputs(state: StackState) -> Outputs:
    assert state.suffix is not None
    names = StackNames(state.stack, state.suffix)
    region = str(state.request.get("region", ""))
    rows = (
        ("Region", region),
        ("Bucket Name", names.bucket),
        ("Bucket Flows Folder", FLOWS_FOLDER),
        ("Snowflake Database Name", names.database),
        ("Snowflake Schema Name", SCHEMA),
        ("Snowflake Flows Table Name", FLOWS_TABLE),
        ("SNS Topic ARN", str(state.output("create_error_topic", "topic_arn", ""))),
        ("SQS Queue ARN", str(state.output("create_error_queue", "queue_arn", ""))),
    )
    return Outputs(rows, flow_aggregator_values(names.bucket, FLOWS_FOLDER, region))


__all__ = ["LAYOUTS", "STEPS", "CloudRequest", "CloudStack", "cloud_outputs", "plan_cloud"]
