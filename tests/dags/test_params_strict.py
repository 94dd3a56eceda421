"""Every DAG's Params: described, bounded, anchored; unknown conf keys and bad windows refused.

Validation goes through what Airflow does at trigger time (``validated_conf``: the conf merged
into the DAG's Params and validated by jsonschema, which checks ``pattern`` with ``re.search``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from dagtest import load_dag, run_dag_tests, validated_conf

pytest.importorskip("airflow")

ROOT = Path(__file__).resolve().parents[2]
DAG_IDS = sorted(p.stem for p in (ROOT / "dags").glob("theia_*.py"))
# A form with more Params than this groups them in sections.
SECTIONS_FROM = 7
EXAMPLE = re.compile(r"e\.g\. (\[[^\]]*\]|[^\s,;)]+)")


@pytest.fixture(scope="module")
def dags():
    return {dag_id: load_dag(dag_id) for dag_id in DAG_IDS}


def each_param(dags):
    for dag_id, dag in dags.items():
        for name in dag.params:
            yield dag_id, name, dag.params.get_param(name)


def check(dag, name, value):
    """Validate ``value`` for one Param as the trigger does (the other Params aside: some
    one-shot DAGs have required Params without a valid default)."""
    import copy

    param = copy.copy(dag.params.get_param(name))
    try:
        return param.resolve(value)
    except Exception as error:
        from airflow.sdk.exceptions import ParamValidationError

        raise ParamValidationError(f"Invalid input for param {name}: {error}") from None


def examples(param):
    """The values the description gives after ``e.g.``, parsed as the Param's type."""
    found = EXAMPLE.findall(param.description or "")
    if param.schema.get("type") == "array":
        return [json.loads(text) for text in found if text.startswith("[")]
    return [text.rstrip(".") for text in found if not text.startswith("[")]


def test_every_param_has_a_title_and_a_one_line_description(dags):
    for dag_id, name, param in each_param(dags):
        where = f"{dag_id}.{name}"
        assert param.schema.get("title"), where
        assert param.description and "\n" not in param.description, where
        assert param.description.rstrip().endswith((".", ")")), where


def test_every_pattern_checked_param_says_its_format_with_a_valid_example(dags):
    checked = 0
    for dag_id, name, param in each_param(dags):
        pattern = param.schema.get("pattern") or param.schema.get("items", {}).get("pattern")
        if not pattern:
            continue
        checked += 1
        values = examples(param)
        assert values, f"{dag_id}.{name}: the description gives no example (e.g. ...)"
        for value in values:
            assert check(dags[dag_id], name, value) == value, f"{dag_id}.{name}: {value!r}"
    assert checked >= 20


def test_no_pattern_accepts_a_trailing_newline(dags):
    from airflow.sdk.exceptions import ParamValidationError

    for dag_id, name, param in each_param(dags):
        for value in examples(param):
            bad = [v + "\n" for v in value] if isinstance(value, list) else value + "\n"
            with pytest.raises(ParamValidationError, match=name):
                check(dags[dag_id], name, bad)


def test_every_number_and_list_is_bounded(dags):
    for dag_id, name, param in each_param(dags):
        kinds = param.schema.get("type")
        kinds = {kinds} if isinstance(kinds, str) else set(kinds or ())
        if kinds & {"integer", "number"}:
            assert "maximum" in param.schema, f"{dag_id}.{name}"
        if "array" in kinds:
            assert param.schema.get("maxItems"), f"{dag_id}.{name}"
            assert param.schema["items"].get("pattern"), f"{dag_id}.{name}"
        if kinds == {"string"} or kinds == {"null", "string"}:
            bounded = {"pattern", "enum", "maxLength"} & set(param.schema)
            assert bounded, f"{dag_id}.{name}"


def test_enums_show_every_value(dags):
    for dag_id, name, param in each_param(dags):
        if "enum" in param.schema:
            shown = param.schema.get("values_display") or {}
            assert {v for v in param.schema["enum"] if v is not None} <= set(shown), (
                f"{dag_id}.{name}"
            )


def test_large_forms_use_sections(dags):
    for dag_id, dag in dags.items():
        if len(dag.params) >= SECTIONS_FROM:
            missing = [n for n in dag.params if not dag.params.get_param(n).schema.get("section")]
            assert not missing, f"{dag_id}: {missing}"


