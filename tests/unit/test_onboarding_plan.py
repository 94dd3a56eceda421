"""The pure onboarding plan: names, order, reversibility, the dry-run statement sequence."""

from __future__ import annotations

from pathlib import Path

import pytest

from theia_sf.errors import ConfigurationError
from theia_sf.layouts import LAYOUTS
from theia_sf.migrations import discover
from theia_sf.onboarding.cloud import STEP_NAMES, STEPS, CloudRequest, CloudStack, plan_cloud
from theia_sf.onboarding.names import StackNames, check_stack_name, new_suffix
from theia_sf.onboarding.pipe import copy_columns

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "onboarding" / "dry_run_statements.sql"
MIGRATIONS_MARKER = "-- (every migration file, in order)"


def render_plan(plan, sql) -> str:
    """The dry run's Snowflake statements, one block per step; migration bodies are replaced
    by a marker (they are checked against the migration files below, so adding a migration
    does not change the golden file)."""
    migration_texts = {sql.render(m.path).text.strip() for m in discover(sql)}
    out = []
    for item in plan:
        if not item["statements"]:
            continue
        out.append(f"-- step {item['step']}")
        marked = False
        for statement in item["statements"]:
            if any(statement in t or t.endswith(statement) for t in migration_texts) or (
                item["step"] == "run_migrations" and "WAREHOUSE" not in statement
            ):
                if not marked:
                    out.append(MIGRATIONS_MARKER)
                    marked = True
                continue
            out.append(statement.rstrip(";") + ";")
    return "\n".join(out) + "\n"


def test_dry_run_statement_sequence_matches_golden(sql):
    plan = plan_cloud(CloudRequest(stack_name="prod", state_bucket="theia-state"), sql)
    # To accept a deliberate change, write render_plan(...) to GOLDEN by hand and review it.
    assert render_plan(plan, sql) == GOLDEN.read_text()


def test_dry_run_lists_every_migration_in_order(sql):
    plan = {p["step"]: p for p in plan_cloud(CloudRequest(state_bucket="theia-state"), sql)}
    statements = plan["run_migrations"]["statements"]
    assert statements[0].startswith("CREATE WAREHOUSE IF NOT EXISTS THEIA_ONBOARD_")
    assert statements[-1].startswith("DROP WAREHOUSE IF EXISTS THEIA_ONBOARD_")
    assert len(statements) == len(discover(sql)) + 2
    with_wh = {
        p["step"]: p
        for p in plan_cloud(
            CloudRequest(state_bucket="theia-state", warehouse_name="ANALYTICS"), sql
        )
    }
    assert not any("WAREHOUSE" in s for s in with_wh["run_migrations"]["statements"][:1])


def test_step_order_follows_the_dependencies():
    order = {name: i for i, name in enumerate(STEP_NAMES)}
    before = [
        ("create_error_queue", "set_queue_policy"),
        ("create_error_topic", "subscribe_queue"),
        ("lookup_account", "create_storage_integration"),
        ("create_storage_integration", "create_storage_role"),
        ("create_error_topic", "create_notification_integration"),
        ("create_notification_integration", "create_notification_role"),
        ("create_storage_role", "create_stage"),
        ("create_database", "create_stage"),
        ("run_migrations", "create_pipe"),
        ("create_notification_role", "create_pipe"),
        ("run_migrations", "create_retention_task"),
        ("create_pipe", "connect_bucket_notification"),
    ]
    for first, then in before:
        assert order[first] < order[then], (first, then)


def test_every_step_can_be_applied_and_removed():
    for spec in STEPS:
        assert callable(getattr(CloudStack, "_apply_" + spec.name)), spec.name
        assert callable(getattr(CloudStack, "_remove_" + spec.name)), spec.name


def test_names_follow_theia_sf_except_the_policy_typo():
    names = StackNames("prod", "abcdefghij012345")
    assert names.bucket == names.queue == names.topic == "antrea-flows-abcdefghij012345"
    assert names.database == "ANTREA_ABCDEFGHIJ012345"
    assert names.storage_integration == "ANTREA_FLOWS_STORAGE_INTEGRATION_ABCDEFGHIJ012345"
    assert names.notification_policy == "antrea-sf-notification-iam-policy-abcdefghij012345"
    assert names.pipe == "ANTREA_ABCDEFGHIJ012345.THEIA.FLOWPIPE"
    assert names.flows_url == "s3://antrea-flows-abcdefghij012345/flows/"
    assert names.role_arn("123456789012", names.storage_role) == (
        "arn:aws:iam::123456789012:role/theia/antrea-sf-storage-iam-role-abcdefghij012345"
    )


def test_suffix_is_sixteen_lowercase_letters_and_digits():
    suffixes = {new_suffix() for _ in range(50)}
    assert len(suffixes) == 50
    for s in suffixes:
        assert len(s) == 16 and s == s.lower() and s.isalnum()


@pytest.mark.parametrize("bad", ["", "A", "-a", "a-", "a_b", "a" * 33, "a b", None, 3])
def test_invalid_stack_names(bad):
    with pytest.raises(ConfigurationError, match="stack name"):
        check_stack_name(bad)


@pytest.mark.parametrize("good", ["default", "prod", "a", "dev-2", "a" * 32])
def test_valid_stack_names(good):
    assert check_stack_name(good) == good


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_pipe_columns_follow_the_layout(layout):
    columns = copy_columns(layout)
    assert [c.name for c in columns] == list(LAYOUTS[layout].fields)
    assert [c.position for c in columns] == list(range(1, len(columns) + 1))
    assert {c.kind for c in columns if c.name.endswith("Seconds")} == {"time"}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_pipe_statement_maps_each_field_once(sql, layout):
    plan = {
        p["step"]: p
        for p in plan_cloud(CloudRequest(state_bucket="theia-state", flow_layout=layout), sql)
    }
    pipe = plan["create_pipe"]["statements"][0]
    for position, name in enumerate(LAYOUTS[layout].fields, start=1):
        assert f"${position}" in pipe
        assert f"    {name}" in pipe
    assert f"${len(LAYOUTS[layout].fields) + 1}" not in pipe
    assert "TO_TIMESTAMP_TZ($1::NUMBER)" in pipe


def test_auto_layout_is_refused_for_snowpipe():
    with pytest.raises(ConfigurationError, match="explicit flow-record layout"):
        CloudRequest(state_bucket="theia-state", flow_layout="auto")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("region", "us-west"),
        ("state_bucket", "UPPER"),
        ("state_prefix", "a b"),
        ("kms_key_id", "key'; drop"),
        ("kms_key_region", "xx"),
        ("warehouse_name", "1abc"),
        ("file_retention_days", 0),
    ],
)
def test_invalid_requests_name_the_param(field, value):
    with pytest.raises(ConfigurationError, match=field):
        CloudRequest(**{"state_bucket": "theia-state", field: value})


def test_state_key_must_live_in_the_state_bucket_region():
    with pytest.raises(ConfigurationError, match="SSE-KMS needs a key in the bucket's region"):
        CloudRequest(
            state_bucket="theia-state",
            region="us-west-2",
            kms_key_id="k-1",
            kms_key_region="eu-west-1",
        )
    ok = CloudRequest(
        state_bucket="theia-state",
        region="us-west-2",
        state_bucket_region="eu-west-1",
        kms_key_id="k-1",
        kms_key_region="eu-west-1",
    )
    assert ok.key_region == "eu-west-1"
