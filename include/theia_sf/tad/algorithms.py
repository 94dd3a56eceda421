"""Standard Theia's three throughput algorithms, per series, as its code computes them.

Each scorer takes a series' values in time order and its sample standard deviation ``s``
(``None`` for a single point) and returns ``(algo_calc, flags)`` of the same length, or
``None`` when the series cannot be scored (standard Theia then writes nothing for it).

* EWMA: ``e_i = 0.5·e_{i-1} + 0.5·x_i`` from ``e_{-1} = 0``; flagged when ``|x_i − e_i| > s``
  (strict; no flag when ``s`` is None).
* ARIMA: Box-Cox over the whole series (λ by maximum likelihood), the first 3 transformed
  values as history, then for every later point a fresh ARIMA(1,1,1) fitted on the history
  (statsmodels' defaults) and its one-step forecast, the actual value appended after;
  predictions back-transformed, the 3 seed points are their own predictions. Flagged when
  ``|x_i − prediction_i| > s``. Not scored: 3 points or fewer, a value ≤ 0 or a constant series
  (Box-Cox needs positive, varying data), any failed fit.
* DBSCAN: scikit-learn's DBSCAN with ``eps = 2.5e8`` and ``min_samples = 4`` on the 1-D
  values; flagged when noise. In one dimension that is a counting rule: ``x`` is core when at
  least 4 values (itself included) lie within ``eps`` (inclusive), and noise when it is not
  core and no core value lies within ``eps``. ``algo_calc`` is 0. Order plays no part; a series
  of fewer than 4 points is all noise.

The ``corrected`` variant fixes three flaws, leaving the rest as is: EWMA starts from the first
value (``e_{-1} = x_0``) instead of 0, so a steady series has no warm-up alarms; and the
threshold ``s`` of EWMA and ARIMA is the sample standard deviation of the points that the
standard threshold did *not* flag, so one huge spike no longer hides smaller anomalies (one
re-estimation: repeating it would eat into the ordinary noise, since the threshold is one
standard deviation); and DBSCAN does not flag series shorter than ``min_samples``, which
standard Theia flags entirely (no point can have a dense neighbourhood there).
"""

from __future__ import annotations

import bisect
import math
import warnings
from collections.abc import Callable, Sequence

from theia_sf.tad.model import Algorithm, Variant

EWMA_ALPHA = 0.5
ARIMA_ORDER = (1, 1, 1)
ARIMA_SEED_POINTS = 3
DBSCAN_EPS = 250_000_000.0
DBSCAN_MIN_SAMPLES = 4

Scored = tuple[list[float], list[bool]]


def ewma(values: Sequence[float], *, from_first: bool = False) -> list[float]:
    """The EWMA of each point, the point itself included (α = 0.5)."""
    previous = float(values[0]) if from_first and values else 0.0
    out = []
    for x in values:
        previous = (1 - EWMA_ALPHA) * previous + EWMA_ALPHA * float(x)
        out.append(previous)
    return out


def threshold_flags(
    values: Sequence[float], calc: Sequence[float], stddev: float | None
) -> list[bool]:
    """``|x − calc| > stddev``, strict; nothing is flagged without a standard deviation."""
    if stddev is None or math.isnan(stddev):
        return [False] * len(values)
    return [abs(float(x) - c) > stddev for x, c in zip(values, calc, strict=True)]


def sample_stddev(values: Sequence[float]) -> float | None:
    n = len(values)
    if n < 2:
        return None
    mean = math.fsum(values) / n
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))


def corrected_stddev(
    values: Sequence[float], calc: Sequence[float], stddev: float | None
) -> float | None:
    """The sample standard deviation without the points the standard threshold flags."""
    flags = threshold_flags(values, calc, stddev)
    kept = [float(x) for x, flagged in zip(values, flags, strict=True) if not flagged]
    corrected = sample_stddev(kept)
    return stddev if corrected is None else corrected


