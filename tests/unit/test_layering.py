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


def test_lint_bans_airflow_in_the_core(tmp_path):
    probe = ROOT / "include" / "theia_sf" / "_lint_probe_tmp.py"
    probe.write_text("from __future__ import annotations\n\nimport airflow.sdk  # noqa: F401\n")
    try:
        out = subprocess.run([str(Path(sys.executable).parent / "ruff"), "check", str(probe)],
                             capture_output=True, text=True, cwd=ROOT)
    finally:
        probe.unlink()
    assert out.returncode != 0
    assert "TID251" in out.stdout
