"""Standard Theia's TAD algorithms on constructed series, with upstream's edge cases."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from theia_sf.tad.algorithms import (
    ArimaSkipped,
    arima_predictions,
    dbscan_noise,
    ewma,
    sample_stddev,
    score_arima,
    score_dbscan,
    score_ewma,
)
from theia_sf.tad.model import Variant

THEIA, CORRECTED = Variant.THEIA, Variant.CORRECTED


def flagged(flags):
    return [i for i, f in enumerate(flags) if f]


# --- EWMA -----------------------------------------------------------------------------------


def test_ewma_starts_at_zero_and_includes_the_current_point():
    assert ewma([2.0, 4.0, 8.0]) == [1.0, 2.5, 5.25]
    assert ewma([2.0, 4.0, 8.0], from_first=True) == [2.0, 3.0, 5.5]


def test_ewma_flags_strictly_above_the_sample_stddev():
    values = [10.0, 10.0, 10.0, 10.0, 40.0, 10.0]
    s = sample_stddev(values)
    calc, flags = score_ewma(values, s, THEIA)
    assert calc == ewma(values)
    assert flagged(flags) == [
        i for i, (x, e) in enumerate(zip(values, calc, strict=True)) if abs(x - e) > s
    ]
    assert flagged(flags) == [4]  # e_4 = 24.7: the spike is 15.3 off, s = 12.2
    # Exactly at the threshold is not anomalous.
    _, flags = score_ewma([2.0, 2.0], 1.0, THEIA)
    assert flagged(flags) == []  # |2 - 1| == 1 is not > 1


def test_ewma_constant_series_has_warm_up_alarms_upstream_and_none_corrected():
    values = [1000.0] * 60
    _, flags = score_ewma(values, 0.0, THEIA)  # s = 0 for a constant series
    assert flagged(flags) == list(range(53))  # as observed on standard Theia
    assert flagged(score_ewma(values, 0.0, CORRECTED)[1]) == []


def test_ewma_low_variance_series_is_all_flagged_upstream():
    values = [1000.0, 1001.0, 999.0, 1000.0, 1002.0, 998.0, 1000.0, 1001.0]
    s = sample_stddev(values)
    assert s == pytest.approx(1.246, abs=1e-3)
    assert flagged(score_ewma(values, s, THEIA)[1]) == list(range(8))
    assert len(flagged(score_ewma(values, s, CORRECTED)[1])) <= 2


def test_ewma_single_point_and_missing_stddev_flag_nothing():
    assert score_ewma([5e9], None, THEIA) == ([2.5e9], [False])
    assert score_ewma([1.0, 9.0], float("nan"), THEIA)[1] == [False, False]


def test_corrected_threshold_is_not_inflated_by_the_anomalies():
    rng = random.Random(3)
    values = [1e6 + rng.gauss(0, 1e4) for _ in range(80)]
    values[30] = 1e9  # a huge spike inflates the whole-series stddev ...
    values[60] = 1.3e6  # ... and hides this smaller anomaly
    s = statistics.stdev(values)
    upstream = flagged(score_ewma(values, s, THEIA)[1])
    assert 60 not in upstream and 30 in upstream
    corrected = flagged(score_ewma(values, s, CORRECTED)[1])
    assert {30, 60} <= set(corrected)


# --- ARIMA ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3])
def test_arima_skips_series_of_three_points_or_fewer(n):
    with pytest.raises(ArimaSkipped, match="points"):
        arima_predictions([5.0, 6.0, 7.0][:n])


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ([4.0, 0.0, 5.0, 6.0, 5.0], "positive"),  # Box-Cox needs positive data
        ([7.0] * 6, "constant"),
    ],
)
def test_arima_skips_what_box_cox_cannot_take(values, reason):
    with pytest.raises(ArimaSkipped, match=reason):
        score_arima(values, sample_stddev(values), THEIA)


def test_arima_walks_forward_with_seed_points_as_their_own_predictions():
    values = [100.0, 104.0, 98.0, 102.0, 101.0, 99.0, 400.0, 103.0, 100.0]
    s = sample_stddev(values)
    calc, flags = score_arima(values, s, THEIA)
    assert len(calc) == len(values)
    # The seed points come back through Box-Cox and its inverse (a spike makes λ extreme,
    # which costs digits), far inside any threshold: never flagged.
    assert calc[:3] == pytest.approx(values[:3], rel=1e-4)
    assert not any(flags[:3])
    assert all(math.isfinite(c) for c in calc)
    assert 6 in flagged(flags)  # the spike


def test_arima_four_points_predicts_one():
    values = [10.0, 12.0, 11.0, 30.0]
    calc = arima_predictions(values)
    assert len(calc) == 4 and calc[:3] == pytest.approx(values[:3], rel=1e-9)


# --- DBSCAN ---------------------------------------------------------------------------------


def test_dbscan_neighbourhood_is_inclusive_with_absolute_eps():
    assert dbscan_noise([1e9, 1e9, 1e9, 1.25e9]) == [False] * 4
    assert dbscan_noise([1e9, 1e9, 1e9, 1.25e9 + 1]) == [True] * 4


@pytest.mark.parametrize("n", [1, 2, 3])
def test_dbscan_flags_every_point_of_a_short_series_upstream_only(n):
    values = [5e6] * n
    assert score_dbscan(values, None, THEIA) == ([0.0] * n, [True] * n)
    assert score_dbscan(values, None, CORRECTED)[1] == [False] * n


def test_dbscan_border_points_are_not_noise_and_order_does_not_matter():
    core = [1e9, 1.1e9, 1.2e9, 1.05e9]
    border = 1.4e9  # within eps of 1.2e9 (a core point), itself not core
    far = 3e9
    values = [far, *core, border]
    assert flagged(dbscan_noise(values)) == [0]
    shuffled = [border, core[2], far, core[0], core[3], core[1]]
    assert flagged(dbscan_noise(shuffled)) == [2]
    calc, flags = score_dbscan(values, 123.0, THEIA)
    assert calc == [0.0] * 6 and flags == dbscan_noise(values)


def test_dbscan_constant_series_has_no_noise():
    assert score_dbscan([42.0] * 10, 0.0, THEIA)[1] == [False] * 10


# --- configuration and series identity ------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"algorithm": "ewma"}, "algorithm"),
        ({"agg_flow": "node"}, "agg_flow"),
        ({"variant": "x"}, "variant"),
        ({"pod_label": '"app":"web"'}, "pod_label filters agg_flow=pod"),
        ({"agg_flow": "svc", "external_ip": "203.0.113.9"}, "external_ip filters"),
        ({"agg_flow": "pod", "pod_namespace": "shop"}, "needs pod_label or pod_name"),
        ({"agg_flow": "pod", "pod_name": "Web_1"}, "pod_name"),
        ({"agg_flow": "pod", "pod_label": "a\nb"}, "pod_label"),
        ({"agg_flow": "external", "external_ip": "10.0.0.300"}, "not an IP"),
        ({"agg_flow": "svc", "svc_port_name": "web"}, "svc_port_name"),
        ({"ns_ignore_list": "kube-system"}, "ns_ignore_list"),
        ({"ns_ignore_list": ["kube_system"]}, "ns_ignore_list"),
        ({"ns_ignore_list": [f"ns{i}" for i in range(101)]}, "at most 100"),
        ({"cluster_uuid": "x"}, "cluster_uuid"),
    ],
)
def test_bad_config_names_the_param(kwargs, message):
    from theia_sf.errors import ConfigurationError
    from theia_sf.tad.model import TadConfig

    with pytest.raises(ConfigurationError, match=message):
        TadConfig(**kwargs)


def test_config_record_round_trips_and_run_ids_differ_per_parameter():
    import datetime as dt

    from theia_sf.tad.model import TadConfig, run_id_for
    from theia_sf.timewindow import Window

    config = TadConfig(agg_flow="external", external_ip="2001:db8::0:1", ns_ignore_list=["b", "a"])
    assert config.external_ip == "2001:db8::1" and config.ns_ignore_list == ("a", "b")
    assert TadConfig(**config.to_record()) == config
    w = Window(dt.datetime(2024, 5, 1, tzinfo=dt.UTC), dt.datetime(2024, 5, 2, tzinfo=dt.UTC))
    assert run_id_for(config, w) == run_id_for(TadConfig(**config.to_record()), w)
    assert run_id_for(config, w) != run_id_for(TadConfig(agg_flow="external"), w)
    assert run_id_for(TadConfig(), w) != run_id_for(TadConfig(variant="corrected"), w)


def test_labels_are_cleaned_as_standard_theia_shows_them():
    from theia_sf.tad.model import clean_labels

    text = '{"pod-template-hash":"7c9f","app":"web","controller-revision-hash":"1","tier":"a"}'
    assert clean_labels(text) == '{"app": "web", "tier": "a"}'
    assert clean_labels("not json") == "" and clean_labels("[1]") == ""
    assert clean_labels(None) is None
