"""Ignored labels dropped in the warehouse give the builder exactly what it would make itself.

The reduction rewrites label texts it can parse exactly (``label_strip_patterns``) so that
tuples differing only in ignored labels arrive as one. Whatever the label texts, the
policies, evidence, self-check flows, skipped flows and warnings must be those of the
unrewritten tuples; only the number of distinct tuples may fall.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowrows import TRICKY_LABEL_TEXTS, flow_insert, migrated_duckdb_file
from theia_sf.recommendation.building import build_recommendation, label_strip_patterns
from theia_sf.recommendation.model import Options
from theia_sf.recommendation.reduction import fetch_tuples
from theia_sf.sql import Query
from theia_sf.timewindow import Window

pytestmark = pytest.mark.integration

WINDOW = Window(dt.datetime(2024, 5, 1, tzinfo=dt.UTC), dt.datetime(2024, 5, 2, tzinfo=dt.UTC))
H = "pod-template-hash"


keys = st.sampled_from(
    [H, "controller-revision-hash", "app", "tier", "app.kubernetes.io/name", "-bad", "a b",
     "x.y", "pod-template-hash2"]
)  # fmt: skip
values = st.sampled_from(["web", "db", "h1", "h2", "", "-bad", "a" * 64, "v1.2", 'q"q'])
separators = st.sampled_from([(",", ":"), (", ", ": ")])
pairs = st.lists(st.tuples(keys, values), max_size=4)


@st.composite
def label_texts(draw: st.DrawFn) -> str | None:
    if draw(st.booleans()):
        return draw(st.sampled_from(TRICKY_LABEL_TEXTS))
    # Built by hand so that keys can repeat, as they can in a text the Flow Aggregator wrote.
    items = draw(pairs)
    comma, colon = draw(separators)
    return "{" + comma.join(json.dumps(k) + colon + json.dumps(v) for k, v in items) + "}"


flow_rows = st.lists(
    st.fixed_dictionaries({
        "sourcePodNamespace": st.sampled_from(["shop", "payments", "kube-system"]),
        "sourcePodLabels": label_texts(),
        "destinationPodNamespace": st.sampled_from(["shop", "payments"]),
        "destinationPodLabels": label_texts(),
        "destinationTransportPort": st.sampled_from([80, 443]),
        "protocolIdentifier": st.sampled_from([6, 17]),
        "flowType": st.sampled_from([1, 2, 3, 4]),
        "sourceIP": st.sampled_from(["198.51.100.7", "10.0.0.1"]),
        "destinationIP": st.sampled_from(["203.0.113.5", "10.1.0.2"]),
        "octetDeltaCount": st.integers(0, 10_000),
        "minute": st.integers(0, 600),
    }),
    min_size=1,
    max_size=25,
)  # fmt: skip

IGNORE_LISTS = [
    Options.create().label_ignore_list,
    (H, "app.kubernetes.io/name", "x.y", "tier"),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, sql):
    return migrated_duckdb_file(tmp_path_factory.mktemp("stripping") / "flows.duckdb", sql)


def _tuples(warehouse, sql, rows: list[dict], ignore: tuple[str, ...]):
    """The reduction of ``rows`` (the only flows), as it is and with ``ignore`` dropped."""
    with warehouse.session() as session:
        with session.transaction():
            session.execute(Query("clear", "DELETE FROM FLOWS"))
            for row in rows:
                row = dict(row)
                start = WINDOW.start + dt.timedelta(minutes=row.pop("minute"))
                end = start + dt.timedelta(seconds=30)
                session.execute(flow_insert({**row, "flowStartSeconds": start,
                                             "flowEndSeconds": end}))  # fmt: skip
        raw = fetch_tuples(session, sql, WINDOW, None, 0)
        stripped = fetch_tuples(session, sql, WINDOW, None, 0, ignore)
    assert len(stripped) <= len(raw)
    assert sum(t[10] for t in stripped) == sum(t[10] for t in raw) == len(rows)
    return raw, stripped


def _outcome(recommendation):
    return (
        [(p.kind, p.name, p.manifest, p.rule_count, p.peers) for p in recommendation.policies],
        sorted(map(repr, recommendation.flows)),
        {reason: counts["flows"] for reason, counts in recommendation.skipped.items()},
        recommendation.warnings,
        recommendation.flow_count,
    )  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=flow_rows, ignore=st.sampled_from(IGNORE_LISTS))
def test_dropping_ignored_labels_in_the_warehouse_changes_no_output(warehouse, sql, rows, ignore):
    options = Options.create(label_ignore_list=",".join(ignore))
    raw, stripped = _tuples(warehouse, sql, rows, options.label_ignore_list)
    assert _outcome(build_recommendation(stripped, options)) == _outcome(
        build_recommendation(raw, options)
    )


def test_each_tricky_text_is_rewritten_only_where_exact(warehouse, sql):
    # Every tricky text as a source and a destination label, once each: the same outcome, and
    # the texts the rewrite must touch do merge.
    texts = TRICKY_LABEL_TEXTS
    rows = [
        {"sourcePodNamespace": "shop", "sourcePodLabels": text, "destinationPodNamespace":
         "payments", "destinationPodLabels": texts[-1 - n], "destinationTransportPort": 80,
         "protocolIdentifier": 6, "flowType": 1, "octetDeltaCount": n, "minute": n}
        for n, text in enumerate(texts)
    ]  # fmt: skip
    options = Options.create()
    raw, stripped = _tuples(warehouse, sql, rows, options.label_ignore_list)
    assert _outcome(build_recommendation(stripped, options)) == _outcome(
        build_recommendation(raw, options)
    )
    found = {t[1] for t in stripped}
    assert '{"app":"web"}' in found
    assert '{"app":"web","tier":"db"}' in found
    assert "{}" in texts  # only ignored labels
    # Untouched: forms outside the compact one, and texts with a value the builder rejects.
    for text in (f'{{"app": "web", "{H}": "h1"}}', f'{{"app":"web","{H}":"-bad"}}',
                 f'{{"app":"web","{H}":5}}', f'{{"{H}":"h1","app":"web","{H}":"-bad"}}'):  # fmt: skip
        assert text in found


def test_patterns_only_name_valid_label_keys():
    assert label_strip_patterns(()) is None
    assert label_strip_patterns(["-bad", "a b"]) is None
    _, ignored = label_strip_patterns(["x.y", H, "-bad"])
    assert ignored == f'"({H}|x[.]y)":"[^"]*",?'
