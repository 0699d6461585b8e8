"""Exact answers without a model (analysis.engine.exact): one study, or every study at one boundary.

Reference values are R's ``binom.test`` intervals (Clopper-Pearson), which are beta quantiles:
checked here against scipy's beta distribution, and by properties (Hypothesis).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import beta

from analysis.engine.exact import exact_case, exact_note, exact_pooled


@pytest.mark.parametrize(("events", "n", "case"), [
    ([12], [12], "single study"),
    ([0], [7], "single study"),
    ([0, 0, 0], [12, 9, 20], "no events"),
    ([10, 10, 10], [10, 10, 10], "all events"),
    ([0, 10], [10, 10], None),
    ([3, 4], [10, 10], None),
])
def test_exact_case(events: list[int], n: list[int], case: str | None) -> None:
    assert exact_case(events, n) == case


def test_published_clopper_pearson_values() -> None:
    # binom.test(12, 12)$conf.int = 0.7353515 1; binom.test(0, 41)$conf.int = 0 0.08604385
    est, lo, hi = exact_pooled([12], [12])
    assert (est, hi) == (1.0, 1.0) and lo == pytest.approx(0.7353515, abs=1e-7)
    est, lo, hi = exact_pooled([0, 0, 0], [12, 9, 20])
    assert (est, lo) == (0.0, 0.0) and hi == pytest.approx(0.08604385, abs=1e-7)


@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 60)), min_size=1, max_size=8),
       st.sampled_from([0.9, 0.95, 0.99]))
def test_pooled_interval_is_the_beta_quantiles_of_the_summed_counts(pairs: list[tuple[int, int]],
                                                                      level: float) -> None:
    events = [min(x, m) for x, m in pairs]
    n = [m for _, m in pairs]
    x, m = sum(events), sum(n)
    est, lo, hi = exact_pooled(events, n, level)
    alpha = 1 - level
    assert est == pytest.approx(x / m)
    assert lo == (0.0 if x == 0 else pytest.approx(beta.ppf(alpha / 2, x, m - x + 1), rel=1e-9))
    assert hi == (1.0 if x == m else pytest.approx(beta.ppf(1 - alpha / 2, x + 1, m - x), rel=1e-9))
    assert 0.0 <= lo <= est <= hi <= 1.0 and hi - lo > 0


def test_notes_say_why_no_model_was_fitted() -> None:
    assert "one study" in exact_note("single study", "GLMM", 1)
    assert "GLMM" in exact_note("single study", "GLMM", 1)
    text = exact_note("no events", "REML", 3)
    assert "no study has an event (3 studies)" in text and "Clopper-Pearson" in text
    assert "every participant of every study has the event" in exact_note("all events", "DL", 2)
