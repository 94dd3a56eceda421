"""What a run publishes to the results location (``recommendation/runs/<run_id>/``, and
``recommendation/latest/`` once it is the current set): the multi-document YAML with evidence
annotations, and the JSON report with each rule's busiest peers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from theia_sf.recommendation.annotations import annotate, evidence_annotations
from theia_sf.recommendation.evidence import PolicyKey, group_rules
from theia_sf.recommendation.render import render_documents
from theia_sf.sql import SqlLibrary
from theia_sf.warehouse import Session

AREA = "recommendation"
YAML_NAME = "policies.yaml"
REPORT_NAME = "report.json"
REPORT_TOP_PEERS = 10  # peers per rule in report.json (all of them stay in the warehouse)
APPROVAL_KEYS = ("approval", "reviewer", "reviewed_at")  # decided after the run's files exist


def rule_evidence(
    session: Session, sql: SqlLibrary, run_id: str, top: int | None = None
) -> dict[PolicyKey, list[dict[str, Any]]]:
    """Policy (kind, namespace, name) -> its rules in order, each with its peers busiest first
    (at most ``top`` of them) and their evidence (see :func:`group_rules`)."""
    query = sql.render(
        "recommendation/select_run_evidence.sql",
        binds={"run_id": run_id, **({"top": top} if top else {})},
        one_policy=False,
        top=bool(top),
    )
    return group_rules(session.fetch(query))


def run_files(
    session: Session,
    sql: SqlLibrary,
    run: Mapping[str, Any],
    published: Mapping[str, Any],
) -> dict[str, bytes]:
    """The run's :data:`YAML_NAME` and :data:`REPORT_NAME`; the report describes itself with
    ``published`` (the time and the URIs of this publication)."""
    run_id = run["run_id"]
    _, rows = session.fetch_rows(
        sql.render("recommendation/select_run_policies.sql", binds={"run_id": run_id})
    )
    evidence = rule_evidence(session, sql, run_id, top=REPORT_TOP_PEERS)
    report = {
        **{k: v for k, v in run.items() if k not in APPROVAL_KEYS},
        **published,
        "policies": [
            {
                "kind": r[1],
                "namespace": r[2],
                "name": r[3],
                "rules": evidence.get((r[1], r[2], r[3]), []),
            }
            for r in rows
        ],
    }
    return {
        YAML_NAME: render_documents(_annotated(run, rows)).encode(),
        REPORT_NAME: json.dumps(report, indent=2, sort_keys=True).encode(),
    }


def _annotated(run: Mapping[str, Any], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The run's documents with their evidence annotations (see
    :mod:`theia_sf.recommendation.annotations`); rows of ``select_run_policies.sql``."""
    for r in rows:
        yield annotate(
            r[4],
            evidence_annotations(
                run["run_id"], run["window_start"], run["window_end"], r[5], r[6], r[7], r[8]
            ),
        )
