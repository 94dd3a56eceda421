"""Structural checks of docker-compose.yaml, .env.example and docker/Dockerfile.

There is no Docker engine on the build machines, so the deployment cannot be started here;
these tests check what can be checked statically: services, images, mounts, health checks,
dependencies and that every variable the file uses is named in .env.example.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yaml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
AIRFLOW = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"]
LONG_RUNNING = [*AIRFLOW, "postgres", "objectstore", "grafana"]


def env_example() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value
    return out


def test_services_are_the_deployment():
    assert set(SERVICES) == {*LONG_RUNNING, "airflow-init"}


def test_airflow_services_use_the_package_image_built_from_the_official_one():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert re.search(r"apache/airflow:3\.3\.2(-python3\.11)?\b", dockerfile)
    assert "pip install" in dockerfile
    assert "/opt/theia" in dockerfile
    for name in [*AIRFLOW, "airflow-init"]:
        service = SERVICES[name]
        assert service["image"] == "theia-sf-airflow:local", name
        assert service["build"]["dockerfile"] == "docker/Dockerfile", name
    for source in ("pyproject.toml", "include", "sql", "dags", "plugins"):
        assert re.search(rf"^COPY .*\b{re.escape(source)}\b", dockerfile, re.M), source


def test_airflow_services_and_their_commands():
    commands = {name: SERVICES[name]["command"] for name in AIRFLOW}
    assert commands == {
        "airflow-apiserver": ["airflow", "api-server"],
        "airflow-scheduler": ["airflow", "scheduler"],
        "airflow-dag-processor": ["airflow", "dag-processor"],
        "airflow-triggerer": ["airflow", "triggerer"],
    }
    assert "airflow db migrate" in "\n".join(SERVICES["airflow-init"]["command"])


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_long_running_service_has_a_health_check(name):
    check = SERVICES[name]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert len(check["test"]) >= 2
    for key in ("interval", "timeout", "retries"):
        assert key in check


@pytest.mark.parametrize("name", AIRFLOW)
def test_airflow_waits_for_healthy_dependencies_and_init(name):
    depends = SERVICES[name]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["objectstore"]["condition"] == "service_healthy"
    assert depends["airflow-init"]["condition"] == "service_completed_successfully"


def test_airflow_environment():
    env = SERVICES["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] in ("LocalExecutor", "CeleryExecutor")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert "@postgres:5432/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert (
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    )
    assert env["AIRFLOW_CONN_THEIA_WAREHOUSE"] == "${AIRFLOW_CONN_THEIA_WAREHOUSE}"
    assert '"endpoint_url": "http://objectstore:7070"' in env["AIRFLOW_CONN_THEIA_AWS"]
    assert env["THEIA_FLOWS_LOCATION"].startswith("s3://")
    # Every Airflow process sees the same settings (one anchor).
    for name in [*AIRFLOW, "airflow-init"]:
        for key, value in env.items():
            if key != "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK":
                assert SERVICES[name]["environment"][key] == value, (name, key)


def test_airflow_mounts_dags_plugins_and_shares_the_duckdb_volume():
    for name in [*AIRFLOW, "airflow-init"]:
        volumes = SERVICES[name]["volumes"]
        assert "./dags:/opt/airflow/dags:ro" in volumes
        assert "./plugins:/opt/airflow/plugins:ro" in volumes
        assert "theia-data:/opt/airflow/theia" in volumes
    for host_path in ("./dags", "./plugins"):
        assert (ROOT / host_path).is_dir()
    # Named volumes mounted into the image get the ownership of the image's directory.
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    for service in [*AIRFLOW, "airflow-init"]:
        for volume in SERVICES[service]["volumes"]:
            source, target = volume.split(":")[:2]
            if not source.startswith(".") and target != "/opt/airflow/logs":
                assert target in dockerfile, target


def test_grafana_mounts_the_provisioning_and_loads_the_plugins():
    grafana = SERVICES["grafana"]
    assert grafana["image"].startswith("grafana/grafana:")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    assert mounts["/etc/grafana/provisioning/datasources"] == "./include/grafana/datasources"
    assert mounts["/etc/grafana/provisioning/dashboards"] == "./include/grafana/dashboards"
    for host in ("include/grafana/datasources", "include/grafana/dashboards"):
        assert (ROOT / host).is_dir()
    env = grafana["environment"]
    for plugin in (
        "michelin-snowflake-datasource",
        "theia-grafana-sankey-plugin",
        "theia-grafana-chord-plugin",
    ):
        assert plugin in env["GF_INSTALL_PLUGINS"]
        assert plugin in env["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"]
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "include/grafana/dashboards" / Path(home).name).is_file()
    # The datasource provisioning reads these variables from Grafana's environment.
    datasource = (ROOT / "include/grafana/datasources/snowflake.yaml").read_text()
    for var in re.findall(r"\$(SNOWFLAKE_[A-Z]+)", datasource):
        assert var in env, var


def test_object_store_is_s3_compatible_with_credentials_from_env():
    store = SERVICES["objectstore"]
    assert "minio" not in store["image"]
    assert store["environment"]["ROOT_ACCESS_KEY"] == "${S3_ACCESS_KEY}"
    assert "7070:7070" in store["ports"]


def test_named_volumes_are_declared():
    declared = set(COMPOSE["volumes"])
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, source


def test_env_example_names_every_variable_and_only_used_ones():
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)\}", COMPOSE_TEXT))
    named = env_example()
    assert used - set(named) == set(), "add to .env.example"
    assert set(named) - used == set(), "unused in docker-compose.yaml"
    secrets = [
        k for k in named if k.endswith(("PASSWORD", "SECRET_KEY", "JWT_SECRET", "FERNET_KEY"))
    ]
    assert secrets
    for key in secrets:
        if not key.startswith("SNOWFLAKE_"):
            assert "change-me" in named[key], key


def test_env_example_warehouse_connection_is_valid_json():
    import json

    value = env_example()["AIRFLOW_CONN_THEIA_WAREHOUSE"]
    assert value.startswith("'")
    assert value.endswith("'")
    conn = json.loads(value[1:-1])
    assert conn["conn_type"] == "duckdb"
    assert conn["host"].startswith("/opt/airflow/theia/")
