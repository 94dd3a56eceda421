from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_core_services_do_not_import_airflow():
    modules = ["theia_sf.ingest", "theia_sf.demo", "theia_sf.migrations", "theia_sf.quickstart",
               "theia_sf.adapters.duckdb", "theia_sf.adapters.snowflake", "theia_sf.objectstore"]
    services = ROOT / "include" / "theia_sf" / "services"
    if services.is_dir():
        modules += [f"theia_sf.services.{p.stem}" for p in services.glob("*.py") if p.stem != "__init__"]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT,
                   env={"PYTHONPATH": str(ROOT / "include"), "PATH": "/usr/bin:/bin"})


def test_lint_bans_airflow_in_the_core():
    """ruff's nested config bans airflow in the core and allows it in theia_sf/airflow/."""
    source = "from __future__ import annotations\n\nimport airflow.sdk  # noqa: F401\n"
    ruff = str(Path(sys.executable).parent / "ruff")

    def check(path: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ruff, "check", "--stdin-filename", path, "-"], input=source,
                              capture_output=True, text=True, cwd=ROOT)

    core = check("include/theia_sf/probe.py")
    assert core.returncode != 0
    assert "TID251" in core.stdout
    glue = check("include/theia_sf/airflow/probe.py")
    assert glue.returncode == 0, glue.stdout
