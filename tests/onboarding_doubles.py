"""Test doubles for onboarding: a moto server, and a recorded Snowflake account.

``RecordedSnowflake`` is a fake Snowflake account that records every statement. It models the
objects fakesnow has no DDL for (integrations, pipes, tasks, warehouses, stages, database
drops) and hands everything else (schemas, tables, views, migrations) to a fakesnow
connection. ``DESCRIBE INTEGRATION`` returns generated IAM user ARNs and external ids, which
the IAM trust policies must then contain; ``SHOW PIPES`` returns a notification channel.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

ACCOUNT = "123456789012"


@pytest.fixture(scope="session")
def moto_endpoint():
    """A real local moto server (S3, KMS, SNS, SQS, IAM, STS), shared by the session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def reset_moto(endpoint: str) -> None:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))


def client_factory(endpoint: str):
    from theia_sf.adapters.aws import boto3_factory

    return boto3_factory(
        endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


class SnowflakeError(Exception):
    """What the connector raises for a failed statement."""


def _norm(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"^\s*--.*$", " ", text, flags=re.M)
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class RecordedSnowflake:
    """A fake Snowflake account; ``connect`` is the connection factory for SnowflakeWarehouse."""

    fakesnow_connect: Any
    notification_channel: str = f"arn:aws:sqs:us-west-2:{ACCOUNT}:sf-snowpipe-AIDAFAKECHANNEL"
    statements: list[str] = field(default_factory=list)
    integrations: dict[str, dict[str, str]] = field(default_factory=dict)
    pipes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    warehouses: set[str] = field(default_factory=set)
    stages: dict[str, dict[str, str]] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)  # name -> comment
    pipe_status: dict[str, Any] = field(
        default_factory=lambda: {"executionState": "RUNNING", "pendingFileCount": 0}
    )
    copy_history: list[dict[str, Any]] = field(default_factory=list)
    fail_connect: Exception | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def connect(self) -> FakeConnection:
        if self.fail_connect is not None:
            raise self.fail_connect
        return FakeConnection(self, self.fakesnow_connect())

    def warehouse(self, database: str | None, warehouse: str | None) -> Any:
        """A SnowflakeWarehouse on this account, as onboarding's ``snowflake`` factory builds
        one (the stack's schema THEIA inside ``database``)."""
        from theia_sf.adapters.snowflake import SnowflakeWarehouse

        return SnowflakeWarehouse(
            self.connect,
            database=database,
            schema="THEIA" if database else None,
            warehouse_name=warehouse,
        )

    def objects(self) -> dict[str, list[str]]:
        """Every object this account holds, by type (for "nothing left behind" checks)."""
        return {
            "integrations": sorted(self.integrations),
            "pipes": sorted(self.pipes),
            "tasks": sorted(self.tasks),
            "warehouses": sorted(self.warehouses),
            "stages": sorted(self.stages),
            "databases": sorted(self.databases),
        }

    def executed(self, pattern: str) -> list[str]:
        return [s for s in self.statements if re.search(pattern, s)]


class FakeConnection:
    def __init__(self, account: RecordedSnowflake, inner: Any) -> None:
        self.account = account
        self.inner = inner

    def cursor(self) -> FakeCursor:
        return FakeCursor(self.account, self.inner)

    def close(self) -> None:
        self.inner.close()


