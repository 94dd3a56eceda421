"""A recommendation run split over worker processes stores exactly what one process stores."""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing
import os
import random
import shutil

import pytest

from flowrows import insert_flows_in_one_transaction, migrated_duckdb_file
from theia_sf.adapters.duckdb import DuckDBWarehouse
from theia_sf.recommendation.model import Options
from theia_sf.services import recommendation as service
from theia_sf.services.recommendation import load_run, run_policy_recommendation
from theia_sf.sql import Query
from theia_sf.timewindow import Window

pytestmark = pytest.mark.integration

WINDOW = Window(dt.datetime(2024, 5, 1, tzinfo=dt.UTC), dt.datetime(2024, 5, 2, tzinfo=dt.UTC))
RUN_ID = "33333333-3333-3333-3333-333333333333"
NAMESPACES = [f"team-{i}" for i in range(9)] + ["kube-system", "", None, "Bad_NS"]


def _labels(rnd: random.Random) -> str | None:
    roll = rnd.random()
    if roll < 0.05:
        return rnd.choice([None, "", "{}", "null", "{not json"])
    app = f"app-{rnd.randrange(6)}"
    return json.dumps({"app": app, "pod-template-hash": f"h{rnd.randrange(3)}"})


def _flows(count: int) -> list[dict]:
    """Random flows over several namespaces, with the odd values the builder skips or counts."""
    rnd = random.Random(20240501)
    rows = []
    for i in range(count):
        flow_type = rnd.choice([1, 1, 2, 2, 3, 4])
        src_ns = rnd.choice(NAMESPACES)
        dst_ns = rnd.choice(NAMESPACES)
        row = {
            "flowStartSeconds": WINDOW.start + dt.timedelta(seconds=i),
            "flowEndSeconds": WINDOW.start + dt.timedelta(seconds=60 + i),
            "sourcePodNamespace": src_ns if flow_type != 4 else None,
            "sourcePodLabels": _labels(rnd) if flow_type != 4 else None,
            "sourceIP": rnd.choice(["198.51.100.7", "2001:db8::9", "not-an-ip", "10.0.0.1"]),
            "destinationIP": rnd.choice(["203.0.113.5", "203.0.113.6", "2001:db8::1", "10.1.0.2"]),
            "destinationPodNamespace": dst_ns if flow_type != 3 else None,
            "destinationPodLabels": _labels(rnd) if flow_type != 3 else None,
            "destinationTransportPort": rnd.choice([53, 80, 443, 5432, 0]),
            "protocolIdentifier": rnd.choice([6, 6, 17, 132, 1]),
            "flowType": flow_type,
            "octetDeltaCount": rnd.randrange(10_000),
            "reverseOctetDeltaCount": rnd.randrange(10_000),
        }
        if flow_type == 2 and rnd.random() < 0.3 and dst_ns:
            row["destinationServicePortName"] = f"{dst_ns}/svc-{rnd.randrange(3)}:http"
        rows.append(row)
    return rows


FLOWS = _flows(700)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, sql):
    """A DuckDB file holding FLOWS (copied for each run: every run writes its results)."""
    path = tmp_path_factory.mktemp("partitions") / "flows.duckdb"
    insert_flows_in_one_transaction(migrated_duckdb_file(path, sql), FLOWS)
    return path


def _run(tmp_path, sql, loaded, workers: int, policy_type: str):
    path = tmp_path / f"{policy_type}-{workers}.duckdb"
    shutil.copyfile(loaded, path)
    warehouse = DuckDBWarehouse(path, lock_timeout=60)
    summary = run_policy_recommendation(
        warehouse, sql, window=WINDOW, options=Options.create(policy_type=policy_type),
        run_id=RUN_ID, workers=workers,
    )  # fmt: skip
    with warehouse.session() as session:
        _, stored = session.fetch_rows(
            Query(
                "stored",
                "SELECT position, kind, apiVersion, namespace, name, yaml, yamlSha256, ruleCount, "
                "flowCount, bytes, firstSeen, lastSeen, evidence FROM RECOMMENDED_POLICIES "
                "WHERE runId = :run_id ORDER BY position",
                {"run_id": RUN_ID},
            )
        )
        run = load_run(session, sql, RUN_ID)
    record = {k: run[k] for k in ("status", "tuple_count", "flow_count", "policy_count",
                                  "skipped_tuples", "skipped_flows", "warnings")}  # fmt: skip
    return summary, stored, record


@pytest.mark.parametrize("policy_type", ["anp-deny-applied", "anp-deny-all", "k8s-np"])
def test_partitioned_runs_store_what_one_process_stores(
    tmp_path, sql, loaded, policy_type, caplog
):
    caplog.set_level(logging.INFO, logger=service.__name__)
    one, stored_one, record_one = _run(tmp_path, sql, loaded, 1, policy_type)
    # The flows make a run worth splitting: several namespaces, skips and warnings.
    assert len({row[3] for row in stored_one}) >= 8
    assert sum(v["tuples"] for v in one.skipped.values()) > 0 and one.warnings
    for workers in (2, 3):
        summary, stored, record = _run(tmp_path, sql, loaded, workers, policy_type)
        assert f"in {workers} partitions" in caplog.text
        assert stored == stored_one
        assert record == record_one
        assert summary.tuple_count == one.tuple_count == record_one["tuple_count"]
        assert summary.skipped == one.skipped
        assert summary.warnings == one.warnings
    assert multiprocessing.active_children() == []


