"""The pre-specified rule that chooses the primary method (analysis.engine.method_choice), on
hand-made SYNTHETIC summaries where the right answer of every step is known."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.engine.method_choice import choose_method, in_box
from analysis.evidence.readers import load_yaml
from tools import simulate

RULE = {"coverage_floor": 0.925, "bias_limit": 0.03, "band_mcse": 2, "count_tolerance": 0.0,
        "bias_tolerance": 0.005}
PLAN = {"candidates": ["A", "B", "C"], "level": 0.95, "rule": RULE,
        "relevant": {"k": [2, 10], "proportion": [0.8, 0.99], "tau": [0, 1]},
        "core": {"k": [3, 10], "proportion": [0.8, 0.95], "tau": [0, 0.5]}}
SCENARIOS = [(2, 0.99, 1.0), (3, 0.9, 0.5), (10, 0.8, 0.0)]  # the first is outside the core


def _summary(cov: dict, bias: dict | None = None, score: dict | None = None) -> pd.DataFrame:
    rows = []
    for i, (k, p, tau) in enumerate(SCENARIOS):
        for m in cov:
            rows.append({"k": k, "proportion": p, "tau": tau, "method": m, "replicates": 1000,
                         "coverage_ci": cov[m][i], "coverage_ci_mcse": 0.0, "coverage_pi": 0.95,
                         "coverage_pi_mcse": 0.0, "bias": (bias or {}).get(m, [0, 0, 0])[i],
                         "bias_mcse": 0.0, "width_ci": 0.1, "width_ci_mcse": 0.0,
                         "width_pi": 0.2, "interval_score": (score or {}).get(m, [1, 1, 1])[i],
                         "interval_score_mcse": 0.0, "failure_rate": 0.0})
    return pd.DataFrame(rows)


def test_in_box_closed_ranges() -> None:
    s = _summary({"A": [0.95] * 3})
    assert in_box(s, PLAN["core"]).tolist() == [False, True, True]


def test_gate_excludes_undercoverage_in_the_core() -> None:
    s = _summary({"A": [0.95, 0.92, 0.95], "B": [0.80, 0.95, 0.95], "C": [0.95, 0.95, 0.99]})
    c = choose_method(s, PLAN)
    assert c.steps[0].kept == ("B", "C")  # A below the floor in the core; B's 0.80 is outside it
    assert c.core_scenarios == 2 and c.relevant_scenarios == 3
    # two-sided: B is off nominal once (below), C once (above): tie, then bias, then score
    assert c.steps[1].values == {"B": 1.0, "C": 1.0}
    assert c.chosen == "B"  # equal bias and score: the candidate listed first
    assert c.steps[-1].name == "tie-break"


def test_overcoverage_counts_against_a_method() -> None:
    """An interval that always covers (like [0, 1]) is off nominal in every scenario."""
    s = _summary({"A": [1.0, 1.0, 1.0], "B": [0.95, 0.945, 0.955]})
    c = choose_method(s, {**PLAN, "candidates": ["A", "B"]})
    assert c.steps[1].values == {"A": 3.0, "B": 0.0}
    assert c.chosen == "B"
    assert c.band == pytest.approx((0.95 - 2 * (0.95 * 0.05 / 1000) ** 0.5,
                                    0.95 + 2 * (0.95 * 0.05 / 1000) ** 0.5))


def test_bias_then_interval_score_decide() -> None:
    cov = {"A": [0.95] * 3, "B": [0.95] * 3, "C": [0.95] * 3}
    s = _summary(cov, bias={"A": [0.02, 0, 0], "B": [0.001, 0, 0], "C": [0.004, 0, 0]},
                 score={"A": [0.1] * 3, "B": [0.3] * 3, "C": [0.2] * 3})
    c = choose_method(s, PLAN)
    assert c.steps[2].kept == ("B", "C")  # A's bias 0.02 is more than 0.005 above B's 0.001
    assert c.chosen == "C" and c.steps[3].values == pytest.approx({"B": 0.3, "C": 0.2})


def test_bias_limit_in_the_gate() -> None:
    s = _summary({"A": [0.95] * 3, "B": [0.95] * 3}, bias={"A": [0, -0.031, 0]})
    assert choose_method(s, {**PLAN, "candidates": ["A", "B"]}).steps[0].kept == ("B",)


def test_nobody_passes_the_gate() -> None:
    s = _summary({"A": [0.95, 0.90, 0.95], "B": [0.95, 0.91, 0.95]})
    c = choose_method(s, {**PLAN, "candidates": ["A", "B"]})
    assert c.steps[0].kept == ("B",) and "no candidate passed" in c.steps[0].note


def test_missing_candidate_is_an_error() -> None:
    with pytest.raises(ValueError, match="no relevant scenarios in the summary for C"):
        choose_method(_summary({"A": [0.95] * 3, "B": [0.95] * 3}), PLAN)


def test_review_plan_names_known_methods_and_a_complete_rule() -> None:
    from analysis.engine.simulation import METHODS

    plan = load_yaml(simulate.PLAN)
    assert set(plan["candidates"]) <= set(METHODS)
    assert set(RULE) <= set(plan["rule"])
    assert plan["rule"]["band_mcse"] == 2 and plan["level"] == 0.95


def test_rule_and_choice_in_words() -> None:
    from analysis.engine.method_choice import choice_text, rule_text

    plan = {**PLAN, "replicates": 1000}
    text = " ".join(rule_text(plan, {"A": "Method A"}))
    assert "Method A; B; C" in text and "at least 92.5 %" in text and "0.69 points" in text
    s = _summary({"A": [1.0, 1.0, 1.0], "B": [0.95, 0.945, 0.955]})
    lines = choice_text(choose_method(s, {**PLAN, "candidates": ["A", "B"]}))
    assert lines[1] == ("Two-sided coverage: A: 3 of 3 off nominal; B: 0 of 3 off nominal. "
                        "Went on: B.")
    assert lines[-1] == "Chosen: B."


@pytest.mark.slow
@pytest.mark.parametrize("k", [3, 8])
@pytest.mark.parametrize("p", [0.8, 0.95])
@pytest.mark.parametrize("tau", [0.0, 0.5])
def test_review_primary_holds_coverage_and_bias_in_the_evidence_box(k: int, p: float, tau: float) -> None:
    """The plan's primary analysis, called through metaprop with its keys, at the corners of the
    box like this evidence (k 3-8, p 0.80-0.95, tau 0-0.5, n 4-40; SYNTHETIC data, a seed per
    corner): coverage not detectably below 92.5 % and |bias| within 3 points."""
    import math

    import numpy as np
    from scipy import special

    from analysis import metaprop
    from analysis.evidence.pipeline import engine_options

    keys = engine_options(load_yaml(simulate.PLAN.parent / "analysis_plan.yaml")["primary"])
    rng = np.random.default_rng([20261204, k, round(p * 100), round(tau * 10)])
    reps, hits, errors = 400, 0, []
    for _ in range(reps):
        n = rng.integers(4, 41, k)
        x = rng.binomial(n, special.expit(special.logit(p) + tau * rng.standard_normal(k)))
        res = metaprop(x, n, **keys)
        hits += res.ci_lower <= p <= res.ci_upper
        errors.append(res.estimate - p)
    coverage = hits / reps
    assert coverage >= 0.925 - 2 * math.sqrt(0.925 * 0.075 / reps)
    assert abs(float(np.mean(errors))) <= 0.03