class FakeCursor:
    def __init__(self, account: RecordedSnowflake, inner_con: Any) -> None:
        self.account = account
        self.inner_con = inner_con
        self.inner = None
        self.description: list[tuple[str, ...]] | None = None
        self._rows: list[tuple[Any, ...]] = []

    def _answer(self, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        self.description = [(c,) for c in columns]
        self._rows = rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self.inner is not None:
            return self.inner.fetchall()
        return list(self._rows)

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()

    def execute(self, text: str, params: dict[str, Any] | None = None) -> FakeCursor:
        sql = _norm(text)
        shown = sql
        if params:
            for key, value in params.items():
                shown = shown.replace(f"%({key})s", repr(value))
        self.account.statements.append(shown)
        a = self.account
        ok = (["status"], [("Statement executed successfully.",)])

        if m := re.match(r"CREATE (STORAGE|NOTIFICATION) INTEGRATION IF NOT EXISTS (\w+)", sql):
            kind, name = m.groups()
            if name not in a.integrations:
                n = next(a._ids)
                user = f"arn:aws:iam::{ACCOUNT}:user/sf-{kind.lower()}-user-{n}"
                ext = f"SFCRole=ext_{kind.lower()}_{n}"
                role = re.search(r"_ROLE_ARN\s*=\s*'([^']+)'", sql).group(1)
                if kind == "STORAGE":
                    props = {
                        "STORAGE_AWS_IAM_USER_ARN": user,
                        "STORAGE_AWS_EXTERNAL_ID": ext,
                        "STORAGE_AWS_ROLE_ARN": role,
                    }
                else:
                    props = {
                        "SF_AWS_IAM_USER_ARN": user,
                        "SF_AWS_EXTERNAL_ID": ext,
                        "AWS_SNS_ROLE_ARN": role,
                    }
                a.integrations[name] = {"kind": kind, **props}
            self._answer(*ok)
        elif m := re.match(r"DESCRIBE INTEGRATION (\w+)$", sql):
            integration = a.integrations.get(m.group(1))
            if integration is None:
                raise SnowflakeError(f"Integration '{m.group(1)}' does not exist")
            rows = [(k, "String", v, "") for k, v in integration.items() if k != "kind"]
            self._answer(["property", "property_type", "property_value", "property_default"], rows)
        elif m := re.match(r"DROP INTEGRATION IF EXISTS (\w+)$", sql):
            a.integrations.pop(m.group(1), None)
            self._answer(*ok)
        elif m := re.match(
            r"CREATE (OR REPLACE )?PIPE (IF NOT EXISTS )?([\w.]+) .* AS (COPY .*)$", sql
        ):
            replace, _, name, copy = m.groups()
            self._need_database(name)
            if replace or name not in a.pipes:
                a.pipes[name] = {"definition": copy, "notification_channel": a.notification_channel}
            self._answer(*ok)
        elif m := re.match(r"SHOW PIPES LIKE '(\w+)' IN SCHEMA ([\w.]+)$", sql):
            full = f"{m.group(2)}.{m.group(1)}"
            rows = [
                (
                    "2026-01-01",
                    m.group(1),
                    m.group(2).split(".")[0],
                    "THEIA",
                    p["definition"],
                    "ACCOUNTADMIN",
                    p["notification_channel"],
                )
                for name, p in a.pipes.items()
                if name == full
            ]
            self._answer(
                [
                    "created_on",
                    "name",
                    "database_name",
                    "schema_name",
                    "definition",
                    "owner",
                    "notification_channel",
                ],
                rows,
            )
        elif m := re.match(r"DROP PIPE IF EXISTS ([\w.]+)$", sql):
            a.pipes.pop(m.group(1), None)
            self._answer(*ok)
        elif m := re.match(r"CREATE OR REPLACE TASK ([\w.]+) .* AS (.*)$", sql):
            self._need_database(m.group(1))
            a.tasks[m.group(1)] = {"state": "suspended", "definition": m.group(2)}
            self._answer(*ok)
        elif m := re.match(r"ALTER TASK ([\w.]+) RESUME$", sql):
            a.tasks[m.group(1)]["state"] = "started"
            self._answer(*ok)
        elif m := re.match(r"DROP TASK IF EXISTS ([\w.]+)$", sql):
            a.tasks.pop(m.group(1), None)
            self._answer(*ok)
        elif m := re.match(r"CREATE WAREHOUSE IF NOT EXISTS (\w+)", sql):
            a.warehouses.add(m.group(1))
            self._answer(*ok)
        elif m := re.match(r"DROP WAREHOUSE IF EXISTS (\w+)$", sql):
            a.warehouses.discard(m.group(1))
            self._answer(*ok)
        elif m := re.match(r"USE WAREHOUSE (\w+)$", sql):
            if m.group(1) not in a.warehouses:
                raise SnowflakeError(f"Warehouse '{m.group(1)}' does not exist")
            self._answer(*ok)
        elif m := re.match(r"CREATE STAGE IF NOT EXISTS ([\w.]+)", sql):
            name = m.group(1)
            url = re.search(r"URL\s*=\s*'([^']+)'", sql).group(1)
            integration = re.search(r"STORAGE_INTEGRATION\s*=\s*(\w+)", sql).group(1)
            self._need_database(name)
            if integration not in a.integrations:
                raise SnowflakeError(f"Integration '{integration}' does not exist")
            a.stages.setdefault(name, {"url": url, "integration": integration})
            self._answer(*ok)
        elif m := re.match(r"DROP STAGE IF EXISTS ([\w.]+)$", sql):
            a.stages.pop(m.group(1), None)
            self._answer(*ok)
        elif m := re.match(r"CREATE DATABASE IF NOT EXISTS (\w+)", sql):
            comment = re.search(r"COMMENT\s*=\s*'([^']*)'", sql)
            a.databases.setdefault(m.group(1), comment.group(1) if comment else "")
            self._delegate(text, params)
        elif m := re.match(r"DROP DATABASE IF EXISTS (\w+)$", sql):
            db = m.group(1)
            if db in a.databases:
                del a.databases[db]
                for objects in (a.pipes, a.tasks, a.stages):
                    for name in [n for n in objects if n.startswith(db + ".")]:
                        del objects[name]
                duck = self.inner_con._duck_conn
                duck.execute("USE memory")
                duck.execute("DETACH DATABASE IF EXISTS " + db)
            self._answer(*ok)
        elif m := re.match(r"SHOW DATABASES LIKE '([\w%]+)'$", sql):
            pattern = re.compile(re.escape(m.group(1)).replace("%", ".*").replace("_", "."))
            rows = [
                ("2026-01-01", name, "N", "N", "", "ACCOUNTADMIN", comment)
                for name, comment in sorted(a.databases.items())
                if pattern.fullmatch(name)
            ]
            self._answer(
                ["created_on", "name", "is_default", "is_current", "origin", "owner", "comment"],
                rows,
            )
        elif re.match(r"ALTER SESSION SET TIMEZONE", sql):
            self._answer(*ok)
        elif re.match(r"SELECT SYSTEM\$PIPE_STATUS", sql):
            self._answer(["PIPE_STATUS"], [(json.dumps(a.pipe_status),)])
        elif "COPY_HISTORY" in sql:
            columns = [
                "FILE_NAME",
                "LAST_LOAD_TIME",
                "STATUS",
                "ROW_COUNT",
                "ROW_PARSED",
                "ERROR_COUNT",
                "FIRST_ERROR_MESSAGE",
            ]
            self._answer(columns, [tuple(r[c.lower()] for c in columns) for r in a.copy_history])
        else:
            self._delegate(text, params)
        return self

    def _need_database(self, qualified: str) -> None:
        db = qualified.split(".")[0]
        if db not in self.account.databases:
            raise SnowflakeError(f"Database '{db}' does not exist")

    def _delegate(self, text: str, params: dict[str, Any] | None) -> None:
        self.inner = self.inner_con.cursor()
        if params:
            self.inner.execute(text, params)
        else:
            self.inner.execute(text)
        self.description = self.inner.description


@pytest.fixture
def recorded_snowflake():
    """A fresh recorded Snowflake account on a fresh fakesnow instance."""
    import fakesnow
    import snowflake.connector

    with fakesnow.patch():
        yield RecordedSnowflake(lambda: snowflake.connector.connect())
