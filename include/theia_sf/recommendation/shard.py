"""One shard of a run: its namespaces' tuples read from the warehouse, their policies made,
rendered and self-checked, and staged under the run id for the run's finish.

The self-check replays every observed flow direction of the shard through the rendered
policies with the independent evaluator (:mod:`theia_sf.policyeval`); a violation raises
:class:`SelfCheckError` and nothing is staged."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from theia_sf.errors import TheiaError
from theia_sf.policyeval import CompiledPolicy, PolicySet, Verdict, compile_policy
from theia_sf.recommendation.building import Collected, peer_text, static_policies
from theia_sf.recommendation.model import TUPLE_COLUMNS, Options, RecommendedPolicy
from theia_sf.recommendation.render import Renderer
from theia_sf.recommendation.runs import require_running
from theia_sf.sql import SqlLibrary
from theia_sf.warehouse import Session

FETCH_BATCH = 50_000  # rows per fetch of a shard's tuples


class SelfCheckError(TheiaError):
    """The recommended policies would block observed flows: a bug, never published."""


@dataclass(frozen=True, slots=True)
class Staged:
    """A policy of the shard as it is staged: its place in the run's order and its YAML."""

    order: tuple[Any, ...]
    policy: RecommendedPolicy
    text: str


def shard_namespaces(session: Session, sql: SqlLibrary, run_id: str, shard: int) -> list[str]:
    """The namespaces the plan gave to ``shard``."""
    query = sql.render(
        "recommendation/select_shard_namespaces.sql", binds={"run_id": run_id, "shard": shard}
    )
    return [r["namespace"] for r in session.fetch(query)]


def shard_rows(
    session: Session, sql: SqlLibrary, run_id: str, shard: int
) -> Iterator[tuple[Any, ...]]:
    """The run's tuples of the shard's namespaces (FlowTuple columns, tuple id), in batches;
    shard 0 also reads the tuples that have no namespace."""
    query = sql.render(
        "recommendation/select_shard_tuples.sql",
        binds={"run_id": run_id, "shard": shard},
        orphans=shard == 0,
    )
    columns, batches = session.fetch_batches(query, FETCH_BATCH)
    if columns != [*TUPLE_COLUMNS, "tuple_id"]:
        raise RuntimeError(f"select_shard_tuples.sql returned columns {columns}")
    for batch in batches:
        yield from batch


def make_and_check(collected: Collected, options: Options) -> tuple[list[Staged], int, PolicySet]:
    """Make and render every policy of the shard, and replay its flows through the rendered
    policies (plus the static ones every namespace is subject to): the self-check. Returns the
    rendered policies, how many flow directions were replayed and the checked set."""
    renderer = Renderer()
    staged: list[Staged] = []
    compiled: list[CompiledPolicy] = []
    unconfined: list[str] = []
    for order, policy in collected.keyed_policies():
        text = renderer.render(policy.manifest)
        staged.append(Staged(order, policy, text))
        # The self-check compiles the manifest exactly as it is rendered and stored.
        made = compile_policy(policy.manifest)
        compiled.append(made)
        if order[0] == 1 and made.applied_namespace() != order[1]:
            unconfined.append(made.ident)
    if not collected.with_static:  # another shard stages them; every shard checks with them
        compiled += [compile_policy(p.manifest) for p in static_policies(options)]
    policy_set = PolicySet.from_compiled(compiled)
    # The replayed flows carry pod labels minus the ignore list, which gives every flow its
    # true verdict only while no selector reads an ignored key; and a shard's set decides its
    # namespaces' flows only while no policy made for a namespace applies outside it.
    ignored = sorted(policy_set.pod_label_keys() & set(options.label_ignore_list))
    if ignored:
        raise SelfCheckError(
            f"self-check failed: the recommended policies select pods by ignored label keys "
            f"{ignored}; nothing was published"
        )
    if unconfined:
        raise SelfCheckError(
            f"self-check failed: {len(unconfined)} recommended policies may apply to pods "
            f"outside the namespace they were made for ({', '.join(unconfined[:10])}); "
            "nothing was published"
        )
    violations = policy_set.violations(collected.egress_flows, ingress=False)
    violations += policy_set.violations(collected.ingress_flows, egress=False)
    if violations:
        raise SelfCheckError(
            f"self-check failed: {len(violations)} directions of observed flows would be "
            f"denied by the recommended policies (first: "
            f"{'; '.join(_describe(v) for v in violations[:10])}); nothing was published"
        )
    return staged, len(collected.egress_flows) + len(collected.ingress_flows), policy_set