@pytest.mark.parametrize(
    ("dag_id", "name", "value"),
    [
        ("theia_policy_recommendation", "lookback", 10**12),
        ("theia_drop_detection", "lookback", 401),
        ("theia_policy_recommendation", "limit", 10**30),
        ("theia_flow_retention", "retention_days", 10**12),
        ("theia_onboard", "flow_retention_days", 10**12),
        ("theia_drop_detection", "sigma", 10**9),
        ("theia_drop_detection", "min_history_days", 10**9),
        ("theia_ingestion_health", "max_lag_minutes", 10**12),
        ("theia_policy_recommendation", "start", "now-99999999999d"),
        ("theia_policy_recommendation", "start", "2024-02-30T00:00:00Z"),
        ("theia_policy_recommendation", "start", "2024-13-45T00:00:00Z"),
        ("theia_drop_detection", "start", "0001-01-01T00:00:00+01:00"),
        ("theia_drop_detection", "end", "9999-12-31T00:00:00Z"),
        ("theia_drop_detection", "start", "2024-05-01T24:00:00Z"),
        ("theia_drop_detection", "start", "now\n"),
        ("theia_drop_detection", "warehouse_name", "WH\n"),
        ("theia_onboard", "stack_name", "default\n"),
        ("theia_drop_detection", "alert_connections", [f"c{i}" for i in range(100_000)]),
        ("theia_ingestion_health", "alert_connections", [f"c{i}" for i in range(21)]),
        ("theia_policy_recommendation", "ns_allow_list", [f"ns-{i}" for i in range(201)]),
        ("theia_policy_recommendation", "ns_allow_list", ["kube-system\n"]),
        ("theia_policy_recommendation", "label_ignore_list", "pod-template-hash"),
    ],
)
def test_out_of_bounds_values_are_refused_at_trigger_time(dags, dag_id, name, value):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match=f"param {name}"):
        validated_conf(dags[dag_id], {name: value})


@pytest.mark.parametrize(
    ("conf", "sentence"),
    [
        ({"start": "2023-02-29T00:00:00Z"}, "start='2023-02-29T00:00:00Z' is not a valid time"),
        ({"start": "now-9999999d"}, "start='now-9999999d' is not a valid time"),
        ({"start": "1970-01-01T00:30:00+01:00"}, "is before 1970-01-01T00:00:00Z"),
        (
            {"start": "2024-01-01T00:00:00Z", "end": "2025-06-01T00:00:00Z"},
            "The window from 2024-01-01 00:00:00 UTC to 2025-06-01 00:00:00 UTC spans 517 days; "
            "the longest window is 400 days.",
        ),
        (
            {"start": "2024-05-02T00:00:00Z", "end": "2024-05-01T00:00:00Z"},
            "The window ends at 2024-05-01 00:00:00 UTC, which is not after its start "
            "2024-05-02 00:00:00 UTC: choose an end after the start.",
        ),
    ],
)
def test_the_first_task_refuses_impossible_windows_in_a_sentence(dags, conf, sentence):
    """What the schema cannot see (a common year's February 29, bounds after resolution)."""
    import pendulum
    from airflow.sdk.exceptions import AirflowFailException

    dag = dags["theia_drop_detection"]
    task = dag.get_task("check_params")
    with pytest.raises(AirflowFailException) as info:
        task.python_callable(
            params=validated_conf(dag, conf),
            dag=dag,
            data_interval_end=pendulum.datetime(2024, 5, 31, tz="UTC"),
        )
    assert sentence in str(info.value)


# --- unknown conf keys ----------------------------------------------------------------------


def test_unknown_key_message_names_it_and_the_closest_param():
    from theia_sf.airflow.params import unknown_conf_keys

    known = ["policy_type", "limit", "lookback", "start", "end"]
    assert unknown_conf_keys({"policy_type": "k8s-np", "limit": 3}, known) is None
    text = unknown_conf_keys({"polcy_type": "k8s-np", "zzz": 1}, known)
    assert "'polcy_type' (did you mean 'policy_type'?)" in text
    assert "'zzz'" in text and "'zzz' (did you mean" not in text
    assert text.startswith("The run's conf has the unknown keys")


def test_every_task_of_every_dag_refuses_unknown_conf_keys_before_its_work(dags):
    from airflow.sdk.exceptions import AirflowFailException

    from theia_sf.airflow.params import refuse_unknown_conf

    class Run:
        def __init__(self, conf):
            self.conf = conf

    for dag_id, dag in dags.items():
        for task in dag.tasks:
            # A mapped task keeps its operator arguments, the hook among them, until it expands.
            hook = (
                task.partial_kwargs.get("pre_execute")
                if hasattr(task, "partial_kwargs")
                else task._pre_execute_hook
            )
            assert hook is refuse_unknown_conf, f"{dag_id}.{task.task_id}"
        with pytest.raises(AirflowFailException, match="polcy_type"):
            refuse_unknown_conf({"dag": dag, "dag_run": Run({"polcy_type": "k8s-np"})})
    # A conf of known keys passes.
    dag = dags["theia_policy_recommendation"]
    refuse_unknown_conf({"dag": dag, "dag_run": Run({"lookback": 3})})


@pytest.mark.slow
def test_a_misspelt_key_fails_the_run_before_any_warehouse_work(tmp_path):
    """A real run (dag.test): the first task fails, nothing else runs, no database is made."""
    duckdb_path = tmp_path / "theia.duckdb"
    states, log = run_dag_tests(
        "theia_policy_recommendation",
        tmp_path,
        [{"polcy_type": "k8s-np"}],
        duckdb_path,
        tmp_path / "results",
    )
    assert states[0]["resolve_window"] == "failed", log[-3000:]
    assert all(s != "success" for s in states[0].values()), states
    assert "did you mean 'policy_type'?" in log
    assert not duckdb_path.exists()
