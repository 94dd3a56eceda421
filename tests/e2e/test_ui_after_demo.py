"""The Theia page after the quick start's demo pipelines, in headless Chromium.

Uses the Airflow started by ``tests/e2e/conftest.py`` exactly as ``make run`` runs it, so the
page shows what a new user sees: the demo's recommendation run and its drop anomaly.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _open(browser, url: str, view: str) -> str:
    browser.call("Page.navigate", url=f"{url}/theia/#{view}")
    browser.wait_for(f"document.body && document.body.dataset.loaded === '{view}'", timeout=90)
    return browser.evaluate("document.body.innerText")


def test_page_shows_the_demo_recommendation_and_drop_anomaly(airflow_demo, browser, artifacts_dir):
    af, runs = airflow_demo
    # The latest published run (other e2e tests may have triggered runs after the demo's).
    import json

    rec = json.loads((af.data_dir / "results" / "recommendation" / "latest" / "report.json")
                     .read_text())
    spike = runs["demo"]["spike"]
    browser.call("Network.setCookie", name="_token", value=af.token(), url=af.url + "/",
                 path="/", httpOnly=True)
    shots = artifacts_dir / "theia-ui-demo"
    shots.mkdir(parents=True, exist_ok=True)

    text = _open(browser, af.url, "overview")
    assert rec["run_id"] in text
    browser.screenshot(shots / "overview.png")

    text = _open(browser, af.url, "recommendations")
    assert rec["run_id"] in text
    yaml_text = browser.evaluate("document.getElementById('policy-yaml').textContent")
    assert "kind:" in yaml_text and "apiVersion:" in yaml_text
    browser.screenshot(shots / "recommendations.png")

    text = _open(browser, af.url, "anomalies")
    assert spike["endpoint"] in text or spike["workload"] in text, text[:3000]
    assert spike["day"] in text
    browser.screenshot(shots / "anomalies.png")

    for view in ("flows", "pods"):
        _open(browser, af.url, view)
        browser.screenshot(shots / f"{view}.png")
    for name in ("overview", "recommendations", "anomalies", "flows", "pods"):
        assert (shots / f"{name}.png").stat().st_size > 5000