def test_a_failing_worker_fails_the_run_and_leaves_no_process(tmp_path, sql, loaded, monkeypatch):
    parent = os.getpid()
    real = service._make_and_check

    def fails_in_a_worker(collected, spool):
        if os.getpid() != parent:
            raise MemoryError("worker ran out of memory")
        return real(collected, spool)

    monkeypatch.setattr(service, "_make_and_check", fails_in_a_worker)
    shutil.copyfile(loaded, tmp_path / "failing.duckdb")
    duckdb_warehouse = DuckDBWarehouse(tmp_path / "failing.duckdb", lock_timeout=60)
    run_id = "44444444-4444-4444-4444-444444444444"
    with pytest.raises(RuntimeError, match="partition 1 failed") as raised:
        run_policy_recommendation(
            duckdb_warehouse, sql, window=WINDOW, options=Options.create(), run_id=run_id,
            workers=2,
        )  # fmt: skip
    assert "MemoryError: worker ran out of memory" in str(raised.value)
    assert multiprocessing.active_children() == []
    with duckdb_warehouse.session() as session:
        run = load_run(session, sql, run_id)
    assert run["status"] == "failed"
    assert "worker ran out of memory" in run["error"]


def test_workers_must_be_a_positive_integer(duckdb_warehouse, sql):
    from theia_sf.errors import ConfigurationError

    for bad in (0, -1, True, "2"):
        with pytest.raises(ConfigurationError, match="workers"):
            run_policy_recommendation(
                duckdb_warehouse, sql, window=WINDOW, options=Options.create(), workers=bad
            )


class _Function:
    """A C function as ctypes shows it: settable ``argtypes``, calls recorded."""

    def __init__(self) -> None:
        self.argtypes: list[object] = []
        self.calls: list[tuple[object, ...]] = []

    def __call__(self, *args: object) -> int:
        self.calls.append(args)
        return 1


class _Libc:
    """A C library with or without ``malloc_trim`` (musl has none)."""

    def __init__(self, with_trim: bool) -> None:
        self.trims = _Function()
        if with_trim:
            self.malloc_trim = self.trims


@pytest.mark.parametrize("with_trim", [True, False])
def test_the_parent_trims_the_heap_before_storing_where_the_libc_can(
    tmp_path, sql, loaded, monkeypatch, with_trim
):
    libc = _Libc(with_trim)
    monkeypatch.setattr(service.ctypes, "CDLL", lambda name, **kwargs: libc)
    summary, stored, record = _run(tmp_path, sql, loaded, 2, "anp-deny-applied")
    assert record["status"] == "succeeded" and len(stored) == summary.policy_count > 0
    # Once, in this process (a worker's calls would not show here), between making and storing.
    assert libc.trims.calls == ([(0,)] if with_trim else [])


def _sleeping_worker(report):
    service._end_with_parent()
    report.send(os.getpid())
    import time

    time.sleep(60)


def _forking_parent(report):
    context = multiprocessing.get_context("fork")
    context.Process(target=_sleeping_worker, args=(report,)).start()
    import time

    time.sleep(60)


def _gone(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            return any(line.startswith("State:") and "Z" in line for line in status)
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_a_worker_stops_when_the_process_that_forked_it_is_killed():
    import signal
    import time

    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    parent = context.Process(target=_forking_parent, args=(theirs,))
    parent.start()
    assert ours.poll(30)
    worker = ours.recv()
    assert not _gone(worker)
    os.kill(parent.pid, signal.SIGKILL)  # as a task runner's hard kill would
    parent.join()
    deadline = time.monotonic() + 10
    while not _gone(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(worker)


def test_a_worker_that_cannot_start_stops_the_others(tmp_path, sql, loaded, monkeypatch):
    from multiprocessing.context import ForkProcess

    real_start = ForkProcess.start
    started = []

    def start_twice(self):
        if started:
            raise OSError("Cannot allocate memory")
        started.append(self)
        real_start(self)

    monkeypatch.setattr(ForkProcess, "start", start_twice)
    shutil.copyfile(loaded, tmp_path / "no-fork.duckdb")
    warehouse = DuckDBWarehouse(tmp_path / "no-fork.duckdb", lock_timeout=60)
    with pytest.raises(OSError, match="Cannot allocate memory"):
        run_policy_recommendation(
            warehouse, sql, window=WINDOW, options=Options.create(), workers=3
        )
    assert len(started) == 1 and not started[0].is_alive()
    assert multiprocessing.active_children() == []


def test_router_sends_each_tuple_to_the_owners_of_its_namespaces():
    router = service._Router(2)
    rows = [(f"ns-{i % 10}", None, None, None, f"ns-{(i * 3) % 10}", *[None] * 9)
            for i in range(1000)]  # fmt: skip
    rows += [(None, None, None, None, None, *[None] * 9), ("", None, None, None, "x", *[None] * 9)]
    parts, placed = router.split(rows)
    assert set(placed) == {f"ns-{i}" for i in range(10)} | {"x"}
    owners = router.owners
    for part, routed in enumerate(parts):
        expected = [r for r in rows
                    if part in {owners.get(r[0] or ""), owners.get(r[4] or "")}
                    or (part == 0 and not r[0] and not r[4])]  # fmt: skip
        assert routed == expected
    # Equal namespaces (by tuple ends in the first batch) are split evenly.
    counts = [list(owners.values()).count(p) for p in (0, 1)]
    assert abs(counts[0] - counts[1]) <= 1
    # A namespace first seen later goes to the partition with less work, and is sent once.
    loads = list(router.loads)
    later, placed = router.split([("new-ns", *[None] * 13)])
    assert placed == {"new-ns": loads.index(min(loads))} == {"new-ns": owners["new-ns"]}
    assert later[owners["new-ns"]] == [("new-ns", *[None] * 13)]
    assert router.split([("new-ns", *[None] * 13)])[1] == {}
