"""The quick start's options for the production topology, without starting Airflow."""

from __future__ import annotations

import os
import stat

import pytest

from theia_sf.quickstart import AUTH_MANAGERS, LocalAirflow


def test_defaults_are_the_local_quick_start(tmp_path):
    env = LocalAirflow(tmp_path / "home", tmp_path / "data").env()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("sqlite:///")
    assert env["AIRFLOW__CORE__AUTH_MANAGER"] == AUTH_MANAGERS["simple"]
    assert env.get("AIRFLOW__CELERY__BROKER_URL") == os.environ.get("AIRFLOW__CELERY__BROKER_URL")


def test_celery_postgres_and_fab(tmp_path):
    af = LocalAirflow(tmp_path / "home", tmp_path / "data", executor="CeleryExecutor",
                      database_url="postgresql+psycopg2://airflow@127.0.0.1:5433/airflow",
                      celery_broker_url="redis://127.0.0.1:6380/0", auth_manager="fab")
    env = af.env()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        "postgresql+psycopg2://airflow@127.0.0.1:5433/airflow")
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6380/0"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith(".FabAuthManager")


def test_a_failing_airflow_command_says_why(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "airflow"
    fake.write_text("#!/bin/sh\necho 'could not reach the metadata database' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    af = LocalAirflow(tmp_path / "home", tmp_path / "data",
                      extra_env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    with pytest.raises(RuntimeError, match=r"airflow db migrate exited with 3:\s+could not reach"):
        af.airflow("db", "migrate")


def test_fab_users_get_a_password_that_begins_with_a_dash_as_one_argument(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    seen = tmp_path / "args"
    fake = bin_dir / "airflow"
    fake.write_text(f'#!/bin/sh\nfor a in "$@"; do echo "$a" >> {seen}; done\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    af = LocalAirflow(tmp_path / "home", tmp_path / "data", auth_manager="fab",
                      users={"admin": "-starts-with-a-dash"},
                      extra_env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    af.init()
    args = seen.read_text().splitlines()
    assert "--password=-starts-with-a-dash" in args
    assert "--password" not in args  # argparse would read "-starts..." as an option
    assert args[args.index("--role") + 1] == "Admin"