def score_ewma(values: Sequence[float], stddev: float | None, variant: Variant) -> Scored:
    corrected = variant is Variant.CORRECTED
    calc = ewma(values, from_first=corrected)
    if corrected:
        stddev = corrected_stddev(values, calc, stddev)
    return calc, threshold_flags(values, calc, stddev)


class ArimaSkipped(Exception):
    """A series ARIMA cannot score (standard Theia logs it and writes nothing)."""


def arima_predictions(values: Sequence[float]) -> list[float]:
    """Walk-forward ARIMA(1,1,1) predictions in the original scale (see the module docstring).

    Raises :class:`ArimaSkipped` with the reason when the series cannot be scored."""
    if len(values) <= ARIMA_SEED_POINTS:
        raise ArimaSkipped(f"{len(values)} points; ARIMA needs more than {ARIMA_SEED_POINTS}")
    data = [float(x) for x in values]
    if min(data) <= 0:
        raise ArimaSkipped("a value <= 0 (Box-Cox needs positive data)")
    if max(data) == min(data):
        raise ArimaSkipped("a constant series (Box-Cox needs varying data)")
    # Heavy imports here: only ARIMA runs need them.
    from scipy.special import inv_boxcox
    from scipy.stats import boxcox
    from statsmodels.tsa.arima.model import ARIMA

    with warnings.catch_warnings():
        # statsmodels warns about convergence and index-less data on nearly every fit, as in
        # standard Theia, which silences them too.
        warnings.simplefilter("ignore")
        try:
            transformed, lmbda = boxcox(data)
            transformed = transformed.tolist()
            history = transformed[:ARIMA_SEED_POINTS]
            predictions = []
            for observed in transformed[ARIMA_SEED_POINTS:]:
                fitted = ARIMA(history, order=ARIMA_ORDER).fit()
                predictions.append(float(fitted.forecast()[0]))
                history.append(observed)
            back = inv_boxcox(transformed[:ARIMA_SEED_POINTS] + predictions, lmbda)
        except Exception as error:  # standard Theia skips the series on any fit error
            raise ArimaSkipped(f"{type(error).__name__}: {error}") from None
    return [float(x) for x in back]


def score_arima(values: Sequence[float], stddev: float | None, variant: Variant) -> Scored:
    calc = arima_predictions(values)
    if variant is Variant.CORRECTED:
        stddev = corrected_stddev(values, calc, stddev)
    # A NaN prediction (inv_boxcox out of its domain) is never flagged, as upstream.
    return calc, [
        flag and not math.isnan(c)
        for flag, c in zip(threshold_flags(values, calc, stddev), calc, strict=True)
    ]


def dbscan_noise(
    values: Sequence[float], *, eps: float = DBSCAN_EPS, min_samples: int = DBSCAN_MIN_SAMPLES
) -> list[bool]:
    """DBSCAN's noise points of 1-D values (the counting rule of the module docstring)."""
    ordered = sorted(float(x) for x in values)

    def within(sorted_values: list[float], x: float) -> int:
        return bisect.bisect_right(sorted_values, x + eps) - bisect.bisect_left(
            sorted_values, x - eps
        )

    core = sorted(x for x in ordered if within(ordered, x) >= min_samples)
    return [not core or within(core, float(x)) == 0 for x in values]


def score_dbscan(values: Sequence[float], stddev: float | None, variant: Variant) -> Scored:
    if variant is Variant.CORRECTED and len(values) < DBSCAN_MIN_SAMPLES:
        return [0.0] * len(values), [False] * len(values)  # too few points to have a density
    return [0.0] * len(values), dbscan_noise(values)


SCORERS: dict[Algorithm, Callable[[Sequence[float], float | None, Variant], Scored]] = {
    Algorithm.EWMA: score_ewma,
    Algorithm.ARIMA: score_arima,
    Algorithm.DBSCAN: score_dbscan,
}
