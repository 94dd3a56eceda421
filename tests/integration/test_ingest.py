"""Ingestion into the embedded engine: layouts, bad input, exactly-once, concurrency, S3."""

from __future__ import annotations

import datetime as dt
import gzip
import multiprocessing
import shutil
from pathlib import Path

import pytest

from theia_sf.demo import generate_flows
from theia_sf.errors import ConfigurationError
from theia_sf.ingest import apply_retention, ingest_flows
from theia_sf.layouts import LAYOUTS, Kind, split_fields
from theia_sf.objectstore import LocalObjectStore, S3ObjectStore

pytestmark = pytest.mark.integration

END = dt.datetime(2024, 5, 10, 12, 0, tzinfo=dt.UTC)
NOW = END + dt.timedelta(hours=1)


def _count(warehouse, sql_text):
    with warehouse.session() as s:
        return s.con.execute(sql_text).fetchone()[0]


def _ingest(warehouse, sql, directory, **kw):
    kw.setdefault("now", NOW)
    return ingest_flows(warehouse, sql, LocalObjectStore(directory), **kw)


def _file_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt") if path.suffix == ".gz" else open(path) as handle:
        return [line.rstrip("\n") for line in handle if line.strip()]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_layout_round_trip(tmp_path, duckdb_warehouse, sql, layout):
    flows = tmp_path / "flows"
    summary = generate_flows(flows, layout=layout, records=600, days=3, end=END, seed=3,
                             records_per_file=250)
    report = _ingest(duckdb_warehouse, sql, flows, layout="auto")
    assert report.rows_loaded == summary.records
    assert report.rows_rejected == 0
    assert {f.layout for f in report.files} == {layout}

    lines = [split_fields(line) for f in sorted(flows.iterdir()) for line in _file_lines(f)]
    lay = LAYOUTS[layout]
    cols = ", ".join(lay.fields)
    absent = [c.name for c in FLOW_COLUMNS_NOT_IN(lay)]
    with duckdb_warehouse.session() as s:
        rows = s.con.execute(
            f"SELECT {cols} FROM FLOWS ORDER BY flowStartSeconds, sourceTransportPort, sourceIP"
        ).fetchall()
        if absent:
            nulls = s.con.execute(
                "SELECT COUNT(*) FROM FLOWS WHERE " + " OR ".join(f"{c} IS NOT NULL" for c in absent)
            ).fetchone()[0]
            assert nulls == 0
    expected = sorted(
        (tuple(_expected_value(v, c.kind) for v, c in zip(line, lay.columns, strict=True))
         for line in lines),
        key=lambda r: (r[0], r[lay.fields.index("sourceTransportPort")], r[lay.fields.index("sourceIP")]),
    )
    got = [tuple(_normalise(v) for v in row) for row in rows]
    assert got == expected


def FLOW_COLUMNS_NOT_IN(layout):
    from theia_sf.layouts import FLOW_COLUMNS

    return [c for c in FLOW_COLUMNS if c.name not in layout.fields and c.name != "timeInserted"]


def _expected_value(value, kind):
    if value == "":
        return None
    if kind is Kind.TIME:
        return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)
    if kind is Kind.INT:
        return int(value)
    return value


