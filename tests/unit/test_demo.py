from __future__ import annotations

import collections
import datetime as dt
import gzip
import hashlib

import pytest

from theia_sf.demo import generate_flows, main
from theia_sf.layouts import LAYOUTS, split_fields

END = dt.datetime(2024, 3, 14, 6, 0, tzinfo=dt.UTC)


def _rows(directory, layout):
    fields = LAYOUTS[layout].fields
    for path in sorted(directory.iterdir()):
        with gzip.open(path, "rt") as handle:
            for line in handle:
                yield dict(zip(fields, split_fields(line.rstrip("\n")), strict=True))


def _digest(directory):
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(directory.iterdir()))).hexdigest()


def test_deterministic_by_seed(tmp_path):
    a = generate_flows(tmp_path / "a", records=3000, days=3, end=END, seed=11)
    b = generate_flows(tmp_path / "b", records=3000, days=3, end=END, seed=11)
    generate_flows(tmp_path / "c", records=3000, days=3, end=END, seed=12)
    assert a.files == b.files and _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_has_the_right_field_count(tmp_path, layout):
    summary = generate_flows(tmp_path, layout=layout, records=500, days=2, end=END)
    rows = list(_rows(tmp_path, layout))
    assert len(rows) == summary.records


def test_content_is_realistic(tmp_path):
    summary = generate_flows(tmp_path, records=20_000, days=12, end=END, seed=3)
    rows = list(_rows(tmp_path, "v2.7"))
    namespaces = {r["sourcePodNamespace"] for r in rows} | {r["destinationPodNamespace"] for r in rows}
    assert {"kube-system", "shop", "payments", "monitoring"} <= namespaces
    assert {r["flowType"] for r in rows} == {"1", "2", "3", "4"}
    actions = {r["ingressNetworkPolicyRuleAction"] for r in rows} | {
        r["egressNetworkPolicyRuleAction"] for r in rows}
    assert {"1", "2", "3"} <= actions
    labels = {r["sourcePodLabels"] for r in rows}
    assert "" in labels and "null" in labels
    assert any("pod-template-hash" in v for v in labels)
    assert any(r["destinationServicePortName"] for r in rows)
    assert any(":" in r["destinationIP"] for r in rows)  # an IPv6 external peer
    times = [int(r["flowEndSeconds"]) for r in rows]
    assert max(times) <= END.timestamp()
    assert min(times) >= (END - dt.timedelta(days=12)).timestamp() - 86_400

    # The spike: drops on its endpoint on the last day far above the daily baseline.
    per_day = collections.Counter(
        dt.datetime.fromtimestamp(int(r["flowStartSeconds"]), dt.UTC).date().isoformat()
        for r in rows
        if r["destinationPodNamespace"] + "/" + r["destinationPodName"] == summary.spike["endpoint"]
        and r["ingressNetworkPolicyRuleAction"] in ("2", "3"))
    assert per_day[summary.spike["day"]] == summary.spike["drops"]
    baseline = [n for day, n in per_day.items() if day != summary.spike["day"]]
    assert len(baseline) == 11 and max(baseline) * 5 < summary.spike["drops"]


def test_cli_writes_files(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--records", "200", "--days", "1", "--no-gzip"]) == 0
    assert '"records"' in capsys.readouterr().out
    assert all(p.suffix == ".csv" for p in tmp_path.iterdir())
