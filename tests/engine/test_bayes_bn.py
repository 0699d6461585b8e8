"""Bayesian binomial-normal model (analysis.engine.bayes_bn).

1. Does it agree with an independent brute-force integration in base R
   (tests/reference/bayes_bn_reference.R: trapezoid rule over each study's logit on a dense grid,
   dense (mu, tau) grid)? To 5e-3 on the logit scale (about 0.0002 on the proportion scale near
   95 %), the discretisation error of the two schemes together.
2. Properties: mirror symmetry (events <-> non-events), monotonicity in the events, more
   heterogeneity prior -> wider interval, interval order, bad input.
3. metaprop(method="BAYES_BN") reports it on the proportion scale, without continuity correction.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from analysis import metaprop
from analysis.engine.bayes_bn import binomial_normal

REFERENCE = Path(__file__).parents[1] / "reference" / "bayes_bn_reference.json"
FIELDS = ("mu_lower", "mu_median", "mu_upper", "tau_lower", "tau_median", "tau_upper")


def _cases() -> list[dict]:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c['events']}/{c['n']}-hn{c['tau_scale']}")
def test_matches_brute_force_integration_in_r(case: dict) -> None:
    events = np.atleast_1d(case["events"])
    n = np.atleast_1d(case["n"])
    fit = binomial_normal(events, n, tau_scale=case["tau_scale"], mu_prior=case["mu_prior"],
                          mu_scale=case["mu_scale"])
    got = [getattr(fit, f) for f in FIELDS]
    want = [case[f] for f in FIELDS]
    np.testing.assert_allclose(got, want, rtol=0, atol=5e-3)


def test_reference_covers_zero_events_and_both_priors() -> None:
    cases = _cases()
    assert {c["tau_scale"] for c in cases} == {0.5, 1.0}
    assert {c["mu_prior"] for c in cases} == {"logistic", "normal"}
    assert any(max(np.atleast_1d(c["events"])) == 0 for c in cases)
    assert any(np.any(np.atleast_1d(c["events"]) == np.atleast_1d(c["n"])) for c in cases)


counts = st.lists(st.tuples(st.integers(1, 60), st.floats(0, 1)), min_size=1, max_size=6).map(
    lambda rows: ([round(f * n) for n, f in rows], [n for n, _ in rows]))


@settings(max_examples=25, deadline=None)
@given(counts)
def test_mirror_symmetry(data: tuple[list[int], list[int]]) -> None:
    """With a prior centred at 0, events <-> non-events mirrors the posterior of mu."""
    x, n = np.array(data[0]), np.array(data[1])
    a = binomial_normal(x, n)
    b = binomial_normal(n - x, n)
    assert a.mu_median == pytest.approx(-b.mu_median, abs=2e-3)
    assert a.mu_lower == pytest.approx(-b.mu_upper, abs=2e-3)
    assert a.tau_median == pytest.approx(b.tau_median, abs=2e-3)
    assert a.mu_lower < a.mu_median < a.mu_upper
    assert a.pred_lower <= a.mu_lower and a.pred_upper >= a.mu_upper
    assert 0 <= a.tau_lower < a.tau_median < a.tau_upper


def test_more_events_higher_estimate_and_all_events_finite() -> None:
    meds = [binomial_normal([x, 20], [20, 25]).mu_median for x in range(0, 21, 5)]
    assert all(b > a for a, b in itertools.pairwise(meds))
    allev = binomial_normal([12, 1, 5], [12, 1, 5])
    assert math.isfinite(allev.mu_median) and allev.mu_median > 2


def test_wider_tau_prior_wider_interval() -> None:
    x, n = [12, 26, 5, 3], [12, 31, 5, 10]
    narrow, wide = binomial_normal(x, n, 0.5), binomial_normal(x, n, 1.0)
    assert wide.mu_upper - wide.mu_lower > narrow.mu_upper - narrow.mu_lower
    assert wide.tau_median > narrow.tau_median


@pytest.mark.parametrize(("events", "n", "match"), [
    ([3], [2], "events <= n"), ([1.5], [3], "whole counts"), ([1], [0], "n >= 1"),
    ([], [], "length >= 1"), ([1, 2], [3], "same length")])
def test_bad_counts(events: list, n: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        binomial_normal(events, n)


def test_bad_prior_settings() -> None:
    with pytest.raises(ValueError, match="tau_scale"):
        binomial_normal([1], [2], tau_scale=0)
    with pytest.raises(ValueError, match="level"):
        binomial_normal([1], [2], level=95)


def test_metaprop_reports_it_without_continuity_correction() -> None:
    x, n = [12, 26, 5], [12, 31, 5]
    res = metaprop(x, n, method="BAYES_BN", tau_prior_scale=1.0)
    fit = binomial_normal(x, n, tau_scale=1.0)
    assert res.estimate == pytest.approx(special.expit(fit.mu_median), rel=1e-12)
    assert (res.ci_lower, res.ci_upper) == pytest.approx(
        tuple(special.expit([fit.mu_lower, fit.mu_upper])), rel=1e-12)
    assert res.n_corrected == 0 and res.ci == "credible" and res.pvalue is None
    assert res.tau2 == pytest.approx(fit.tau_median**2)
    assert "binomial-normal" in res.methods_text()
    with pytest.raises(ValueError, match="models the logit"):
        metaprop(x, n, measure="PFT", method="BAYES_BN")
