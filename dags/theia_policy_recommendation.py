"""
### Theia NetworkPolicy recommendation

Nightly (and on demand from the trigger form or the REST API): `plan_run` reduces the
unprotected flows of a window to distinct tuples in the warehouse (once, kept under the run id)
and splits the namespaces into shards; one `recommend_shard` task per shard builds Kubernetes or
Antrea policies that allow exactly what was observed and replays the observed flows through them
(a self-check; a violation fails the run and nothing is published); `finish_run` has the
warehouse sum the per-peer evidence and records the run in `RECOMMENDATION_RUNS` /
`RECOMMENDED_POLICIES` / `RECOMMENDATION_EVIDENCE` with its diff against the previous run with
the same parameters; `publish_policies` publishes `recommendation/runs/<run_id>/policies.yaml`
+ `report.json` to the results location (`THEIA_RESULTS_LOCATION`); `publish_latest` makes them
`recommendation/latest/` and updates the `theia_recommended_policies` asset.

With `require_approval`, `approve` waits in between (Airflow's "Required actions"): the approver
reads the policy diff, the impact preview and the YAML's URI; Approve runs `publish_latest`,
Reject (or no answer within `approval_hours`) runs `record_rejected`, which records the run as
rejected and leaves `recommendation/latest/` as it is.

Window: `start`/`end` (`now`, `now-<n>{s,m,h,d}` or RFC 3339), or the data interval end minus
`lookback` days. On Snowflake without `warehouse_name`, an X-Small warehouse is created for the
run's sessions and dropped afterwards, also on failure.

Scheduled runs take their Params from the Airflow Variable `theia_policy_recommendation`
(deployment settings); a Param given in the run's conf wins. Logic:
`theia_sf.services.recommendation`. This file only wires it to Airflow.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

from theia_sf.airflow.approval import ApprovalBranchOperator
from theia_sf.airflow.defaults import WAREHOUSE_POOL, Timeouts, analysis_schedule, service_dag
from theia_sf.airflow.params import (
    MAX_FLOW_TUPLES,
    MAX_LIST_ITEMS,
    boolean_param,
    cluster_uuid_param,
    enum_param,
    integer_param,
    list_param,
    warehouse_name_param,
    window_params,
)
from theia_sf.identifiers import LABEL_KEY_PATTERN, NAMESPACE_PATTERN
from theia_sf.recommendation.model import (
    DEFAULT_LABEL_IGNORE_LIST,
    DEFAULT_NS_ALLOW_LIST,
    PolicyType,
)
from theia_sf.recommendation.parameters import DEFAULT_APPROVAL_HOURS, MAX_APPROVAL_HOURS

# Updated with every published policy set (the files live in the results location).
RECOMMENDED_POLICIES = Asset(
    name="theia_recommended_policies",
    uri="x-theia://results/recommendation/latest/policies.yaml",
    group="theia",
)


# The run's work takes at most 300 minutes; a run may also wait for its approval.
TIMEOUTS = Timeouts("theia_policy_recommendation", run_minutes=300 + 60 * MAX_APPROVAL_HOURS)


@dag(
    schedule=analysis_schedule("30 1 * * *"),
    **service_dag(TIMEOUTS),
    params={
        "policy_type": enum_param(
            PolicyType.ANP_DENY_APPLIED.value,
            {
                "anp-deny-applied": "anp-deny-applied: Antrea allow + reject per workload",
                "anp-deny-all": "anp-deny-all: Antrea allow + one cluster-wide reject",
                "k8s-np": "k8s-np: Kubernetes NetworkPolicies only",
            },
            section="Policies",
            title="Policy type",
            description="anp-deny-applied: Antrea allow policies + a Baseline reject per "
            "workload; anp-deny-all: allow policies + one cluster-wide Baseline reject; "
            "k8s-np: Kubernetes NetworkPolicies only.",
        ),
        "ns_allow_list": list_param(
            DEFAULT_NS_ALLOW_LIST,
            item_pattern=NAMESPACE_PATTERN,
            max_items=MAX_LIST_ITEMS,
            section="Policies",
            title="Namespace allow list",
            description="Namespaces that get a namespace-wide allow policy (Antrea modes) and "
            f"no per-workload policy: a JSON list of at most {MAX_LIST_ITEMS} namespace names, "
            'e.g. ["kube-system", "flow-aggregator"].',
        ),
        "label_ignore_list": list_param(
            DEFAULT_LABEL_IGNORE_LIST,
            item_pattern=LABEL_KEY_PATTERN,
            max_items=MAX_LIST_ITEMS,
            section="Policies",
            title="Label ignore list",
            description="Pod label keys dropped before flows are grouped (left out of "
            f"selectors): a JSON list of at most {MAX_LIST_ITEMS} label keys, "
            'e.g. ["pod-template-hash"]. Empty: keep all.',
        ),
        "to_services": boolean_param(
            True,
            section="Policies",
            title="Allow to Services",
            description="Antrea modes: allow traffic to Services with toServices rules; "
            "off: select the Service's backend pods instead.",
        ),
        "antrea_api_version": enum_param(
            "v1beta1",
            {"v1beta1": "v1beta1 (current Antrea)", "v1alpha1": "v1alpha1 (old clusters)"},
            section="Policies",
            title="Antrea API version",
            description="crd.antrea.io version of Antrea objects (v1alpha1 for old clusters).",
        ),
        **window_params(7, section="Window"),
        "cluster_uuid": cluster_uuid_param(section="Scope"),
        "limit": integer_param(
            0,
            minimum=0,
            maximum=MAX_FLOW_TUPLES,
            section="Scope",
            title="Tuple limit",
            description="Read at most this many distinct flow tuples (the busiest); 0: no "
            f"limit. At most {MAX_FLOW_TUPLES:,}.",
        ),
        "preview_days": integer_param(
            30,
            minimum=0,
            maximum=90,
            section="Window",
            title="Preview days",
            description="Impact preview: replay the unprotected flows of this many days (ending "
            "where the window ends) through the new set and the published one, and report what "
            "the new set would deny and which verdicts change; 0: no preview.",
        ),
        "warehouse_name": warehouse_name_param(section="Engine"),
        "external_ipv4_prefix": integer_param(
            32,
            minimum=8,
            maximum=32,
            section="Policies",
            title="External IPv4 prefix",
            description="Addresses outside the cluster become ipBlocks of this prefix length "
            "(e.g. 24 gathers 10.1.2.3 and 10.1.2.9 into 10.1.2.0/24); 32: one address each. "
            "The run report says how many unseen addresses each widened block admits.",
        ),
        "external_ipv6_prefix": integer_param(
            128,
            minimum=8,
            maximum=128,
            section="Policies",
            title="External IPv6 prefix",
            description="As the IPv4 prefix, for IPv6 addresses; 128: one address each.",
        ),
        "shards": integer_param(
            0,
            minimum=0,
            maximum=64,
            section="Engine",
            title="Shards",
            description="Namespace shards of the run, each an Airflow task (on a distributed "
            "executor they run on different workers). 0: automatic, enough that none reads "
            "more than 250,000 tuple ends, and on Snowflake one per 5,000 workload groups "
            "(at most 8).",
        ),
        "require_approval": boolean_param(
            False,
            section="Approval",
            title="Require approval",
            description="Wait for Approve in Airflow's Required actions before the policies "
            "become recommendation/latest/ and the asset is updated; Reject or no answer in "
            "time records the run as rejected.",
        ),
        "approval_hours": integer_param(
            DEFAULT_APPROVAL_HOURS,
            minimum=1,
            maximum=MAX_APPROVAL_HOURS,
            section="Approval",
            title="Approval timeout (hours)",
            description="With approval required: hours to wait for an answer before the run "
            f"is rejected (at most {MAX_APPROVAL_HOURS}).",
        ),
    },
    tags=["theia", "recommendation"],
    doc_md=__doc__,
)
def theia_policy_recommendation() -> None:
    @task(retries=0, execution_timeout=TIMEOUTS.task("resolve_window", 5))
    def resolve_window(
        params: dict, dag=None, dag_run=None, data_interval_end: pendulum.DateTime | None = None
    ) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from theia_sf.airflow.settings import resolve_run
        from theia_sf.errors import ConfigurationError
        from theia_sf.recommendation.parameters import RecommendationRequest
        from theia_sf.timewindow import TimeSpecError

        # The deployment settings fill what the run was not given; then the run's request is
        # made, with the cross-field checks the per-Param schemas cannot express. No warehouse
        # work yet. Runs triggered without a logical date have no interval: they end now.
        effective = resolve_run(dag, params, dag_run)
        try:
            request = RecommendationRequest.from_params(effective.values, data_interval_end)
        except (ConfigurationError, TimeSpecError) as error:
            raise AirflowFailException(f"invalid Params (start/end/lookback...): {error}") from None
        return {**request.to_record(), "sources": effective.sources}

    @task(pool=WAREHOUSE_POOL, execution_timeout=TIMEOUTS.task("plan_run", 60))
    def plan_run(request: dict) -> list[dict]:
        from theia_sf.airflow import runtime
        from theia_sf.migrations import migrate
        from theia_sf.recommendation.parameters import RecommendationRequest
        from theia_sf.services.recommendation import plan_recommendation

        made = RecommendationRequest.from_record(request)
        warehouse = runtime.warehouse(warehouse_name=made.warehouse_name)
        sql = runtime.sql_library()
        if warehouse.engine == "duckdb":
            with warehouse.session() as session:
                migrate(session, sql)
        plan = plan_recommendation(warehouse, sql, made)
        return [{**kwargs, "request": request} for kwargs in plan.shard_kwargs()]

    # A shard that raises records the run as failed; a retry then only helps a shard whose
    # worker was lost (it replaces what that attempt staged).
    @task(pool=WAREHOUSE_POOL, execution_timeout=TIMEOUTS.task("recommend_shard", 240))
    def recommend_shard(request: dict, recommendation_run: str, shard: int) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from theia_sf.airflow import runtime
        from theia_sf.recommendation.shard import SelfCheckError
        from theia_sf.services.recommendation import run_shard

        warehouse = runtime.warehouse(warehouse_name=request["warehouse_name"])
        try:
            return run_shard(warehouse, runtime.sql_library(), recommendation_run, shard)
        except SelfCheckError as error:
            # Deterministic: a retry would fail the same way (the run is recorded as failed).
            raise AirflowFailException(str(error)) from error

    @task(pool=WAREHOUSE_POOL, execution_timeout=TIMEOUTS.task("finish_run", 60))
    def finish_run(request: dict, shards: list) -> dict:
        from theia_sf.airflow import runtime
        from theia_sf.services.recommendation import finish_recommendation

        warehouse = runtime.warehouse(warehouse_name=request["warehouse_name"])
        results = list(shards)
        summary = finish_recommendation(
            warehouse, runtime.sql_library(), results[0]["run_id"], results
        )
        return summary.to_record()

    @task(pool=WAREHOUSE_POOL, execution_timeout=TIMEOUTS.task("publish_policies", 30))
    def publish_policies(request: dict, summary: dict) -> dict:
        from theia_sf.airflow import runtime
        from theia_sf.services.recommendation import publish_recommendation, request_approval

        warehouse = runtime.warehouse(warehouse_name=request["warehouse_name"])
        sql = runtime.sql_library()
        run_id = summary["run_id"]
        store = runtime.object_store(runtime.settings().results_location, create=True)
        uris = publish_recommendation(warehouse, sql, store, run_id, latest=False)
        approval = None
        hours = request["approval_hours"]
        if hours is not None:
            approval = {**request_approval(warehouse, sql, run_id, hours=hours), "hours": hours}
        return {"run_id": run_id, **uris, "approval": approval}

    @task(pool=WAREHOUSE_POOL, outlets=[RECOMMENDED_POLICIES],
          trigger_rule="none_failed_min_one_success",
          execution_timeout=TIMEOUTS.task("publish_latest", 30))  # fmt: skip
    def publish_latest(
        request: dict, published: dict, answer: dict | None = None, outlet_events=None
    ) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from theia_sf.airflow import runtime
        from theia_sf.recommendation.approval import Review
        from theia_sf.services.recommendation import approve_recommendation

        if request["approval_hours"] is not None and not (answer and answer["approved"]):
            raise AirflowFailException(f"run {published['run_id']} was not approved")
        approve_recommendation(
            runtime.warehouse(warehouse_name=request["warehouse_name"]),
            runtime.sql_library(),
            runtime.object_store(runtime.settings().results_location, create=True),
            published["run_id"],
            Review.from_record(answer) if answer else None,
        )
        uris = {"run_id": published["run_id"], "yaml": published["yaml"],
                "report": published["report"]}  # fmt: skip
        if outlet_events is not None:
            outlet_events[RECOMMENDED_POLICIES].extra = uris
        return uris

    @task(pool=WAREHOUSE_POOL, execution_timeout=TIMEOUTS.task("record_rejected", 10))
    def record_rejected(request: dict, published: dict, answer: dict) -> dict:
        from theia_sf.airflow import runtime
        from theia_sf.recommendation.approval import Review
        from theia_sf.services.recommendation import reject_recommendation

        reject_recommendation(
            runtime.warehouse(warehouse_name=request["warehouse_name"]),
            runtime.sql_library(),
            published["run_id"],
            Review.from_record(answer),
        )
        return {"run_id": published["run_id"], **answer}

    request = resolve_window()
    shards = recommend_shard.expand_kwargs(plan_run(request=request))
    published = publish_policies(
        request=request, summary=finish_run(request=request, shards=shards)
    )
    # Skipped when no approval is required; otherwise Approve -> publish_latest and
    # Reject (also the timeout's answer) -> record_rejected.
    approve = ApprovalBranchOperator(
        task_id="approve",
        request=published,
        approve_task_id="publish_latest",
        reject_task_id="record_rejected",
        retries=0,
        execution_timeout=TIMEOUTS.task("approve", 5),
    )
    publish_latest(request=request, published=published, answer=approve.output)
    record_rejected(request=request, published=published, answer=approve.output)


theia_policy_recommendation()
