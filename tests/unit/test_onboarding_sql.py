"""Every onboarding SQL file renders with validated values and goes through the Snowflake
adapter's rewriting (binds to pyformat, statements split by the parser)."""

from __future__ import annotations

import datetime as dt

import pytest

from theia_sf.adapters.snowflake import to_pyformat

SAMPLES = {
    "name": "ANTREA_FLOWS_STORAGE_INTEGRATION_X",
    "role_arn": "arn:aws:iam::123456789012:role/theia/antrea-sf-storage-iam-role-x",
    "topic_arn": "arn:aws:sns:us-west-2:123456789012:antrea-flows-x",
    "location": "s3://antrea-flows-x/flows/",
    "url": "s3://antrea-flows-x/flows/",
    "comment": "theia-sf-airflow stack prod",
    "database": "ANTREA_X",
    "schema": "ANTREA_X.THEIA",
    "stage": "ANTREA_X.THEIA.FLOWSTAGE",
    "integration": "ANTREA_FLOWS_STORAGE_INTEGRATION_X",
    "pipe": "ANTREA_X.THEIA.FLOWPIPE",
    "pipe_name": "FLOWPIPE",
    "error_integration": "ANTREA_FLOWS_NOTIFICATION_INTEGRATION_X",
    "flows_table": "ANTREA_X.THEIA.FLOWS",
    "task": "ANTREA_X.THEIA.DELETE_STALE_FLOWS",
    "retention_days": 30,
    "replace": False,
    "columns": [
        {"name": "flowStartSeconds", "kind": "time", "position": 1},
        {"name": "sourceIP", "kind": "str", "position": 2},
    ],
}
BINDS = {
    "onboarding/select_pipe_status.sql": {"pipe_name": "ANTREA_X.THEIA.FLOWPIPE"},
    "onboarding/select_copy_history.sql": {
        "table_name": "ANTREA_X.THEIA.FLOWS",
        "start_time": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    },
}
STATEMENTS = {"onboarding/create_database.sql": 2, "onboarding/create_retention_task.sql": 2}


def onboarding_files(sql):
    return [n for n in sql.names() if n.startswith("onboarding/")]


def test_there_are_onboarding_files(sql):
    assert len(onboarding_files(sql)) >= 19


@pytest.mark.parametrize(
    "name",
    [
        "create_database",
        "create_notification_integration",
        "create_pipe",
        "create_retention_task",
        "create_stage",
        "create_storage_integration",
        "create_warehouse",
        "describe_integration",
        "drop_database",
        "drop_integration",
        "drop_pipe",
        "drop_stage",
        "drop_task",
        "drop_warehouse",
        "select_copy_history",
        "select_current_role",
        "select_pipe_status",
        "show_databases",
        "show_pipes",
    ],
)
def test_file_renders_and_goes_through_the_adapter(sql, name):
    path = f"onboarding/{name}.sql"
    query = sql.render(path, binds=BINDS.get(path, {}), **SAMPLES)
    statements = to_pyformat(query.text)
    assert len(statements) == STATEMENTS.get(path, 1)
    bound = set().union(*(names for _, names in statements))
    assert bound == set(BINDS.get(path, {}))
    for text, _ in statements:
        assert ":pipe_name" not in text and ":table_name" not in text
    if bound:
        assert all(f"%({b})s" in " ".join(t for t, _ in statements) for b in bound)
