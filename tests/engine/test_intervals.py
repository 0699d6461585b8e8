"""analysis.engine.intervals: Clopper-Pearson (= R binom.test) and Wilson study intervals."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.engine.intervals import clopper_pearson, study_ci, wilson

PRITZ_X = [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6]
PRITZ_N = [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10]


def test_clopper_pearson_matches_meta_default_table() -> None:
    """Methods anchors O8 (meta method.ci="CP" = binom.test), 4-decimal values."""
    lo, hi = clopper_pearson(PRITZ_X, PRITZ_N)
    np.testing.assert_allclose(lo[:5], [0.7131, 0.5159, 0.1570, 0.6096, 0.6915], atol=5e-5)
    np.testing.assert_allclose(hi[:5], [0.9985, 0.9791, 0.8430, 0.8474, 1.0000], atol=5e-5)


def test_clopper_pearson_edges_are_exact() -> None:
    lo, hi = clopper_pearson([0, 10], [10, 10])
    assert lo[0] == 0.0 and hi[1] == 1.0
    # x = 0: upper = 1 - (alpha/2)^(1/n)
    assert hi[0] == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-12)


def test_wilson_known_value() -> None:
    """Wilson (1927) interval for 4/10 at 95 %: closed form evaluated by hand."""
    z = 1.959963984540054
    p, n = 0.4, 10
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    lo, hi = wilson([4], [10])
    assert lo[0] == pytest.approx(centre - half, rel=1e-12)
    assert hi[0] == pytest.approx(centre + half, rel=1e-12)
    assert lo[0] == pytest.approx(0.1682, abs=5e-5) and hi[0] == pytest.approx(0.6873, abs=5e-5)


def test_intervals_stay_in_unit_interval_and_contain_p() -> None:
    x = np.arange(0, 21)
    n = np.full(21, 20)
    for f in (clopper_pearson, wilson):
        lo, hi = f(x, n)
        assert np.all(lo >= 0) and np.all(hi <= 1)
        assert np.all(lo <= x / n) and np.all(x / n <= hi)


def test_dispatch_and_errors() -> None:
    assert study_ci([1], [2], "wilson")[0][0] == wilson([1], [2])[0][0]
    with pytest.raises(ValueError, match="study_ci must be one of"):
        study_ci([1], [2], "agresti")
    with pytest.raises(ValueError, match="events <= n"):
        clopper_pearson([3], [2])
    with pytest.raises(ValueError, match="level"):
        wilson([1], [2], level=95)


def test_clopper_pearson_equals_scipy_stats_beta_quantiles_exactly() -> None:
    """The engine calls the ufunc behind scipy.stats.beta.ppf; the values must not change."""
    from scipy import stats

    n = np.repeat(np.arange(1, 41), 41)
    x = np.tile(np.arange(41), 40)
    keep = x <= n
    x, n = x[keep], n[keep]
    for level in (0.95, 0.9, 0.5):
        lo, hi = clopper_pearson(x, n, level)
        a = (1 - level) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            ref_lo = np.where(x == 0, 0.0, stats.beta.ppf(a, x, n - x + 1))
            ref_hi = np.where(x == n, 1.0, stats.beta.ppf(1 - a, x + 1, n - x))
        assert np.array_equal(lo, ref_lo) and np.array_equal(hi, ref_hi)
