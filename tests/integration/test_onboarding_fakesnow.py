"""Onboarding statements fakesnow supports, through the real Snowflake adapter."""

from __future__ import annotations

import pytest

from theia_sf.adapters.snowflake import SnowflakeWarehouse

pytestmark = pytest.mark.integration


@pytest.fixture
def account():
    import fakesnow
    import snowflake.connector

    # The adapter sets the session time zone, which fakesnow does not implement.
    with fakesnow.patch(nop_regexes=[r"^ALTER SESSION SET TIMEZONE"]):
        yield SnowflakeWarehouse(lambda: snowflake.connector.connect(), database=None, schema=None)


def test_database_schema_and_preflight_on_fakesnow(account, sql):
    with account.session() as session:
        create = sql.render(
            "onboarding/create_database.sql",
            database="ANTREA_ABC",
            schema="ANTREA_ABC.THEIA",
            comment="theia-sf-airflow stack p",
        )
        session.execute(create)
        session.execute(create)  # a second onboarding reuses what exists
        role = session.fetch(sql.render("onboarding/select_current_role.sql"))
        databases = session.fetch(sql.render("onboarding/show_databases.sql"))
    assert list(role[0]) == ["current_role"]
    assert [d["name"] for d in databases] == ["ANTREA_ABC"]
