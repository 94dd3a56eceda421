"""Checks of docker-compose.yaml, .env.example and the image (docker/Dockerfile).

There is no Docker engine on the build machines, so the deployment is not started here (the
same topology runs for real in tests/topology, from the locked packages). These tests check
the file against the Compose Specification's JSON schema and the properties the deployment
promises: CeleryExecutor with Redis and workers, Postgres, the FAB auth manager, every secret
guarded, pinned images and Grafana plugins, key-pair sign-in for the Snowflake datasource, and
an image that installs exactly the locked packages.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yaml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()
AIRFLOW = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
           "airflow-triggerer", "airflow-worker"]
LONG_RUNNING = [*AIRFLOW, "postgres", "redis", "objectstore", "grafana"]
# ${NAME}, ${NAME:?message}, ${NAME-default} ...; "$$" escapes a literal "$".
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z0-9_]+)(?:(:?[?\-+])([^}]*))?\}")
# Ids and fingerprints of everything the compose file's services run.
PINNED_IMAGE = re.compile(r"^[a-z0-9./-]+:(v?\d+(\.\d+)+)(-[a-z0-9]+)?$")


def env_example() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value
    return out


def interpolate(value: object, env: dict[str, str]) -> object:
    """Compose's interpolation of the forms this file uses, applied as compose applies it: to
    the string values of the parsed file. Raises where compose stops."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        value = env.get(name)
        if op == ":?" and not value:
            raise LookupError(f"{name}: {arg}")
        if op == ":-" and not value:
            return arg or ""
        if op is None and value is None:
            raise AssertionError(f"${{{name}}} would be blank without a warning of its own")
        return value or ""

    return VARIABLE.sub(one, value).replace("$$", "$")


# --- the Compose Specification -----------------------------------------------------------------


def compose_schema() -> jsonschema.protocols.Validator:
    schema = json.loads((ROOT / "tests/unit/data/compose-spec.json").read_text())
    return jsonschema.Draft7Validator(schema)


def test_compose_file_is_valid_against_the_compose_specification():
    errors = [f"{list(e.absolute_path)}: {e.message}"
              for e in compose_schema().iter_errors(COMPOSE)]
    assert errors == []


def test_compose_file_with_the_example_settings_is_valid_against_the_specification():
    settings = {k: v.strip("'") for k, v in env_example().items()}
    resolved = interpolate(COMPOSE, settings)
    errors = [f"{list(e.absolute_path)}: {e.message}"
              for e in compose_schema().iter_errors(resolved)]
    assert errors == []


@pytest.mark.parametrize("mutate", [
    lambda c: c["services"]["redis"].update(imagee="redis:7"),
    lambda c: c["services"]["airflow-worker"].update(depends_on="postgres"),
    lambda c: c["services"]["postgres"]["healthcheck"].update(intervall="10s"),
])
def test_the_schema_check_catches_mistakes(mutate):
    broken = copy.deepcopy(COMPOSE)
    mutate(broken)
    assert list(compose_schema().iter_errors(broken))


# --- secrets -----------------------------------------------------------------------------------


def test_every_variable_is_required_with_a_message_or_has_an_explicit_default():
    uses = VARIABLE.findall(COMPOSE_TEXT)
    assert uses
    for name, op, arg in uses:
        assert op in (":?", ":-"), f"${{{name}}} is neither required (:?) nor defaulted (:-)"
        if op == ":?":
            assert name in arg, f"the message of {name} names it"


