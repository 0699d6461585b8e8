"""Property-based tests (hypothesis) of metaprop on synthetic, randomly generated counts.

``test_every_interval_has_positive_width_and_holds_the_estimate`` covers every method (the
inverse-variance estimators, the GLMM, both Bayesian models), every ``ci`` option and data drawn
to include the degenerate cases on purpose: one study, no events anywhere, every participant with
the event, identical studies, and studies at both boundaries only.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import metaprop

METHODS = ["EE", "DL", "REML", "ML", "PM", "SJ", "HE"]
MEASURES = ["PLO", "PAS", "PFT", "PR"]
#: (ci, pi) pairs for which CI-inside-PI must hold; ("hksj", "z") can legitimately be narrower.
NESTED = [("z", "z"), ("z", "t"), ("hksj", "t")]


@st.composite
def studies(draw: st.DrawFn, min_k: int = 1, max_k: int = 12) -> tuple[list[int], list[int]]:
    """Synthetic studies: n in 1..200, events in 0..n."""
    k = draw(st.integers(min_k, max_k))
    n = draw(st.lists(st.integers(1, 200), min_size=k, max_size=k))
    x = [draw(st.integers(0, ni)) for ni in n]
    return x, n


PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _values(res) -> list[float]:  # type: ignore[no-untyped-def]
    return [res.estimate, res.ci_lower, res.ci_upper, res.pi_lower, res.pi_upper, res.mu,
            res.se, res.tau2, res.q, res.i2, res.i2_q, res.h2, *res.tau2_ci]


@PROPS
@given(data=studies(min_k=2), method=st.sampled_from(METHODS),
       measure=st.sampled_from(MEASURES), seed=st.integers(0, 2**32 - 1))
def test_study_order_does_not_matter(data, method, measure, seed) -> None:  # type: ignore[no-untyped-def]
    x, n = data
    perm = np.random.default_rng(seed).permutation(len(x))
    a = metaprop(x, n, measure, method, labels=[f"s{i}" for i in range(len(x))])
    b = metaprop([x[i] for i in perm], [n[i] for i in perm], measure, method,
                 labels=[f"s{i}" for i in perm])
    np.testing.assert_allclose(_values(a), _values(b), rtol=1e-7, atol=1e-10)
    wa = dict(zip(a.studies["label"], a.studies["weight"], strict=True))
    wb = dict(zip(b.studies["label"], b.studies["weight"], strict=True))
    np.testing.assert_allclose([wa[k] for k in sorted(wa)], [wb[k] for k in sorted(wb)],
                               rtol=1e-7, atol=1e-10)


@PROPS
@given(data=studies(), method=st.sampled_from(METHODS), measure=st.sampled_from(MEASURES),
       ci_pi=st.sampled_from(NESTED))
def test_estimate_inside_ci_inside_pi(data, method, measure, ci_pi) -> None:  # type: ignore[no-untyped-def]
    x, n = data
    res = metaprop(x, n, measure, method, *ci_pi)
    eps = 1e-12
    assert res.ci_lower - eps <= res.estimate <= res.ci_upper + eps
    assert res.pi_lower - eps <= res.ci_lower and res.ci_upper <= res.pi_upper + eps
    assert res.mu_pi_lower - eps <= res.mu_ci_lower <= res.mu <= res.mu_ci_upper + eps


@PROPS
@given(data=studies(), method=st.sampled_from(METHODS), measure=st.sampled_from(MEASURES),
       ci=st.sampled_from(["z", "hksj"]), pi=st.sampled_from(["z", "t"]))
def test_results_finite_in_range_and_tau2_nonnegative(data, method, measure, ci, pi) -> None:  # type: ignore[no-untyped-def]
    x, n = data
    res = metaprop(x, n, measure, method, ci, pi)
    values = _values(res)
    if res.tau2_estimator == "EXACT":  # one study or all at a boundary: tau2 has no interval
        assert np.all(np.isnan(res.tau2_ci))
        values = values[:-2]
    assert np.all(np.isfinite(values))
    assert res.tau2 >= 0
    if res.tau2_estimator != "EXACT":
        assert res.tau2_ci[0] >= 0 and res.tau2_ci[1] >= res.tau2_ci[0]
    shown = [res.estimate, res.ci_lower, res.ci_upper, res.pi_lower, res.pi_upper]
    assert all(0.0 <= v <= 1.0 for v in shown)
    assert 0 <= res.i2 <= 100 and 0 <= res.i2_q <= 100
    assert abs(res.studies["weight"].sum() - 100) < 1e-9


@PROPS
@given(x=st.integers(0, 50), extra=st.integers(0, 50), k=st.integers(2, 10),
       method=st.sampled_from(METHODS[1:]), measure=st.sampled_from(MEASURES))
def test_identical_studies_give_tau2_zero(x, extra, k, method, measure) -> None:  # type: ignore[no-untyped-def]
    n = max(1, x + extra)
    res = metaprop([x] * k, [n] * k, measure, method)
    assert res.tau2 == 0.0 or res.tau2 < 1e-14
    assert res.q < 1e-12 and res.i2 < 1e-9


SLOW_PROPS = settings(max_examples=15, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow
@SLOW_PROPS
@given(data=studies(max_k=6), method=st.sampled_from(["GLMM", "BAYES"]),
       seed=st.integers(0, 2**32 - 1))
def test_glmm_and_bayes_finite_nested_and_order_free(data, method, seed) -> None:  # type: ignore[no-untyped-def]
    """GLMM (or its REML fallback) and BAYES: finite, in [0, 1], CI inside PI, order-free."""
    x, n = data
    res = metaprop(x, n, method=method)
    vals = [res.estimate, res.ci_lower, res.ci_upper, res.pi_lower, res.pi_upper, res.tau2]
    assert np.all(np.isfinite(vals)) and res.tau2 >= 0
    assert all(0 <= v <= 1 for v in vals[:5])
    eps = 1e-9
    assert res.ci_lower - eps <= res.estimate <= res.ci_upper + eps
    assert res.pi_lower - eps <= res.ci_lower and res.ci_upper <= res.pi_upper + eps
    perm = np.random.default_rng(seed).permutation(len(x))
    other = metaprop([x[i] for i in perm], [n[i] for i in perm], method=method)
    np.testing.assert_allclose([other.mu, other.tau2], [res.mu, res.tau2], rtol=1e-5, atol=1e-7)


@st.composite
def any_studies(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """Synthetic studies of one of six kinds: random, one study, no events, all events,
    identical studies, or studies at both boundaries only (0/n and n/n)."""
    kind = draw(st.sampled_from(["random", "single", "zero", "all", "ties", "both"]))
    k = 1 if kind == "single" else draw(st.integers(2, 8))
    n = draw(st.lists(st.integers(1, 60), min_size=k, max_size=k))
    if kind == "ties":
        m, x0 = draw(st.integers(1, 60)), draw(st.integers(0, 60))
        return [min(x0, m)] * k, [m] * k
    if kind == "zero":
        return [0] * k, n
    if kind == "all":
        return list(n), n
    if kind == "both":
        ends = draw(st.lists(st.booleans(), min_size=k, max_size=k).filter(lambda b: 0 < sum(b) < len(b)))
        return [ni if e else 0 for ni, e in zip(n, ends, strict=True)], n
    return [draw(st.integers(0, ni)) for ni in n], n


#: (method, measure, ci) combinations the engine accepts: every ci option of every method.
ALL_SETTINGS = (
    [(m, meas, ci) for m in METHODS for meas in MEASURES for ci in ("z", "hksj", "hksj_adhoc")]
    + [("GLMM", "PLO", ci) for ci in ("z", "t", "hksj", "hksj_adhoc")]
    + [("BAYES_BN", "PLO", "z"), ("BAYES", "PLO", "z"), ("BAYES", "PAS", "z")]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=any_studies(), setting=st.sampled_from(ALL_SETTINGS), pi=st.sampled_from(["z", "t"]))
def test_every_interval_has_positive_width_and_holds_the_estimate(data, setting, pi) -> None:  # type: ignore[no-untyped-def]
    """No zero-width interval, anywhere: 0 <= lower < upper <= 1 and lower <= estimate <= upper,
    for the confidence and the prediction interval."""
    x, n = data
    method, measure, ci = setting
    res = metaprop(x, n, measure, method, ci, pi)
    for lo, hi in ((res.ci_lower, res.ci_upper), (res.pi_lower, res.pi_upper)):
        assert 0.0 <= lo < hi <= 1.0, (lo, hi, res.notes)
        assert lo <= res.estimate <= hi, (lo, res.estimate, hi, res.notes)
