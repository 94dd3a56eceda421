"""Run diff, stable names and the generic publish helper."""

from __future__ import annotations

import os
import stat

import pytest

from theia_sf.objectstore import LocalObjectStore
from theia_sf.publish import publish_artifacts
from theia_sf.recommendation import naming
from theia_sf.recommendation.diff import diff_policies


def test_diff_by_policy_key():
    before = {"NetworkPolicy/a/x": "1", "NetworkPolicy/a/y": "2", "ClusterNetworkPolicy//z": "3"}
    after = {"NetworkPolicy/a/x": "1", "NetworkPolicy/a/y": "changed", "NetworkPolicy/b/w": "4"}
    diff = diff_policies(before, after, "run-1")
    assert diff.to_record() == {
        "previous_run_id": "run-1",
        "added": ["NetworkPolicy/b/w"],
        "removed": ["ClusterNetworkPolicy//z"],
        "changed": ["NetworkPolicy/a/y"],
        "unchanged": 1,
    }


def test_first_run_adds_everything():
    diff = diff_policies(None, {"k/a/b": "1"}, None)
    assert diff.added == ("k/a/b",)
    assert diff.previous_run_id is None


def test_names_are_stable_valid_and_distinct():
    labels = (("app", "web"),)
    name = naming.allow_anp_name("shop", labels)
    assert name == naming.allow_anp_name("shop", labels)
    assert name != naming.allow_anp_name("shop", (("app", "db"),))
    assert name != naming.allow_anp_name("other", labels)
    assert name.startswith("recommend-allow-anp-")
    suffix = name.rsplit("-", 1)[1]
    assert suffix == naming.reject_acnp_name("shop", labels).rsplit("-", 1)[1]
    assert len(suffix) == naming.SUFFIX_LENGTH
    assert suffix.isalnum()
    assert suffix == suffix.lower()
    long_ns = "n" * 63
    assert len(naming.namespace_allow_acnp_name(long_ns)) <= 253


def test_publish_writes_run_key_and_latest_alias(tmp_path):
    store = LocalObjectStore(tmp_path, create=True)
    uris = publish_artifacts(store, "recommendation", "r1", {"a.yaml": b"x: 1\n", "b.json": b"{}"})
    assert store.get_bytes("recommendation/runs/r1/a.yaml") == b"x: 1\n"
    assert store.get_bytes("recommendation/latest/b.json") == b"{}"
    assert uris["a.yaml"] == store.uri("recommendation/runs/r1/a.yaml")
    publish_artifacts(store, "recommendation", "r2", {"a.yaml": b"x: 2\n"})
    assert store.get_bytes("recommendation/latest/a.yaml") == b"x: 2\n"
    assert store.get_bytes("recommendation/runs/r1/a.yaml") == b"x: 1\n"


@pytest.mark.parametrize(
    ("area", "run_id", "name"),
    [("../x", "r", "a"), ("a", "r/../../x", "a"), ("a", "r", "../b"), ("a", "", "b")],
)
def test_publish_refuses_unsafe_keys(tmp_path, area, run_id, name):
    store = LocalObjectStore(tmp_path, create=True)
    with pytest.raises(ValueError, match="unsafe"):
        publish_artifacts(store, area, run_id, {name: b""})


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_published_files_follow_the_process_umask(tmp_path, umask, mode):
    # A web server or Grafana reading the results folder must be able to read the files.
    store = LocalObjectStore(tmp_path, create=True)
    previous = os.umask(umask)
    try:
        publish_artifacts(store, "detection", "r1", {"anomalies.json": b"{}"})
        publish_artifacts(store, "detection", "r2", {"anomalies.json": b"[]"})  # replaces latest
    finally:
        os.umask(previous)
    for key in ("detection/runs/r1/anomalies.json", "detection/latest/anomalies.json"):
        assert stat.S_IMODE(store.local_path(key).stat().st_mode) == mode
    assert not list(tmp_path.rglob(".tmp-*"))
