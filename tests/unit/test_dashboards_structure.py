"""Structural checks of the provisioned Grafana files: datasource uid, variables, panel types,
and that every panel's SQL is exactly what the generator builds from sql/dashboards/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from theia_sf.dashboards import DASHBOARDS, DATASOURCE_UID, build_all, panel_sql
from theia_sf.dashboards.__main__ import main as dashboards_cli
from theia_sf.dashboards.build import stale_files, write_all
from theia_sf.dashboards.model import Panel, PanelKind

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "sql"
GRAFANA = ROOT / "include" / "grafana"
OUT = GRAFANA / "dashboards"

KNOWN_TYPES = {str(k) for k in PanelKind}


def _committed() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))}


def _panels(dashboard: dict) -> list[dict]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_committed_files_are_the_generator_output():
    assert stale_files(SQL, OUT) == [], "run: python -m theia_sf.dashboards"
    assert set(_committed()) == {f"{d.name}.json" for d in DASHBOARDS}


def test_four_theia_dashboards_with_fixed_unique_uids():
    committed = _committed()
    titles = {d["title"] for d in committed.values()}
    assert {
        "Theia Home",
        "Theia Flow Records",
        "Theia Pod-to-Pod",
        "Theia Network Policy",
        "Theia Recommendations and Drop Anomalies",
    } == titles
    uids = [d["uid"] for d in committed.values()]
    assert len(set(uids)) == len(uids)
    assert all(0 < len(u) <= 40 for u in uids)


@pytest.mark.parametrize("name", sorted(f"{d.name}.json" for d in DASHBOARDS))
def test_every_query_panel_uses_the_fixed_datasource_uid(name):
    dashboard = _committed()[name]
    panels = _panels(dashboard)
    assert panels
    for panel in panels:
        assert panel["type"] in KNOWN_TYPES, panel["title"]
        if panel["type"] in ("text", "dashlist"):
            assert "targets" not in panel
            continue
        assert panel["datasource"] == {
            "type": "michelin-snowflake-datasource",
            "uid": DATASOURCE_UID,
        }
        (target,) = panel["targets"]
        assert target["datasource"]["uid"] == DATASOURCE_UID
        assert target["queryType"] in ("table", "time series")
        assert (target["queryType"] == "time series") == (panel["type"] == "timeseries")
        text = target["queryText"]
        # Time range or cluster selection (ingestion health is about the loader, not a cluster).
        assert any(
            marker in text
            for marker in ("$__timeFrom()", "${clusterID:sqlstring}", "LOAD_HISTORY", "REJECTED")
        ), panel["title"]


@pytest.mark.parametrize("name", sorted(f"{d.name}.json" for d in DASHBOARDS))
def test_cluster_variable_is_a_multi_select_with_all(name):
    dashboard = _committed()[name]
    (var,) = dashboard["templating"]["list"]
    assert var["name"] == "clusterID"
    assert var["type"] == "query"
    assert var["multi"] is True
    assert var["includeAll"] is True
    assert var["current"]["value"] == ["$__all"]
    assert var["datasource"]["uid"] == DATASOURCE_UID
    assert var["query"] == panel_sql(SQL, "dashboards/variables/select_cluster_ids.sql")
    # Every query over FLOWS filters by the selected clusters.
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            if "FROM FLOWS" in target["queryText"]:
                assert "clusterUUID IN (${clusterID:sqlstring})" in target["queryText"], panel[
                    "title"
                ]


def test_panel_sql_equals_the_files_in_sql_dashboards():
    committed = _committed()
    for dashboard in DASHBOARDS:
        panels = _panels(committed[f"{dashboard.name}.json"])
        by_title = {p["title"]: p for p in panels}
        for spec in dashboard.query_panels():
            target = by_title[spec.title]["targets"][0]
            assert target["queryText"] == panel_sql(SQL, spec.sql), spec.title


def test_every_dashboard_sql_file_is_used_by_a_panel():
    used = {p.sql for d in DASHBOARDS for p in d.query_panels()}
    used.add("dashboards/variables/select_cluster_ids.sql")
    files = {str(p.relative_to(SQL)) for p in (SQL / "dashboards").rglob("*.sql")}
    assert files == used


def test_reference_bugs_are_fixed_in_the_panel_sql():
    texts = {p.sql: panel_sql(SQL, p.sql) for d in DASHBOARDS for p in d.query_panels()}
    every = "\n".join(texts.values())
    # NULL-vs-empty: no bare comparisons with '' that would drop NULL rows.
    for text in texts.values():
        for line in text.splitlines():
            if "<> ''" in line or "= ''" in line:
                assert "COALESCE(" in line, line
    # Reversed throughput window: the last 60 s before the range end, not DATEDIFF(now, t).
    overall = texts["dashboards/home/select_overall_throughput.sql"]
    assert "DATEADD(second, -60, $__timeTo()::TIMESTAMP_TZ)" in overall
    assert "DATEDIFF" not in overall
    # Reverse throughput is filtered on itself.
    reverse = texts["dashboards/pod_to_pod/select_pod_to_pod_reverse_throughput.sql"]
    assert "HAVING AVG(reverseThroughput) > 0" in reverse
    assert "HAVING AVG(throughput)" not in reverse
    assert "${clusterID:raw}" not in every


def test_byte_rates_are_not_shown_as_bits():
    committed = _committed()
    for dashboard in DASHBOARDS:
        panels = {p["title"]: p for p in _panels(committed[f"{dashboard.name}.json"])}
        for spec in dashboard.query_panels():
            text = panel_sql(SQL, spec.sql)
            unit = panels[spec.title]["fieldConfig"]["defaults"].get("unit")
            if "OctetDeltaCount) / 60" in text or "octetDeltaCount) / 60" in text:
                assert unit == "Bps", spec.title
            if "AVG(throughput)" in text or "AVG(reverseThroughput)" in text:
                assert unit == "bps", spec.title


def test_layout_fits_the_grid_and_panels_do_not_overlap():
    for content in _committed().values():
        cells = set()
        for panel in content["panels"]:
            g = panel["gridPos"]
            assert g["x"] >= 0, panel["title"]
            assert g["x"] + g["w"] <= 24, panel["title"]
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    assert (x, y) not in cells, panel["title"]
                    cells.add((x, y))
        ids = [p["id"] for p in content["panels"]]
        assert len(set(ids)) == len(ids)


def test_time_series_panels_name_series_by_their_label_column():
    for dashboard in DASHBOARDS:
        built = build_all(SQL)[f"{dashboard.name}.json"]
        by_title = {p["title"]: p for p in built["panels"]}
        for spec in dashboard.query_panels():
            if spec.kind is PanelKind.TIMESERIES and len(spec.columns) == 3:
                defaults = by_title[spec.title]["fieldConfig"]["defaults"]
                assert defaults["displayName"] == "${__field.labels." + spec.columns[1] + "}"


def test_panel_declaration_is_validated():
    with pytest.raises(ValueError, match="need sql"):
        Panel("x", PanelKind.STAT)
    with pytest.raises(ValueError, match="declare the columns"):
        Panel("x", PanelKind.STAT, "dashboards/home/select_pod_count.sql")
    with pytest.raises(ValueError, match="need sql"):
        Panel("x", PanelKind.TEXT, "dashboards/home/select_pod_count.sql", ("value",))


def test_cli_writes_and_checks(tmp_path, capsys):
    assert dashboards_cli(["--sql-dir", str(SQL), "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(_committed())
    assert dashboards_cli(["--sql-dir", str(SQL), "--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "homepage.json").write_text("{}")
    assert dashboards_cli(["--sql-dir", str(SQL), "--out", str(tmp_path), "--check"]) == 1
    assert "homepage.json" in capsys.readouterr().out


def test_write_all_is_deterministic(tmp_path):
    first = [p.read_text() for p in write_all(SQL, tmp_path / "a")]
    second = [p.read_text() for p in write_all(SQL, tmp_path / "b")]
    assert first == second


def test_datasource_provisioning_has_the_fixed_uid_and_env_settings():
    doc = yaml.safe_load((GRAFANA / "datasources" / "snowflake.yaml").read_text())
    (ds,) = doc["datasources"]
    assert ds["uid"] == DATASOURCE_UID
    assert ds["type"] == "michelin-snowflake-datasource"
    for key in ("account", "username", "warehouse", "database", "role"):
        assert ds["jsonData"][key].startswith("$SNOWFLAKE_"), key
    assert ds["jsonData"]["schema"] == "THEIA"
    # Key-pair sign-in, no password.
    assert ds["jsonData"]["authMethod"] == "keyPair"
    assert ds["secureJsonData"] == {"privateKey": "$SNOWFLAKE_PRIVATE_KEY"}


def test_dashboard_provider_points_at_the_dashboards_folder():
    doc = yaml.safe_load((GRAFANA / "dashboards" / "theia.yaml").read_text())
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].endswith("/dashboards")