def test_secrets_are_required():
    required = {name for name, op, _ in VARIABLE.findall(COMPOSE_TEXT) if op == ":?"}
    secrets = {name for name in env_example()
               if name.endswith(("PASSWORD", "SECRET_KEY", "JWT_SECRET", "FERNET_KEY"))}
    assert secrets >= {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_FERNET_KEY",
                       "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "GRAFANA_ADMIN_PASSWORD"}
    assert secrets <= required
    # Without .env, compose stops on the first missing secret instead of running with blanks.
    with pytest.raises(LookupError, match=r"set \w+ in \.env"):
        interpolate(COMPOSE, {})


def test_env_example_names_every_variable_and_only_used_ones():
    used = {name for name, _, _ in VARIABLE.findall(COMPOSE_TEXT)}
    named = env_example()
    assert used - set(named) == set(), "add to .env.example"
    assert set(named) - used == set(), "unused in docker-compose.yaml"
    for key in named:
        if key.endswith(("PASSWORD", "SECRET_KEY", "JWT_SECRET", "FERNET_KEY")):
            assert "change-me" in named[key], key


def test_env_example_warehouse_connection_is_valid_json():
    value = env_example()["AIRFLOW_CONN_THEIA_WAREHOUSE"]
    assert value.startswith("'") and value.endswith("'")
    conn = json.loads(value[1:-1])
    assert conn["conn_type"] == "duckdb"
    assert conn["host"].startswith("/opt/airflow/theia/")


def test_connection_json_stays_valid_after_interpolation():
    settings = {k: v.strip("'") for k, v in env_example().items()}
    env = interpolate(COMPOSE, settings)["x-airflow-common"]["environment"]
    aws = json.loads(env["AIRFLOW_CONN_THEIA_AWS"])
    assert aws["extra"]["endpoint_url"] == "http://objectstore:7070"
    assert json.loads(env["AIRFLOW_CONN_THEIA_WAREHOUSE"])["conn_type"] == "duckdb"


# --- the topology ------------------------------------------------------------------------------


def test_services_are_the_deployment():
    assert set(SERVICES) == {*LONG_RUNNING, "airflow-init"}


def test_celery_executor_with_redis_and_the_postgres_result_backend():
    env = COMPOSE["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert re.fullmatch(r"redis://:\$\{REDIS_PASSWORD:\?[^}]+\}@redis:6379/0",
                        env["AIRFLOW__CELERY__BROKER_URL"])
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres:5432/airflow")
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://airflow:")
    assert SERVICES["airflow-worker"]["command"] == ["airflow", "celery", "worker"]
    # Scaled with --scale: no fixed container name or host port per worker.
    assert "container_name" not in SERVICES["airflow-worker"]
    assert "ports" not in SERVICES["airflow-worker"]
    assert "celery" in " ".join(SERVICES["airflow-worker"]["healthcheck"]["test"])
    redis = SERVICES["redis"]
    assert "--requirepass" in " ".join(redis["command"])
    assert "ports" not in redis  # only the compose network reaches the broker


def test_fab_auth_manager_and_its_users():
    env = COMPOSE["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__AUTH_MANAGER"] == (
        "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager")
    assert "SIMPLE_AUTH_MANAGER" not in COMPOSE_TEXT
    init = "\n".join(SERVICES["airflow-init"]["command"])
    assert "airflow db migrate" in init
    assert "airflow users create --username admin --role Admin" in init
    assert "airflow users create --username viewer --role Viewer" in init
    # One argument even for a password that begins with "-".
    assert '--password="$$THEIA_ADMIN_PASSWORD"' in init
    assert '--password="$$THEIA_VIEWER_PASSWORD"' in init
    # The FAB provider (and Celery's, Postgres') are in the locked set the image installs.
    requirements = (ROOT / "docker" / "requirements.txt").read_text()
    for package in ("apache-airflow-providers-fab", "apache-airflow-providers-celery",
                    "apache-airflow-providers-postgres", "redis"):
        assert re.search(rf"^{package}==", requirements, re.M), package


def test_airflow_services_and_their_commands():
    commands = {name: SERVICES[name]["command"] for name in AIRFLOW}
    assert commands == {
        "airflow-apiserver": ["airflow", "api-server"],
        "airflow-scheduler": ["airflow", "scheduler"],
        "airflow-dag-processor": ["airflow", "dag-processor"],
        "airflow-triggerer": ["airflow", "triggerer"],
        "airflow-worker": ["airflow", "celery", "worker"],
    }
    for name in [*AIRFLOW, "airflow-init"]:
        service = SERVICES[name]
        assert service["image"] == "theia-sf-airflow:local", name
        assert service["build"]["dockerfile"] == "docker/Dockerfile", name


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
    for service in ("postgres", "redis", "objectstore"):
        assert depends[service]["condition"] == "service_healthy", service
    assert depends["airflow-init"]["condition"] == "service_completed_successfully"
    if name == "airflow-worker":  # tasks talk to the execution API
        assert depends["airflow-apiserver"]["condition"] == "service_healthy"


def test_every_airflow_process_sees_the_same_settings():
    env = COMPOSE["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        "http://airflow-apiserver:8080/execution/")
    assert '"endpoint_url": "http://objectstore:7070"' in env["AIRFLOW_CONN_THEIA_AWS"]
    assert env["THEIA_FLOWS_LOCATION"].startswith("s3://")
    assert env["THEIA_RESULTS_LOCATION"].startswith("s3://")
    for name in [*AIRFLOW, "airflow-init"]:
        for key, value in env.items():
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
    for volume in SERVICES["airflow-worker"]["volumes"]:
        source, target = volume.split(":")[:2]
        if not source.startswith(".") and target != "/opt/airflow/logs":
            assert target in DOCKERFILE, target


def test_named_volumes_are_declared():
    declared = set(COMPOSE["volumes"])
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, source


def test_object_store_is_s3_compatible_with_credentials_from_env():
    store = SERVICES["objectstore"]
    assert "minio" not in store["image"]
    assert store["environment"]["ROOT_ACCESS_KEY"].startswith("${S3_ACCESS_KEY:?")
    assert "7070:7070" in store["ports"]


@pytest.mark.parametrize("name", [n for n in SERVICES if "image" in SERVICES[n]])
def test_images_are_pinned_to_versions(name):
    image = SERVICES[name]["image"]
    if "build" in SERVICES[name]:
        assert image == "theia-sf-airflow:local"
    else:
        assert PINNED_IMAGE.match(image), image


# --- Grafana -----------------------------------------------------------------------------------


def grafana_plugins() -> dict[str, str]:
    entries = SERVICES["grafana"]["environment"]["GF_INSTALL_PLUGINS"].split(",")
    return {entry.split(";")[1]: entry.split(";")[0] for entry in entries}


def test_grafana_plugins_are_pinned_to_released_versions():
    plugins = grafana_plugins()
    assert set(plugins) == {"michelin-snowflake-datasource", "theia-grafana-sankey-plugin",
                            "theia-grafana-chord-plugin"}
    for plugin, url in plugins.items():
        assert url.startswith("https://"), plugin
        assert "latest" not in url, plugin
        assert re.search(r"[/-]v?\d+\.\d+\.\d+[/.]", url), (plugin, url)
    allowed = SERVICES["grafana"]["environment"]["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"]
    assert set(allowed.split(",")) == set(plugins)


def test_grafana_mounts_the_provisioning():
    grafana = SERVICES["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    assert mounts["/etc/grafana/provisioning/datasources"] == "./include/grafana/datasources"
    assert mounts["/etc/grafana/provisioning/dashboards"] == "./include/grafana/dashboards"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "include/grafana/dashboards" / Path(home).name).is_file()


def test_snowflake_datasource_signs_in_with_a_key_pair():
    text = (ROOT / "include/grafana/datasources/snowflake.yaml").read_text()
    (datasource,) = yaml.safe_load(text)["datasources"]
    assert datasource["jsonData"]["authMethod"] == "keyPair"
    assert datasource["secureJsonData"] == {"privateKey": "$SNOWFLAKE_PRIVATE_KEY"}
    assert "password" not in json.dumps(datasource).lower()
    # Every variable the provisioning reads is in Grafana's environment.
    env = SERVICES["grafana"]["environment"]
    variables = re.findall(r"\$(SNOWFLAKE_[A-Z_]+)", text)
    assert "SNOWFLAKE_PRIVATE_KEY" in variables
    for var in variables:
        assert var in env, var
    assert not any("PASSWORD" in k for k in env if k.startswith("SNOWFLAKE_"))


# --- the image: exactly the locked set ---------------------------------------------------------


def uv() -> str:
    found = shutil.which("uv", path=str(ROOT / ".local" / "bootstrap" / "bin")) or shutil.which("uv")
    assert found, "uv not found: make install puts it in .local/bootstrap/bin"
    return found


def strip_header(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("#")]


def test_image_requirements_are_the_lock_exported():
    committed = (ROOT / "docker" / "requirements.txt").read_text()
    command = ["export", "--frozen", "--no-dev", "--no-emit-project"]
    assert "uv " + " ".join(command) + " -o docker/requirements.txt" in committed
    exported = subprocess.run([uv(), *command, "--quiet"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout
    assert strip_header(committed) == strip_header(exported), (
        "docker/requirements.txt is stale: run "
        ".local/bootstrap/bin/uv export --frozen --no-dev --no-emit-project "
        "-o docker/requirements.txt")


def test_image_requirements_pin_every_runtime_package_of_the_lock_with_hashes():
    import tomllib

    requirements = (ROOT / "docker" / "requirements.txt").read_text()
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", requirements, re.M)
    locked = {(p["name"], p["version"]) for p in
              tomllib.loads((ROOT / "uv.lock").read_text())["package"] if "version" in p}
    assert set(pins) <= locked
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for dependency in project["dependencies"]:
        assert tuple(dependency.split("==")) in set(pins), dependency
    names = {name for name, _ in pins}
    for name in ("pytest", "moto", "fakesnow", "ruff", "hypothesis"):  # test extras stay out
        assert name not in names, name
    # Each requirement carries its hashes, so pip checks every download against the lock.
    blocks = re.split(r"\n(?=[A-Za-z0-9])", requirements.split("\n", 2)[2])
    assert len(blocks) == len(pins)
    for block in blocks:
        assert "--hash=sha256:" in block, block.split()[0]


def test_image_installs_the_lock_on_the_official_airflow_image():
    assert re.search(r"^ARG AIRFLOW_IMAGE=apache/airflow:slim-3\.3\.2-python3\.11$",
                     DOCKERFILE, re.M)
    assert re.search(r"^FROM \$\{AIRFLOW_IMAGE\}$", DOCKERFILE, re.M)
    assert re.search(r"^COPY .*docker/requirements\.txt", DOCKERFILE, re.M)
    installs = re.findall(r"pip install [^\n]*", DOCKERFILE)
    assert any("--require-hashes -r requirements.txt" in line for line in installs)
    # The package itself resolves nothing: its dependencies are the locked set above.
    assert any("--no-deps /opt/theia" in line for line in installs)
    assert not any(re.search(r"pip install .*(apache-airflow|==)", line) for line in installs)
    for source in ("pyproject.toml", "include", "sql", "dags", "plugins"):
        assert re.search(rf"^COPY .*\b{re.escape(source)}\b", DOCKERFILE, re.M), source
    airflow_pin = re.search(r"^apache-airflow==(\S+)", (ROOT / "docker/requirements.txt")
                            .read_text(), re.M).group(1)
    assert f"apache/airflow:slim-{airflow_pin}-" in DOCKERFILE
