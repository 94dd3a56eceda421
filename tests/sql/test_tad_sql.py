"""Throughput series SQL on both paths (DuckDB transpiled, Snowflake dialect on fakesnow):
each aggregation, the window in every mode, the ignore list, the filters, time order."""

from __future__ import annotations

import datetime as dt

import pytest

from flowrows import flow_insert
from theia_sf.services.tad import from_epoch, iter_series, series_query
from theia_sf.tad.model import TadConfig
from theia_sf.timewindow import Window

UUID_A = "8f4c0c8e-2b1e-4a4f-9a57-6f2a7a4b9d10"
UUID_B = "11111111-2222-4333-8444-555555555555"
T0 = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
WINDOW = Window(T0, T0 + dt.timedelta(hours=1))
WEB_LABELS = '{"app":"web","pod-template-hash":"7c9f8b6d5"}'
DB_LABELS = '{"app":"db"}'


def at(minute, second=0):
    return T0 + dt.timedelta(minutes=minute, seconds=second)


def flow(end_minute, throughput, **cols):
    """A flow record ending at T0 + end_minute, started 30 s before (or at ``start``)."""
    end = at(end_minute)
    row = {
        "flowStartSeconds": cols.pop("start", end - dt.timedelta(seconds=30)),
        "flowEndSeconds": end,
        "sourceIP": "10.0.0.1",
        "sourceTransportPort": 40000,
        "destinationIP": "10.0.0.2",
        "destinationTransportPort": 80,
        "protocolIdentifier": 6,
        "sourcePodName": "client-6d4b75cb6d-x2x7k",
        "sourcePodNamespace": "shop",
        "sourcePodLabels": DB_LABELS,
        "destinationPodName": "web-7c9f8b6d5-b8c9d",
        "destinationPodNamespace": "shop",
        "destinationPodLabels": WEB_LABELS,
        "destinationServicePortName": "shop/web:http",
        "flowType": 1,
        "clusterUUID": UUID_A,
        "throughput": throughput,
    }
    row.update(cols)
    return row


@pytest.fixture(params=["duckdb", "fakesnow"])
def warehouse(request):
    return request.getfixturevalue(
        "duckdb_warehouse" if request.param == "duckdb" else "fakesnow_warehouse"
    )


def insert(warehouse, rows):
    with warehouse.session() as session:
        for row in rows:
            session.execute(flow_insert(row))


def series(warehouse, sql, window=WINDOW, **config):
    cfg = TadConfig(**config)
    with warehouse.session(read_only=True) as session:
        return list(iter_series(session, series_query(sql, cfg, window), cfg.agg_flow))


def keyed(found):
    return {
        tuple(v for v in s.key.values if v is not None): (
            [from_epoch(t).strftime("%M:%S") for t in s.times],
            list(s.values),
        )
        for s in found
    }


def test_per_connection_series_take_the_max_per_end_time_in_time_order(warehouse, sql):
    start = at(0)
    # Inserted out of time order; two records of one connection share an end time.
    insert(
        warehouse,
        [
            flow(3, 300, start=start),
            flow(1, 100, start=start),
            flow(2, 250, start=start),
            flow(2, 200, start=start),
            flow(2, 70, start=start, sourceTransportPort=40001),  # another connection
            flow(5, 900, start=at(4)),  # the same 5-tuple, a new flowStartSeconds
        ],
    )
    found = series(warehouse, sql)
    assert len(found) == 3
    first = next(s for s in found if s.key.as_dict()["flow_start"] == start and
                 s.key.as_dict()["source_port"] == 40000)  # fmt: skip
    assert [from_epoch(t).strftime("%M") for t in first.times] == ["01", "02", "03"]
    assert first.values == (100.0, 250.0, 300.0)
    assert first.stddev == pytest.approx(104.0833, rel=1e-5)
    assert first.key.as_dict()["destination_ip"] == "10.0.0.2"
    assert first.key.as_dict()["protocol"] == 6
    single = next(s for s in found if s.key.as_dict()["source_port"] == 40001)
    assert single.values == (70.0,) and single.stddev is None  # one point: no deviation


def test_window_applies_in_every_mode(warehouse, sql):
    inside = flow(10, 100, flowType=3)
    before = flow(10, 5, flowType=3, start=T0 - dt.timedelta(seconds=1))  # starts too early
    after = flow(70, 5, flowType=3)  # ends after the window
    insert(warehouse, [inside, before, after])
    for agg_flow in ("none", "external", "svc", "pod"):
        found = series(warehouse, sql, agg_flow=agg_flow)
        totals = sorted(v for s in found for v in s.values)
        # pod: the flow is inbound for web and outbound for client (standard Theia ignored
        # the window in pod mode).
        assert totals == ([100.0, 100.0] if agg_flow == "pod" else [100.0]), agg_flow


