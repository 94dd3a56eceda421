"""YAML rendering: the direct emitter produces exactly PyYAML's text (the reference rendering)."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from theia_sf.recommendation.building import build_recommendation, collect
from theia_sf.recommendation.model import FlowTuple, Options
from theia_sf.recommendation.render import (
    Renderer,
    is_plain,
    render_documents,
    render_manifest,
    render_manifests,
    render_with_pyyaml,
)

TRICKY = ["on", "yes", "1", "0x1F", "null", "~", "", "2024-01-01", "a b", "-x", "@a", "é", "'q'",
          '"q"', "x:y", "a#b", "1e3", "True", ".5", "k8s-app", "kubernetes.io/metadata.name"]  # fmt: skip


@pytest.mark.parametrize("value", TRICKY)
def test_scalars_are_quoted_like_pyyaml(value):
    manifest = {"metadata": {"name": value, value or "empty": [value, {value or "k": value}]}}
    assert render_manifest(manifest) == render_with_pyyaml(manifest)


def test_empty_containers_and_integers():
    manifest = {"spec": {"egress": [], "ingress": [{"from": [{"podSelector": {}}]}],
                         "priority": 5, "ports": [{"port": 53, "protocol": "UDP"}]}}  # fmt: skip
    text = render_manifest(manifest)
    assert text == render_with_pyyaml(manifest)
    assert "egress: []\n" in text
    assert "- podSelector: {}\n" in text


def test_shared_fragments_render_at_each_indentation():
    shared = {"matchLabels": {"app": "web"}}
    manifest = {"a": shared, "b": {"c": shared}, "d": [shared, {"e": [shared]}]}
    assert render_manifest(manifest) == render_with_pyyaml(manifest)


def test_unusual_shapes_fall_back_to_pyyaml():
    manifest = {"a": [[1, 2]], "b": True, "c": None, "x" * 200: 1, "d": 1.5}
    assert render_manifest(manifest) == render_with_pyyaml(manifest)


def test_documents_are_separated_by_dashes():
    docs = render_manifests([{"a": 1}, {"b": 2}])
    assert render_documents(docs) == "a: 1\n---\nb: 2\n"
    assert [d for d in yaml.safe_load_all(render_documents(docs))] == [{"a": 1}, {"b": 2}]


label = st.text(alphabet="abcxyz019-._", min_size=1, max_size=8).filter(
    lambda s: s[0].isalnum() and s[-1].isalnum()
)
labels_json = st.dictionaries(st.sampled_from(["app", "tier", "on", "1", "k8s-app"]),
                              st.one_of(label, st.sampled_from(["on", "1", "null", "yes"])),
                              max_size=3).map(lambda d: __import__("json").dumps(d))  # fmt: skip
row = st.builds(
    FlowTuple,
    st.sampled_from(["a", "b", "kube-system"]),
    labels_json,
    st.just(None),
    st.sampled_from(["1.2.3.4", "2001:db8::1"]),
    st.sampled_from(["a", "b", "c"]),
    labels_json,
    st.sampled_from([None, "c/svc:http", "b/api:grpc"]),
    st.integers(1, 65535),
    st.sampled_from([6, 17, 132]),
    st.sampled_from([1, 2, 3]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(row, max_size=12), st.sampled_from(["anp-deny-applied", "anp-deny-all", "k8s-np"]))
def test_rendered_policies_equal_pyyaml_output(rows, policy_type):
    rec = build_recommendation(rows, Options.create(policy_type=policy_type))
    manifests = [p.manifest for p in rec.policies]
    assert render_manifests(manifests) == [render_with_pyyaml(m) for m in manifests]


@settings(max_examples=60, deadline=None)
@given(st.lists(row, max_size=16), st.sampled_from(["anp-deny-applied", "anp-deny-all", "k8s-np"]))
def test_rendering_one_policy_at_a_time_equals_pyyaml_output(rows, policy_type):
    # The service renders one policy at a time with one Renderer (its scalar texts shared):
    # it must write exactly what PyYAML writes.
    collected = collect(rows, Options.create(policy_type=policy_type))
    renderer = Renderer()
    for policy in collected.policies():
        assert renderer.render(policy.manifest) == render_with_pyyaml(policy.manifest)


PLAIN_CANDIDATES = ["app-1", "ns-0", "recommend-allow-anp-abc", "a", "z9", "yes", "no", "on",
                    "off", "true", "false", "null", "y", "n", "10.0.0.1/32", "0.0.0.0/0",
                    "192.168.1.255/32", "1.2.3.4/128", "999.1.1.1/32"]  # fmt: skip


@pytest.mark.parametrize("value", PLAIN_CANDIDATES + TRICKY)
def test_plain_fast_path_agrees_with_pyyaml(value):
    # The fast path must only claim strings that PyYAML writes unquoted, as they are.
    plain = yaml.dump([value], Dumper=yaml.SafeDumper, width=1 << 30) == f"- {value}\n"
    if is_plain(value):
        assert plain
    assert render_manifest({"k": value}) == render_with_pyyaml({"k": value})


def test_plain_fast_path_covers_names_and_cidrs():
    assert is_plain("recommend-allow-anp-abc") and is_plain("10.1.2.3/32")
    assert not is_plain("on") and not is_plain("null") and not is_plain("Yes")


def test_rendering_is_unchanged_when_the_scalar_cache_starts_over(monkeypatch):
    from theia_sf.recommendation import render

    monkeypatch.setattr(render, "SCALAR_CACHE", 4)
    manifests = [
        {"kind": "X", "spec": {"to": [{"ipBlock": {"cidr": f"10.0.{i}.1/32"}}], "on": "yes"}}
        for i in range(30)
    ]
    emitter = render.Renderer()
    assert [emitter.render(m) for m in manifests] == [
        render.render_with_pyyaml(m) for m in manifests
    ]
    assert len(emitter._emitter.scalars) <= 4