def _describe(verdict: Verdict) -> str:
    f = verdict.flow

    def ep(e: Any) -> str:
        if e.namespace:
            return f"{e.namespace}/{{{','.join(f'{k}={v}' for k, v in e.labels)}}}"
        return e.ip or "?"

    blocked = "egress" if not verdict.egress.allowed else "ingress"
    decision = verdict.egress if not verdict.egress.allowed else verdict.ingress
    return (
        f"{ep(f.source)} -> {ep(f.destination)} {f.port}/{f.protocol}: {blocked} denied "
        f"({decision.reason} {decision.policy or ''})"
    )


def _order_text(labels: Sequence[tuple[str, str]]) -> str:
    """Labels as a text that sorts like the labels' tuple (separators below any label
    character), so the warehouse puts staged policies in the run's order."""
    return "".join(f"{k}\x01{v}\x02" for k, v in labels)


def stage(
    session: Session,
    sql: SqlLibrary,
    run_id: str,
    shard: int,
    collected: Collected,
    staged: list[Staged],
) -> None:
    """Write the shard's policies, their rule peers and which tuples fed each peer (a retry
    of the shard replaces what an earlier attempt wrote)."""
    binds = {"run_id": run_id, "shard": shard}
    require_running(session, sql, run_id)  # another shard may have failed the run meanwhile
    session.execute(sql.render("recommendation/delete_run_staging.sql", binds=binds, shard=shard))
    session.insert_rows(
        sql.render("recommendation/insert_staged_policy.sql", binds=binds, row_binds=_STAGED_KEYS),
        (
            {
                "order_group": s.order[0],
                "order_namespace": s.order[1],
                "order_labels": _order_text(s.order[2]),
                "order_index": s.order[3],
                "kind": s.policy.kind,
                "api_version": s.policy.api_version,
                "namespace": s.policy.namespace,
                "name": s.policy.name,
                "yaml": s.text,
                "yaml_sha256": hashlib.sha256(s.text.encode()).hexdigest(),
                "rule_count": s.policy.rule_count,
            }
            for s in staged
        ),
    )
    # Hundreds of thousands of rule peers and tuples: written as columns.
    peers: dict[str, list[Any]] = {key: [] for key in _PEER_KEYS}
    for s in staged:
        count = len(s.policy.peers)
        for key, value in (
            ("kind", s.policy.kind), ("namespace", s.policy.namespace), ("name", s.policy.name)
        ):  # fmt: skip
            peers[key] += [value] * count
        peers["cell_id"] += s.policy.cells
        for rp in s.policy.peers:
            peers["direction"].append(rp.direction)
            peers["rule_index"].append(rp.rule)
            peers["peer_index"].append(rp.position)
            peers["peer"].append(peer_text(rp.peer))
    session.insert_columns(
        sql.render("recommendation/insert_rule_peer.sql", binds=binds, row_binds=_PEER_KEYS),
        peers,
    )
    session.insert_columns(
        sql.render(
            "recommendation/insert_tuple_cells.sql",
            binds=binds,
            row_binds=("tuple_id", "egress_cell", "ingress_cell"),
        ),
        {
            "tuple_id": collected.fed_tuples,
            "egress_cell": collected.fed_egress,
            "ingress_cell": collected.fed_ingress,
        },
    )


def shard_record(run_id: str, shard: int, collected: Collected) -> dict[str, Any]:
    """What a shard counted, as JSON for the run's finish (an Airflow task's return value)."""
    return {
        "run_id": run_id,
        "shard": shard,
        "tuple_count": collected.tuple_count,
        "flow_count": collected.flow_count,
        "skipped": collected.skipped,
        "warnings": collected.warnings,
        "widened": {
            cidr: sorted(addresses) for cidr, addresses in collected.block_addresses.items()
        },
    }


_STAGED_KEYS = (
    "order_group", "order_namespace", "order_labels", "order_index", "kind", "api_version",
    "namespace", "name", "yaml", "yaml_sha256", "rule_count",
)  # fmt: skip
_PEER_KEYS = (
    "cell_id", "kind", "namespace", "name", "direction", "rule_index", "peer_index", "peer"
)  # fmt: skip