def test_external_sums_flows_to_each_destination_ip_and_filters_flow_type(warehouse, sql):
    ext = {"flowType": 3, "destinationPodName": None, "destinationPodNamespace": None}
    insert(
        warehouse,
        [
            flow(1, 100, destinationIP="203.0.113.9", **ext),
            flow(1, 50, destinationIP="203.0.113.9", sourceIP="10.0.0.7", **ext),
            flow(2, 30, destinationIP="203.0.113.9", **ext),
            flow(1, 999, destinationIP="198.51.100.1", **ext),
            flow(1, 777, destinationIP="203.0.113.9"),  # flowType 1: not external
        ],
    )
    assert keyed(series(warehouse, sql, agg_flow="external")) == {
        ("198.51.100.1",): (["01:00"], [999.0]),
        ("203.0.113.9",): (["01:00", "02:00"], [150.0, 30.0]),
    }
    one = series(warehouse, sql, agg_flow="external", external_ip="198.51.100.1")
    assert keyed(one) == {("198.51.100.1",): (["01:00"], [999.0])}


def test_svc_sums_per_service_port_and_skips_flows_without_one(warehouse, sql):
    insert(
        warehouse,
        [
            flow(1, 10),
            flow(1, 20, sourceIP="10.0.0.9"),
            flow(2, 5, destinationServicePortName="shop/db:sql"),
            flow(2, 1000, destinationServicePortName=None),
            flow(2, 1000, destinationServicePortName=""),
        ],
    )
    assert keyed(series(warehouse, sql, agg_flow="svc")) == {
        ("shop/db:sql",): (["02:00"], [5.0]),
        ("shop/web:http",): (["01:00"], [30.0]),
    }
    only = series(warehouse, sql, agg_flow="svc", svc_port_name="shop/db:sql")
    assert list(keyed(only)) == [("shop/db:sql",)]


def test_pod_series_inbound_and_outbound_by_labels_or_name(warehouse, sql):
    insert(
        warehouse,
        [
            flow(1, 10),
            flow(1, 5, sourceIP="10.0.0.3", sourcePodName="client-2"),
            flow(2, 7, sourcePodLabels=None),  # no labels on the client side: not outbound
            flow(3, 9, destinationPodLabels="", destinationPodName="other-0"),
        ],
    )
    got = keyed(series(warehouse, sql, agg_flow="pod"))
    assert got == {
        ("shop", WEB_LABELS, "inbound"): (["01:00", "02:00"], [15.0, 7.0]),
        ("shop", DB_LABELS, "outbound"): (["01:00", "03:00"], [15.0, 9.0]),
    }
    # A label filter: case-insensitive substring of the labels text, both sides.
    web = keyed(series(warehouse, sql, agg_flow="pod", pod_label='"APP":"WEB"'))
    assert list(web) == [("shop", WEB_LABELS, "inbound")]
    # A pod name filter keys series by name.
    by_name = keyed(series(warehouse, sql, agg_flow="pod", pod_name="client-2"))
    assert by_name == {("shop", "client-2", "outbound"): (["01:00"], [5.0])}
    other_ns = series(warehouse, sql, agg_flow="pod", pod_name="client-2", pod_namespace="prod")
    assert other_ns == []


def test_namespace_ignore_list_and_cluster_filter(warehouse, sql):
    insert(
        warehouse,
        [
            flow(1, 10),
            flow(1, 20, sourcePodNamespace="kube-system", sourceIP="10.0.9.9"),
            flow(1, 40, destinationPodNamespace="flow-visibility", destinationIP="10.0.9.8"),
            flow(1, 80, sourcePodNamespace=None, sourcePodName=None, sourceIP="192.0.2.1"),
            flow(1, 160, clusterUUID=UUID_B, sourceIP="10.0.0.5"),
        ],
    )
    every = series(warehouse, sql, agg_flow="svc")
    assert [s.values for s in every] == [(310.0,)]
    kept = series(warehouse, sql, agg_flow="svc", ns_ignore_list=["kube-system", "flow-visibility"])
    # A flow with no source namespace (from outside the cluster) is not ignored.
    assert [s.values for s in kept] == [(250.0,)]
    cluster = series(
        warehouse, sql, agg_flow="svc", cluster_uuid=UUID_A, ns_ignore_list=["kube-system"]
    )
    assert [s.values for s in cluster] == [(130.0,)]


def test_filter_values_are_bound_never_spliced(warehouse, sql):
    insert(warehouse, [flow(1, 10)])
    hostile = "x') OR 1=1; DROP TABLE FLOWS; --"
    assert series(warehouse, sql, agg_flow="pod", pod_label=hostile) == []
    assert len(series(warehouse, sql)) == 1