def _normalise(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return value


def test_labels_object_empty_and_null_all_load(tmp_path, duckdb_warehouse, sql):
    flows = tmp_path / "flows"
    generate_flows(flows, layout="v2.7", records=2000, days=2, end=END, seed=1, compress=False)
    _ingest(duckdb_warehouse, sql, flows)
    with duckdb_warehouse.session() as s:
        kinds = dict(s.con.execute(
            "SELECT CASE WHEN sourcePodLabels IS NULL THEN 'empty' "
            "WHEN sourcePodLabels = 'null' THEN 'null' ELSE 'object' END k, COUNT(*) "
            "FROM FLOWS GROUP BY 1").fetchall())
    assert set(kinds) == {"empty", "null", "object"}


def _bad_file(directory: Path, compress: bool = False) -> tuple[Path, list[str]]:
    """A v2.7 file with good lines and one bad line of each kind; returns path, good lines."""
    generate_flows(directory / "src", layout="v2.7", records=40, days=1, end=END, seed=5,
                   compress=False)
    src = next((directory / "src").iterdir())
    good = _file_lines(src)[:6]
    lay = LAYOUTS["v2.7"]
    port = lay.fields.index("destinationTransportPort")
    labels = lay.fields.index("sourcePodLabels")

    quoted = {labels, lay.fields.index("destinationPodLabels")}

    def mutate(line: str, index: int, value: str) -> str:
        f = split_fields(line)
        f[index] = value
        return ",".join(("'" + v + "'") if i in quoted else v for i, v in enumerate(f))

    bad = [
        ",".join(split_fields(good[0])[:40]),                          # wrong field count
        good[1].replace("'{", "{", 1),                                  # broken quote
        mutate(good[2], port, "http"),                                  # non-numeric port
        mutate(good[3], labels, '{"app": web}'),                    # label JSON broken
    ]
    lines = [good[0], bad[0], good[1], bad[1], bad[2], good[2], bad[3], good[3], good[4], good[5]]
    shutil.rmtree(directory / "src")
    (directory / "flows").mkdir(parents=True, exist_ok=True)
    path = directory / "flows" / ("records-bad.csv.gz" if compress else "records-bad.csv")
    data = ("\n".join(lines) + "\n").encode()
    if compress:
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path, [good[i] for i in range(6)]


def test_bad_lines_are_rejected_good_lines_load(tmp_path, duckdb_warehouse, sql):
    _path, _good = _bad_file(tmp_path)
    report = _ingest(duckdb_warehouse, sql, tmp_path / "flows", layout="v2.7")
    assert (report.rows_loaded, report.rows_rejected) == (6, 4)
    assert report.files[0].path == "checked"
    with duckdb_warehouse.session() as s:
        rejects = s.con.execute(
            "SELECT lineNumber, reason FROM REJECTED_FLOW_RECORDS ORDER BY lineNumber").fetchall()
        history = s.con.execute("SELECT rowsLoaded, rowsRejected FROM LOAD_HISTORY").fetchall()
    assert [r[0] for r in rejects] == [2, 4, 5, 7]
    reasons = " | ".join(r[1] for r in rejects)
    assert "expected 53 fields" in reasons
    assert "quot" in reasons
    assert "destinationTransportPort is not an integer" in reasons
    assert "sourcePodLabels is not valid JSON" in reasons
    assert history == [(6, 4)]
    # Re-running loads nothing more and rejects nothing twice.
    again = _ingest(duckdb_warehouse, sql, tmp_path / "flows", layout="v2.7")
    assert again.files_loaded == 0
    assert again.files_skipped_loaded == 1
    assert _count(duckdb_warehouse, "SELECT COUNT(*) FROM FLOWS") == 6
    assert _count(duckdb_warehouse, "SELECT COUNT(*) FROM REJECTED_FLOW_RECORDS") == 4


def test_truncated_gzip_keeps_the_lines_before_the_damage(tmp_path, duckdb_warehouse, sql):
    flows = tmp_path / "flows"
    generate_flows(flows, layout="v2.7", records=3000, days=1, end=END, seed=9)
    path = next(flows.iterdir())
    total = len(_file_lines(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    report = _ingest(duckdb_warehouse, sql, flows)
    assert report.files_loaded == 1
    assert report.rows_rejected >= 1
    assert 0 < report.rows_loaded < total
    with duckdb_warehouse.session() as s:
        reason = s.con.execute("SELECT reason FROM REJECTED_FLOW_RECORDS").fetchall()
    assert any("truncated or corrupt" in r[0] for r in reason)


def test_crash_mid_load_loses_and_duplicates_nothing(tmp_path, duckdb_warehouse, sql, monkeypatch):
    flows = tmp_path / "flows"
    summary = generate_flows(flows, layout="v2.7", records=900, days=3, end=END, seed=2,
                             records_per_file=300)
    from theia_sf import ingest

    calls = {"n": 0}
    original = ingest.FlowLoader._record

    def crash_on_second(self, session, *args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed between the rows and the load record")
        return original(self, session, *args)

    monkeypatch.setattr(ingest.FlowLoader, "_record", crash_on_second)
    with pytest.raises(RuntimeError, match="worker killed"):
        _ingest(duckdb_warehouse, sql, flows, workers=1)
    # The first file committed; the second rolled back whole; the third never started.
    assert _count(duckdb_warehouse, "SELECT COUNT(*) FROM LOAD_HISTORY") == 1
    assert _count(duckdb_warehouse, "SELECT COUNT(*) FROM FLOWS") == _count(
        duckdb_warehouse, "SELECT SUM(rowsLoaded) FROM LOAD_HISTORY")
    monkeypatch.setattr(ingest.FlowLoader, "_record", original)
    retry = _ingest(duckdb_warehouse, sql, flows)
    assert retry.files_loaded == len(summary.files) - 1
    assert retry.files_skipped_loaded == 1
    assert _count(duckdb_warehouse, "SELECT COUNT(*) FROM FLOWS") == summary.records
    files = _count(duckdb_warehouse, "SELECT COUNT(DISTINCT fileKey) FROM LOAD_HISTORY")
    assert files == len(summary.files)


def _ingest_in_process(db: str, flows: str, sql_root: str, out) -> None:
    from theia_sf.adapters.duckdb import DuckDBWarehouse
    from theia_sf.sql import SqlLibrary

    report = ingest_flows(DuckDBWarehouse(db, lock_timeout=120), SqlLibrary(Path(sql_root)),
                          LocalObjectStore(flows), now=NOW)
    out.put((report.files_loaded, report.rows_loaded))


def test_concurrent_runs_queue_and_load_each_file_once(tmp_path, duckdb_warehouse, sql):
    flows = tmp_path / "flows"
    summary = generate_flows(flows, layout="v2.7", records=4000, days=2, end=END, seed=4,
                             records_per_file=500)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_ingest_in_process,
                         args=(duckdb_warehouse.path, str(flows), str(sql.root), out))
             for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
        assert p.exitcode == 0
    results = [out.get(timeout=5) for _ in procs]
    assert sum(r[0] for r in results) == len(summary.files)
    assert sum(r[1] for r in results) == summary.records
    assert _count(duckdb_warehouse, "SELECT COUNT(*) FROM FLOWS") == summary.records


def test_unknown_layout_names_the_setting(tmp_path, duckdb_warehouse, sql):
    (tmp_path / "flows").mkdir()
    with pytest.raises(ConfigurationError, match="THEIA_FLOW_LAYOUT"):
        _ingest(duckdb_warehouse, sql, tmp_path / "flows", layout="v3")


def test_unreachable_flows_location_is_named(tmp_path, duckdb_warehouse, sql):
    with pytest.raises(ConfigurationError, match="does not exist"):
        _ingest(duckdb_warehouse, sql, tmp_path / "nowhere")


def test_s3_location_through_moto(tmp_path, duckdb_warehouse, sql):
    import boto3
    from moto import mock_aws

    src = tmp_path / "src"
    summary = generate_flows(src, layout="v2.6", records=500, days=2, end=END, seed=8,
                             records_per_file=200)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="flows-bucket")
        for name in summary.files:
            s3.upload_file(str(src / name), "flows-bucket", f"flows/{name}")
        s3.put_object(Bucket="flows-bucket", Key="flows/README.txt", Body=b"not a flow file")
        store = S3ObjectStore(s3, "flows-bucket", "flows")
        report = ingest_flows(duckdb_warehouse, sql, store, now=NOW)
        assert report.files_loaded == len(summary.files)
        assert report.rows_loaded == summary.records
        assert ingest_flows(duckdb_warehouse, sql, store, now=NOW).files_loaded == 0
        with pytest.raises(ConfigurationError, match="cannot reach bucket"):
            ingest_flows(duckdb_warehouse, sql, S3ObjectStore(s3, "missing-bucket"), now=NOW)


def test_retention_deletes_old_rows_and_history(tmp_path, duckdb_warehouse, sql):
    flows = tmp_path / "flows"
    summary = generate_flows(flows, layout="v2.7", records=1000, days=10, end=END, seed=6)
    _ingest(duckdb_warehouse, sql, flows)
    result = apply_retention(duckdb_warehouse, sql, days=5, now=END)
    kept = _count(duckdb_warehouse, "SELECT COUNT(*) FROM FLOWS")
    assert 0 < kept < summary.records
    assert result["rows_deleted"] == summary.records - kept
    oldest = _count(duckdb_warehouse, "SELECT MIN(timeInserted) FROM FLOWS")
    assert oldest >= END - dt.timedelta(days=5)
    with pytest.raises(ConfigurationError):
        apply_retention(duckdb_warehouse, sql, days=0)
