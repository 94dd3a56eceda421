"""Ingestion against hostile input: names that look like patterns, touched, renamed and
rewritten files, poison lines and directory entries. Each case loads the good rows, rejects
the bad ones with a reason, and lets every other file load in the same run."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import shutil

import pytest

from theia_sf.demo import generate_flows
from theia_sf.ingest import ingest_flows
from theia_sf.layouts import LAYOUTS, split_fields
from theia_sf.objectstore import LocalObjectStore

pytestmark = pytest.mark.integration

END = dt.datetime(2024, 5, 10, 12, 0, tzinfo=dt.UTC)
NOW = END + dt.timedelta(hours=1)
LAYOUT = LAYOUTS["v2.7"]
LABELS = LAYOUT.fields.index("sourcePodLabels")
QUOTED = {LABELS, LAYOUT.fields.index("destinationPodLabels")}


@pytest.fixture
def lines(tmp_path):
    """60 good v2.7 lines, distinct, in no file yet."""
    src = tmp_path / "src"
    generate_flows(src, layout="v2.7", records=60, days=1, end=END, seed=5, compress=False)
    found = [line for f in sorted(src.iterdir()) for line in f.read_text().splitlines() if line]
    shutil.rmtree(src)
    assert len(found) >= 60
    return found[:60]


def _with(line: str, index: int, value: str) -> str:
    fields = split_fields(line)
    fields[index] = value
    return ",".join(f"'{v}'" if i in QUOTED else v for i, v in enumerate(fields))


def _write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _ingest(warehouse, sql, flows, **kw):
    return ingest_flows(warehouse, sql, LocalObjectStore(flows), now=NOW, **kw)


def _q(warehouse, text):
    with warehouse.session() as s:
        return s.con.execute(text).fetchall()


def _flow_count(warehouse):
    return _q(warehouse, "SELECT COUNT(*) FROM FLOWS")[0][0]


def _rejects(warehouse):
    return _q(warehouse, "SELECT fileKey, lineNumber, reason FROM REJECTED_FLOW_RECORDS "
                         "ORDER BY fileKey, lineNumber")


# --- names are never patterns ------------------------------------------------------------


def test_glob_characters_in_a_name_load_only_that_file(tmp_path, duckdb_warehouse, sql, lines):
    flows = tmp_path / "flows"
    _write(flows / "p2-a.csv", lines[:10])
    _write(flows / "p2-b.csv", lines[10:20])
    _write(flows / "p2-?.csv", lines[20:22])
    _write(flows / "p2-[ab].csv", lines[22:25])
    _write(flows / "p2-*.csv.gz.csv", lines[25:29])
    report = _ingest(duckdb_warehouse, sql, flows)
    assert {f.key: f.rows_loaded for f in report.files} == {
        "p2-a.csv": 10, "p2-b.csv": 10, "p2-?.csv": 2, "p2-[ab].csv": 3, "p2-*.csv.gz.csv": 4}
    assert _flow_count(duckdb_warehouse) == 29


# --- a file is its content ---------------------------------------------------------------


def test_touching_renaming_or_copying_a_loaded_file_loads_nothing(tmp_path, duckdb_warehouse,
                                                                  sql, lines):
    flows = tmp_path / "flows"
    path = _write(flows / "a.csv", lines[:10])
    assert _ingest(duckdb_warehouse, sql, flows).rows_loaded == 10

    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # touch
    touched = _ingest(duckdb_warehouse, sql, flows)
    assert (touched.files_loaded, touched.files_duplicate) == (0, 1)
    assert "unchanged" in touched.files[0].note

    path.rename(flows / "renamed.csv")
    shutil.copy(flows / "renamed.csv", flows / "copy-1.csv")
    shutil.copy(flows / "renamed.csv", flows / "copy-2.csv")  # two copies in one run
    moved = _ingest(duckdb_warehouse, sql, flows)
    assert (moved.files_loaded, moved.files_duplicate) == (0, 3)
    assert all("same content as a.csv" in f.note for f in moved.files)
    assert _flow_count(duckdb_warehouse) == 10

    # The versions handled are remembered: the next run reads nothing.
    again = _ingest(duckdb_warehouse, sql, flows)
    assert (again.files_skipped_loaded, again.files) == (3, [])
    outcomes = _q(duckdb_warehouse, "SELECT outcome, COUNT(*) FROM LOAD_HISTORY GROUP BY 1")
    assert dict(outcomes) == {"loaded": 1, "duplicate": 4}


def test_two_new_files_of_equal_content_in_one_run_load_once(tmp_path, duckdb_warehouse, sql,
                                                             lines):
    flows = tmp_path / "flows"
    for name in ("x.csv", "y.csv", "z.csv"):
        _write(flows / name, lines[:10])
    report = _ingest(duckdb_warehouse, sql, flows, workers=2)
    assert (report.files_loaded, report.files_duplicate, report.rows_loaded) == (1, 2, 10)
    assert _flow_count(duckdb_warehouse) == 10


def test_a_rewritten_file_is_rejected_with_its_reason(tmp_path, duckdb_warehouse, sql, lines):
    flows = tmp_path / "flows"
    path = _write(flows / "a.csv", lines[:10])
    _ingest(duckdb_warehouse, sql, flows)
    with open(path, "a") as handle:  # appended lines
        handle.write("".join(line + "\n" for line in lines[10:20]))
    _write(flows / "b.csv", lines[20:25])
    report = _ingest(duckdb_warehouse, sql, flows)
    assert (report.files_loaded, report.files_rejected, report.rows_loaded) == (1, 1, 5)
    assert any(p.startswith("a.csv: rejected: content changed after it was loaded")
               for p in report.problems)
    assert _flow_count(duckdb_warehouse) == 15
    history = _q(duckdb_warehouse, "SELECT outcome, rowsLoaded, note FROM LOAD_HISTORY "
                                   "WHERE fileKey = 'a.csv' ORDER BY loadedAt")
    assert [h[:2] for h in history] == [("loaded", 10), ("rejected", 0)]
    assert "written once" in history[1][2]
    # Rewritten again, to other content: rejected again, still nothing duplicated.
    _write(path, lines[30:33])
    assert _ingest(duckdb_warehouse, sql, flows).files_rejected == 1
    assert _flow_count(duckdb_warehouse) == 15
    # Its content under a new name is new content: it loads.
    path.rename(flows / "a-fixed.csv")
    assert _ingest(duckdb_warehouse, sql, flows).rows_loaded == 3


# --- poison lines and entries ------------------------------------------------------------


def _poison_run(duckdb_warehouse, sql, flows, good_file_lines):
    report = _ingest(duckdb_warehouse, sql, flows)
    assert "good.csv" in {f.key for f in report.files if f.outcome == "loaded"}
    assert _q(duckdb_warehouse, "SELECT rowsLoaded FROM LOAD_HISTORY WHERE fileKey = 'good.csv'"
              ) == [(good_file_lines,)]
    return report


@pytest.mark.parametrize("last", [False, True], ids=["among-good-lines", "last-line"])
def test_a_line_longer_than_the_reader_buffer_is_rejected(tmp_path, duckdb_warehouse, sql,
                                                          lines, last):
    # 33 MiB: past DuckDB's CSV buffer (about 32 MB). Among good lines the parallel reader gave up
    # on the file; as the last line (with its newline) it dropped it without a word.
    flows = tmp_path / "flows"
    huge = _with(lines[5], LABELS, '{"app":"' + "x" * (33 * 2**20) + '"}')
    content = [*lines[:5], *lines[6:10], huge] if last else [*lines[:5], huge, *lines[6:10]]
    _write(flows / "poison.csv", content)
    _write(flows / "good.csv", lines[10:20])
    report = _poison_run(duckdb_warehouse, sql, flows, 10)
    assert (report.rows_loaded, report.rows_rejected) == (19, 1)
    [(key, number, reason)] = _rejects(duckdb_warehouse)
    assert (key, number) == ("poison.csv", 10 if last else 6)
    assert reason.startswith("line is 346") and "the limit is" in reason


def test_blank_lines_cost_the_fast_path_but_lose_nothing(tmp_path, duckdb_warehouse, sql, lines):
    # The fast path must account for every line; blank ones make it check line by line.
    flows = tmp_path / "flows"
    _write(flows / "gaps.csv", [*lines[:3], "", *lines[3:6], "", ""])
    report = _ingest(duckdb_warehouse, sql, flows)
    assert (report.rows_loaded, report.rows_rejected, report.files[0].path) == (6, 0, "checked")


def test_a_time_out_of_range_is_rejected_by_the_check(tmp_path, duckdb_warehouse, sql, lines):
    flows = tmp_path / "flows"
    start = LAYOUT.fields.index("flowStartSeconds")
    end = LAYOUT.fields.index("flowEndSeconds")
    bad = [_with(lines[3], start, "99999999999999"), _with(lines[4], end, "-1"),
           _with(lines[5], start, str(2**32))]
    _write(flows / "poison.csv", [*lines[:3], *bad, *lines[6:10]])
    _write(flows / "good.csv", lines[10:20])
    report = _poison_run(duckdb_warehouse, sql, flows, 10)
    assert (report.rows_loaded, report.rows_rejected) == (17, 3)
    reasons = [r[2] for r in _rejects(duckdb_warehouse)]
    assert reasons[0].startswith("flowStartSeconds is out of range: '99999999999999'")
    assert reasons[1].startswith("flowEndSeconds is out of range: '-1'")
    assert all("Unix seconds from 0 to 4294967295" in r for r in reasons)


def test_a_time_out_of_range_alone_is_refused_by_the_fast_path_too(tmp_path, duckdb_warehouse,
                                                                   sql, lines):
    # Below DuckDB's own limit, so only the loader's range stops it: both paths agree.
    flows = tmp_path / "flows"
    _write(flows / "later.csv", [*lines[:3], _with(lines[3], 0, str(2**32 + 5))])
    report = _ingest(duckdb_warehouse, sql, flows)
    assert (report.rows_loaded, report.rows_rejected, report.files[0].path) == (3, 1, "checked")


def test_bad_directory_entries_are_left_out_with_a_warning(tmp_path, duckdb_warehouse, sql,
                                                          lines, caplog):
    flows = tmp_path / "flows"
    _write(flows / "good.csv", lines[:10])
    os.symlink(flows / "nowhere.csv", flows / "dangling.csv")
    outside = _write(tmp_path / "elsewhere" / "outside.csv", lines[10:20])
    os.symlink(outside, flows / "escapes.csv")
    _write(flows / "target.csv", lines[20:25])
    os.symlink(flows / "target.csv", flows / "inside-link.csv")  # inside: the target's content
    os.mkfifo(flows / "pipe.csv")  # reading it would wait forever
    report = _poison_run(duckdb_warehouse, sql, flows, 10)
    assert report.entries_skipped == 3
    # Whichever of the two is read first loads; the other is its duplicate.
    assert sorted(f.outcome for f in report.files if f.key in ("target.csv", "inside-link.csv")
                  ) == ["duplicate", "loaded"]
    problems = " | ".join(report.problems)
    assert "dangling.csv: left out: a symlink to nothing" in problems
    assert "escapes.csv: left out: a symlink to" in problems and "outside the location" in problems
    assert "pipe.csv: left out: not a regular file" in problems
    assert "leaving out escapes.csv" in caplog.text
    assert _flow_count(duckdb_warehouse) == 15


def test_deep_label_json_beside_another_bad_line_is_rejected(tmp_path, duckdb_warehouse, sql,
                                                             lines):
    flows = tmp_path / "flows"
    deep = _with(lines[2], LABELS, '{"a":' * 5000 + '"x"' + "}" * 5000)
    other = _with(lines[3], LAYOUT.fields.index("destinationTransportPort"), "http")
    _write(flows / "poison.csv", [*lines[:2], deep, other, *lines[4:10]])
    _write(flows / "good.csv", lines[10:20])
    report = _poison_run(duckdb_warehouse, sql, flows, 10)
    assert (report.rows_loaded, report.rows_rejected) == (18, 2)
    reasons = [r[2] for r in _rejects(duckdb_warehouse)]
    assert reasons[0] == "sourcePodLabels nests too deeply (labels are a flat map of strings)"
    assert reasons[1].startswith("destinationTransportPort is not an integer")


LABEL_CASES = {
    "nested": '{"app":{"name":"web"}}',
    "number": '{"app":"web","replicas":3}',
    "boolean": '{"canary":true}',
    "null value": '{"app":null}',
    "array": '["app","web"]',
    "array value": '{"app":["web"]}',
    "string": '"app=web"',
}


@pytest.mark.parametrize("with_other_bad_line", [False, True], ids=["alone", "beside-bad"])
def test_labels_must_be_a_flat_string_map(tmp_path, duckdb_warehouse, sql, lines,
                                          with_other_bad_line):
    # Alone, the fast path must refuse them; beside a broken line, the line check must.
    flows = tmp_path / "flows"
    bad = [_with(lines[i], LABELS, v) for i, v in enumerate(LABEL_CASES.values())]
    fine = [_with(lines[10], LABELS, ""), _with(lines[11], LABELS, "null"),
            _with(lines[12], LABELS, "{}"),
            _with(lines[13], LABELS, '{"app.kubernetes.io/name":"web","tier":"a\\"b"}'),
            _with(lines[14], LABELS, '{ "app" : "web" }')]
    extra = [lines[20][:100]] if with_other_bad_line else []
    _write(flows / "labels.csv", [*bad, *fine, *extra])
    report = _ingest(duckdb_warehouse, sql, flows)
    assert report.rows_loaded == len(fine)
    assert report.rows_rejected == len(bad) + len(extra)
    reasons = [r[2] for r in _rejects(duckdb_warehouse)][: len(bad)]
    assert all(r.startswith("sourcePodLabels is not") for r in reasons), reasons
    assert reasons[0].endswith("flat map of strings to strings (Kubernetes labels)")
    assert reasons[4] == "sourcePodLabels is not a JSON object"


def test_one_huge_line_without_newline_is_rejected(tmp_path, duckdb_warehouse, sql, lines):
    # 40 MiB, past the reader's buffer (about 32 MB): DuckDB took it as 0 rows and no error.
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "huge.csv").write_bytes(b"x" * (40 * 2**20))
    _write(flows / "good.csv", lines[:10])
    report = _poison_run(duckdb_warehouse, sql, flows, 10)
    huge = next(f for f in report.files if f.key == "huge.csv")
    assert (huge.rows_loaded, huge.rows_rejected) == (0, 1)
    [(key, number, reason)] = _rejects(duckdb_warehouse)
    assert (key, number, reason) == ("huge.csv", 1,
                                     f"line is {40 * 2**20} bytes long, the limit is 2097151")
    assert any(p.startswith("huge.csv: 1 lines rejected") for p in report.problems)


def test_a_gzip_file_ending_in_a_huge_line_keeps_its_good_lines(tmp_path, duckdb_warehouse,
                                                                sql, lines):
    # Through gzip, after good lines: DuckDB dropped such a last line without a word.
    flows = tmp_path / "flows"
    flows.mkdir()
    data = "".join(line + "\n" for line in lines[:5]).encode() + b"y" * (33 * 2**20)
    (flows / "tail.csv.gz").write_bytes(gzip.compress(data, 1))
    report = _ingest(duckdb_warehouse, sql, flows)
    assert (report.rows_loaded, report.rows_rejected) == (5, 1)
    assert [r[1] for r in _rejects(duckdb_warehouse)] == [6]


def test_python_and_duckdb_agree_on_what_labels_are(duckdb_warehouse):
    from theia_sf.layouts import LABELS_PATTERN, labels_problem

    values = [*LABEL_CASES.values(), "{}", '{"a":"b"}', ' {"a" : "b" , "c":"d"} ', '{"a":"\\u00e9"}',
              '{"a":"\\x"}', '{"a":"b",}', '{"a":"b"', '{"a":"\u0001"}', '{"é":"ü"}', "{'a':'b'}",
              '{"a":"b"}{"c":"d"}', '{"a":"\\"}', '{"a":"\\\\"}', '{"a"}', "{,}"]
    with duckdb_warehouse.session() as s:
        engine = [s.con.execute("SELECT regexp_full_match($v, $p)", {"v": v, "p": LABELS_PATTERN}
                                ).fetchone()[0] for v in values]
    assert engine == [labels_problem(v) is None for v in values]
    assert engine.count(True) == 6


# --- the same through S3 ----------------------------------------------------------------


def test_s3_copies_and_rewrites_load_nothing_twice(tmp_path, duckdb_warehouse, sql, lines):
    import boto3
    from moto import mock_aws

    from theia_sf.objectstore import S3ObjectStore

    body = "".join(line + "\n" for line in lines[:10]).encode()
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="flows-bucket")
        s3.put_object(Bucket="flows-bucket", Key="flows/p-?.csv", Body=body)
        s3.put_object(Bucket="flows-bucket", Key="flows/p-a.csv",
                      Body="".join(line + "\n" for line in lines[10:20]).encode())
        store = S3ObjectStore(s3, "flows-bucket", "flows")
        first = ingest_flows(duckdb_warehouse, sql, store, now=NOW)
        assert {f.key: f.rows_loaded for f in first.files} == {"p-?.csv": 10, "p-a.csv": 10}
        s3.copy_object(Bucket="flows-bucket", Key="flows/renamed.csv",
                       CopySource={"Bucket": "flows-bucket", "Key": "flows/p-?.csv"})
        s3.put_object(Bucket="flows-bucket", Key="flows/p-a.csv", Body=body + body)  # rewritten
        second = ingest_flows(duckdb_warehouse, sql, store, now=NOW)
        assert {f.key: f.outcome for f in second.files} == {"renamed.csv": "duplicate",
                                                            "p-a.csv": "rejected"}
        assert ingest_flows(duckdb_warehouse, sql, store, now=NOW).files == []
    assert _flow_count(duckdb_warehouse) == 20


# --- what the loader guards itself -------------------------------------------------------


def test_a_file_that_changes_while_loading_is_left_for_the_next_run(tmp_path, duckdb_warehouse,
                                                                    sql, lines, monkeypatch):
    from theia_sf import ingest

    flows = tmp_path / "flows"
    path = _write(flows / "growing.csv", lines[:10])
    original = ingest.FlowLoader._insert

    def insert_then_append(self, session, reader, layout):
        rows = original(self, session, reader, layout)
        with open(path, "a") as handle:  # the writer is not done with the file yet
            handle.write(lines[10] + "\n")
        return rows

    monkeypatch.setattr(ingest.FlowLoader, "_insert", insert_then_append)
    report = _ingest(duckdb_warehouse, sql, flows)
    assert (report.files_loaded, report.files_deferred) == (0, 1)
    assert "growing.csv changed while it was being loaded" in report.problems[0]
    assert _flow_count(duckdb_warehouse) == 0
    monkeypatch.setattr(ingest.FlowLoader, "_insert", original)
    assert _ingest(duckdb_warehouse, sql, flows).rows_loaded == 11


def test_a_temporary_directory_with_a_glob_character_is_refused(tmp_path, duckdb_warehouse,
                                                                sql, lines, monkeypatch):
    import tempfile

    from theia_sf.errors import ConfigurationError

    odd = tmp_path / "tmp[1]"
    odd.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(odd))
    _write(tmp_path / "flows" / "a.csv", lines[:3])
    with pytest.raises(ConfigurationError, match=r"glob character.*TMPDIR"):
        _ingest(duckdb_warehouse, sql, tmp_path / "flows")
    assert _flow_count(duckdb_warehouse) == 0
