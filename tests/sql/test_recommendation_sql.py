"""sql/recommendation/*.sql on both paths: DuckDB (transpiled) and Snowflake (fakesnow).

The same flows go into both engines; the reduction must return the same tuples and the
whole service must persist the same policies.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from flowrows import TRICKY_LABEL_TEXTS, flow_insert, insert_flows_in_one_transaction
from theia_sf.recommendation.model import DEFAULT_LABEL_IGNORE_LIST, Options
from theia_sf.recommendation.parameters import RecommendationRequest
from theia_sf.recommendation.reduction import fetch_tuples, reduction_query
from theia_sf.recommendation.report import rule_evidence
from theia_sf.recommendation.runs import load_run
from theia_sf.services.recommendation import run_policy_recommendation
from theia_sf.sql import Query
from theia_sf.timewindow import Window

pytestmark = pytest.mark.integration

WINDOW = Window(dt.datetime(2024, 5, 1, tzinfo=dt.UTC), dt.datetime(2024, 5, 2, tzinfo=dt.UTC))
C1 = "8f4c0c8e-2b1e-4a4f-9a57-6f2a7a4b9d10"
T0 = dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)
WEB = '{"app":"web","pod-template-hash":"abc12"}'

FLOWS = [
    # (src ns, src labels, src ip, dst ip, dst ns, dst labels, svc, port, proto, type, cluster, policy)
    ("shop", WEB, "10.0.1.5", "10.0.0.7", "shop", '{"app":"db"}', None, 5432, 6, 1, C1, None),
    ("shop", WEB, "10.0.1.5", "10.0.0.7", "shop", '{"app":"db"}', None, 5432, 6, 1, C1, None),
    ("shop", WEB, "10.0.1.6", "10.96.0.10", "kube-system", '{"k8s-app":"kube-dns"}',
     "kube-system/kube-dns:dns", 53, 17, 2, C1, None),
    ("shop", WEB, "10.0.1.5", "93.184.216.34", None, "", None, 443, 6, 3, C1, None),
    (None, "", "203.0.113.7", "10.0.1.5", "shop", WEB, None, 8080, 6, 4, C1, None),
    ("shop", "null", "10.0.1.9", "10.0.0.7", "shop", '{"app":"db"}', None, 5432, 132, 1, C1, None),
    ("shop", WEB, "10.0.1.5", "10.0.0.8", "shop", '{"app":"cache"}', None, 6379, 6, 1, None, None),
    ("shop", WEB, "10.0.1.5", "10.0.0.9", "shop", '{"app":"x"}', None, 80, 6, 1, C1, "np"),
]  # fmt: skip
COLUMNS = (
    "sourcePodNamespace", "sourcePodLabels", "sourceIP", "destinationIP",
    "destinationPodNamespace", "destinationPodLabels", "destinationServicePortName",
    "destinationTransportPort", "protocolIdentifier", "flowType", "clusterUUID",
    "ingressNetworkPolicyName",
)  # fmt: skip


def insert(warehouse):
    columns = (*COLUMNS, "flowStartSeconds", "flowEndSeconds", "octetDeltaCount")
    with warehouse.session() as session:
        for n, row in enumerate(FLOWS):
            values = (*row, T0 + dt.timedelta(minutes=n), T0 + dt.timedelta(minutes=n + 1), 100)
            session.execute(flow_insert(dict(zip(columns, values, strict=True))))


def normal(rows):
    def value(v):
        if isinstance(v, Decimal | float):
            return int(v)
        return v

    return sorted((tuple(value(v) for v in r) for r in rows), key=repr)


@pytest.fixture
def both(duckdb_warehouse, fakesnow_warehouse):
    insert(duckdb_warehouse)
    insert(fakesnow_warehouse)
    return duckdb_warehouse, fakesnow_warehouse


@pytest.mark.parametrize(
    ("cluster", "limit", "expected"),
    [(None, 0, 6), (C1, 0, 5), (None, 2, 2)],
)
def test_reduction_gives_the_same_tuples_on_both_engines(both, sql, cluster, limit, expected):
    answers = []
    for warehouse in both:
        with warehouse.session() as session:
            answers.append(normal(fetch_tuples(session, sql, WINDOW, cluster, limit)))
    assert answers[0] == answers[1]
    assert len(answers[0]) == expected
    if not limit:
        db = [r for r in answers[0] if r[8] == 6 and r[4] == "shop" and r[5] == '{"app":"db"}']
        assert [(r[10], r[11]) for r in db] == [(2, 200)]  # two records merged: count and bytes
        assert db[0][12] == int(T0.timestamp())  # first seen, Unix seconds
        assert db[0][13] == int((T0 + dt.timedelta(minutes=2)).timestamp())
        ext_in = [r for r in answers[0] if r[9] == 4]
        assert ext_in[0][2] == "203.0.113.7"  # from-external keeps the source IP
        assert all(r[3] is None for r in answers[0] if r[9] in (1, 2))  # pod IPs dropped


def test_ignored_labels_are_dropped_alike_on_both_engines(
    duckdb_warehouse, fakesnow_warehouse, sql
):
    # The rewrite's regular expressions run on RE2 (DuckDB) and Snowflake's engine: the same
    # texts must come out of both, for every edge case of the rewrite.
    rows = [
        {"sourcePodNamespace": "shop", "sourcePodLabels": text, "destinationPodNamespace":
         "shop", "destinationPodLabels": TRICKY_LABEL_TEXTS[-1 - n], "destinationTransportPort":
         80, "protocolIdentifier": 6, "flowType": 1, "octetDeltaCount": n,
         "flowStartSeconds": T0, "flowEndSeconds": T0 + dt.timedelta(seconds=n)}
        for n, text in enumerate(TRICKY_LABEL_TEXTS)
    ]  # fmt: skip
    answers = []
    for warehouse in (duckdb_warehouse, fakesnow_warehouse):
        insert_flows_in_one_transaction(warehouse, rows)
        with warehouse.session() as session:
            answers.append(
                normal(fetch_tuples(session, sql, WINDOW, None, 0, DEFAULT_LABEL_IGNORE_LIST))
            )
    assert answers[0] == answers[1]
    texts = {r[1] for r in answers[0]} | {r[5] for r in answers[0]}
    assert {'{"app":"web"}', '{"app":"web","tier":"db"}', "{}"} <= texts
    assert '{"app":"web","pod-template-hash":"-bad"}' in texts  # not a valid value: untouched
    assert len(answers[0]) < len(rows)


def test_limit_keeps_the_busiest_tuples(both, sql):
    with both[0].session() as session:
        top = fetch_tuples(session, sql, WINDOW, None, 1)
    assert top[0][10] == 2


def normal_evidence(found):
    """Evidence with times as whole seconds of UTC (engines return them in their own types)."""
    out = {}
    for key, rules in found.items():
        out[key] = [
            {**r, "peers": [{**p, "first_seen": dt.datetime.fromisoformat(p["first_seen"]).timestamp(),
                             "last_seen": dt.datetime.fromisoformat(p["last_seen"]).timestamp()}
                            for p in r["peers"]]}
            for r in rules
        ]  # fmt: skip
    return out


def test_service_persists_the_same_policies_on_both_engines(both, sql):
    results = []
    for warehouse in both:
        summary = run_policy_recommendation(
            warehouse,
            sql,
            RecommendationRequest(window=WINDOW, options=Options.create()),
            run_id=None,
        )
        with warehouse.session() as session:
            run = load_run(session, sql, summary.run_id)
            _, rows = session.fetch_rows(
                sql.render(
                    "recommendation/select_run_policies.sql", binds={"run_id": summary.run_id}
                )
            )
        results.append((summary, run, [tuple(r[1:]) for r in rows]))
    (duck, duck_run, duck_rows), (snow, snow_run, snow_rows) = results
    assert duck_rows == snow_rows
    # The evidence, summed by each warehouse from its own copy of the run's tuples.
    evidence = []
    for warehouse, summary in zip(both, (duck, snow), strict=True):
        with warehouse.session() as session:
            found = rule_evidence(session, sql, summary.run_id)
            busiest = rule_evidence(session, sql, summary.run_id, top=1)
        evidence.append(found)
        assert busiest.keys() == found.keys()
        for key, rules in busiest.items():  # the report's form: the busiest peer of each rule
            assert [r["peers"] for r in rules] == [r["peers"][:1] for r in found[key]]
        assert found and all(p["flow_count"] > 0 for rules in found.values()
                             for r in rules for p in r["peers"])  # fmt: skip
    assert normal_evidence(evidence[0]) == normal_evidence(evidence[1])
    assert duck.policy_count == snow.policy_count == len(duck_rows)
    assert duck_run["skipped_flows"] == snow_run["skipped_flows"]
    assert snow_run["engine"] == "snowflake"
    assert snow_run["status"] == "succeeded"
    assert json.loads(json.dumps(snow_run["parameters"]))["policy_type"] == "anp-deny-applied"

    # A second run on Snowflake finds the first as its previous run; nothing changed.
    again = run_policy_recommendation(
        both[1], sql, RecommendationRequest(window=WINDOW, options=Options.create())
    )
    assert again.diff["previous_run_id"] == snow.run_id
    assert again.diff["changed"] == []


@pytest.mark.parametrize("size", [1, 2, 5, 1000])
@pytest.mark.parametrize("ignore", [(), DEFAULT_LABEL_IGNORE_LIST])
def test_reduction_read_in_batches_gives_the_same_rows_on_both_engines(both, sql, size, ignore):
    # The service streams the reduction through Session.fetch_batches: batches of at most
    # `size` rows that add up to what fetch_rows returns at once, on both adapters.
    query = reduction_query(sql, WINDOW, None, 0, ignore)
    for warehouse in both:
        with warehouse.session() as session:
            columns, rows = session.fetch_rows(query)
            batch_columns, batches = session.fetch_batches(query, size)
            batches = list(batches)
        assert batch_columns == columns
        assert all(0 < len(b) <= size for b in batches)
        assert normal(r for b in batches for r in b) == normal(rows)
        assert len(rows) == 6


def test_storing_session_on_duckdb_bounds_memory_and_compresses_with_zstd(duckdb_warehouse):
    from theia_sf.adapters.duckdb import BULK_TEXT_MEMORY, memory_bytes

    setting = Query("s", "SELECT current_setting('memory_limit') AS m")
    with duckdb_warehouse.session() as session:
        usual = session.fetch(setting)[0]["m"]
    with duckdb_warehouse.session(bulk_text=True) as session:
        bounded = session.fetch(setting)[0]["m"]
        compression = session.fetch(Query("c", "SELECT current_setting('force_compression') AS c"))[
            0
        ]["c"]
    assert compression.lower() == "zstd"
    # DuckDB reports limits in its own units (e.g. "244.1 MiB"): compare byte counts.
    assert memory_bytes(bounded.replace(" ", "")) < memory_bytes(usual.replace(" ", ""))
    assert memory_bytes(bounded.replace(" ", "")) <= memory_bytes(BULK_TEXT_MEMORY) * 1.01


def test_streaming_session_on_duckdb_keeps_a_small_working_memory(tmp_path):
    from theia_sf.adapters.duckdb import STREAMING_MEMORY, DuckDBWarehouse, memory_bytes

    setting = Query("s", "SELECT current_setting('memory_limit') AS m")
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb", memory_limit="2GB")
    with warehouse.session(streaming=True) as session:
        bounded = session.fetch(setting)[0]["m"]
    assert memory_bytes(bounded.replace(" ", "")) <= memory_bytes(STREAMING_MEMORY) * 1.01
    assert memory_bytes(bounded.replace(" ", "")) >= memory_bytes(STREAMING_MEMORY) * 0.9
    # A warehouse configured below that budget keeps its own limit.
    small = DuckDBWarehouse(tmp_path / "s.duckdb", memory_limit="100MB")
    with small.session(streaming=True) as session:
        kept = session.fetch(setting)[0]["m"]
    assert memory_bytes(kept.replace(" ", "")) <= memory_bytes("100MB") * 1.01


def test_memory_limits_parse():
    from theia_sf.adapters.duckdb import memory_bytes

    assert memory_bytes("2GB") == 2e9
    assert memory_bytes("512 MiB") == 512 * 2**20
    assert memory_bytes("1.5GiB") == 1.5 * 2**30
    with pytest.raises(ValueError, match="memory limit"):
        memory_bytes("lots")


@pytest.mark.parametrize("count", [0, 1, 50, 51, 103])
def test_insert_rows_stores_every_row_once_on_both_engines(both, sql, count, monkeypatch):
    # Session.insert_rows runs the one-row INSERT file for many rows: shared binds come from
    # the query, the others from each row; batches of 50 rows on both adapters here.
    from theia_sf.adapters import duckdb as duckdb_adapter

    monkeypatch.setattr(duckdb_adapter, "COLUMNS_BATCH", 50)
    query = sql.render(
        "recommendation/insert_staged_policy.sql",
        binds={"run_id": "run-x", "kind": "NetworkPolicy", "shard": 0},
        row_binds=("order_group", "order_namespace", "order_labels", "order_index",
                   "api_version", "namespace", "name", "yaml", "yaml_sha256", "rule_count"),
    )  # fmt: skip
    rows = [
        {"order_group": 1, "order_namespace": f"ns-{n}", "order_labels": "app\x01x\x02",
         "order_index": n, "api_version": "v1", "namespace": None if n % 7 else f"ns-{n}",
         "name": f"p-{n}", "yaml": f"spec: {n}\n" * (n % 5), "yaml_sha256": str(n),
         "rule_count": 2**31 + n if n % 2 else n}
        for n in range(count)
    ]  # fmt: skip
    read = Query(
        "r",
        "SELECT orderIndex, kind, namespace, name, yaml, ruleCount, orderLabels "
        "FROM RECOMMENDATION_STAGED_POLICIES WHERE runId = :run_id ORDER BY orderIndex",
        {"run_id": "run-x"},
    )
    stored = []
    for warehouse in both:
        with warehouse.session() as session:
            assert session.insert_rows(query, iter(rows)) == count
            stored.append(normal(session.fetch_rows(read)[1]))
    expected = [
        (r["order_index"], "NetworkPolicy", r["namespace"], r["name"], r["yaml"],
         r["rule_count"], r["order_labels"]) for r in rows
    ]  # fmt: skip
    for found in stored:  # (normal() sorts rows by their text)
        assert found == normal(expected)


@pytest.mark.parametrize("count", [0, 1, 50, 51, 103])
def test_insert_columns_stores_every_row_once_on_both_engines(both, sql, count, monkeypatch):
    # Session.insert_columns: the same one-row INSERT file, each row bind given as a column
    # (lists, or arrays of numbers as the builder keeps them); shared binds from the query.
    from array import array

    from theia_sf.adapters import duckdb as duckdb_adapter

    monkeypatch.setattr(duckdb_adapter, "COLUMNS_BATCH", 50)
    query = sql.render(
        "recommendation/insert_tuple_cells.sql",
        binds={"run_id": "run-c", "shard": 3},
        row_binds=("tuple_id", "egress_cell", "ingress_cell"),
    )
    columns = {
        "tuple_id": array("q", range(count)),
        "egress_cell": array("q", (-1 if n % 3 == 0 else 2**40 + n for n in range(count))),
        "ingress_cell": [-1 if n % 4 == 1 else n for n in range(count)],
    }
    read = Query(
        "r",
        "SELECT shard, tupleId, egressCell, ingressCell FROM RECOMMENDATION_TUPLE_CELLS "
        "WHERE runId = :run_id ORDER BY tupleId",
        {"run_id": "run-c"},
    )
    expected = [
        (3, n, None if n % 3 == 0 else 2**40 + n, None if n % 4 == 1 else n) for n in range(count)
    ]
    for warehouse in both:
        with warehouse.session() as session:
            assert session.insert_columns(query, columns) == count
            assert normal(session.fetch_rows(read)[1]) == normal(expected)
            with pytest.raises(ValueError, match="different lengths"):
                session.insert_columns(query, {**columns, "tuple_id": [1] * (count + 1)})
            with pytest.raises(KeyError, match="no value for :"):
                session.insert_columns(query, {"tuple_id": [1]})


REFUSED_INSERTS = [
    ("INSERT INTO T (a) VALUES (:a), (:b)", "one row"),
    ("INSERT INTO T (a) VALUES (:a) RETURNING :b", "all of them in the VALUES row"),
    ("INSERT INTO T (a, b) VALUES (?, :b)", "named binds"),
    ("INSERT INTO T (a) VALUES ('constant')", "named binds"),
    ("INSERT INTO T (a) SELECT :a", "one row"),
    ("UPDATE T SET a = :a", "one row"),
]


def test_insert_rows_refuses_what_it_cannot_repeat(both, sql):
    from theia_sf.adapters.duckdb import columns_template

    for text, reason in REFUSED_INSERTS:
        with pytest.raises(ValueError, match=reason):
            columns_template(text)
    # Each bind is a column of values; expressions around binds stay in the row.
    text, names = columns_template("INSERT INTO T (a, b) VALUES (:a, UPPER(:b))")
    assert text == (
        "INSERT INTO T (a, b) SELECT _b0, UPPER(_b1) "
        "FROM (SELECT UNNEST(?) AS _b0, UNNEST(?) AS _b1)"
    )
    assert names == ("a", "b")
    with pytest.raises(KeyError, match="unbound placeholders"):
        sql.render("recommendation/insert_staged_policy.sql", binds={"run_id": "r"})
    query = sql.render(
        "recommendation/insert_staged_policy.sql", binds={"run_id": "r", "shard": 0},
        row_binds=("order_group", "order_namespace", "order_labels", "order_index", "kind",
                   "api_version", "namespace", "name", "yaml", "yaml_sha256", "rule_count"),
    )  # fmt: skip
    for warehouse in both:
        with warehouse.session() as session, pytest.raises(KeyError, match="no value for :"):
            session.insert_rows(query, [{"order_group": 1}])
