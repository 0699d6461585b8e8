"""The pre-specified rule that chooses the primary method (analysis.engine.method_choice), on
hand-made SYNTHETIC summaries where the right answer of every step is known.

With 1,000 replicates the Monte Carlo SE at 95 % is sqrt(0.95 x 0.05 / 1000) = 0.00689; with four
relevant scenarios and family alpha 0.05 the Bonferroni multiplier is the normal quantile
1 - 0.05 / 8, 2.4977, so the band is 95 % +/- 1.72 points: 0.9328 to 0.9672.
"""

from __future__ import annotations

import functools
import math

import pandas as pd
import pytest

from analysis.engine.method_choice import (
    band_multiplier,
    choice_text,
    choose_method,
    in_box,
    rule_text,
)
from analysis.evidence.readers import load_yaml
from tools import simulate

RULE = {"family_alpha": 0.05, "min_within": 0.5}
PLAN = {"candidates": ["A", "B", "C"], "level": 0.95, "rule": RULE,
        "relevant": {"k": [2, 10], "proportion": [0.8, 1.0], "tau": [0, 1]}}
#: Four relevant scenarios (two of them of other mechanisms) and one outside the box (k = 20).
SCENARIOS = [("binomial-normal", 0.0, 2, 0.99, 1.0), ("binomial-normal", 0.0, 3, 0.9, 0.5),
             ("beta-binomial", 20.0, 10, 0.95, 0.0), ("case-report", 0.0, 5, 0.9, 0.5),
             ("binomial-normal", 0.0, 20, 0.9, 0.5)]
LOW, HIGH = 0.95 - 2.4977 * 0.00689, 0.95 + 2.4977 * 0.00689


def _summary(cov: dict, score: dict | None = None, bias: dict | None = None) -> pd.DataFrame:
    rows = []
    for i, (mech, param, k, p, tau) in enumerate(SCENARIOS):
        for m in cov:
            rows.append({"k": k, "proportion": p, "tau": tau, "mechanism": mech, "param": param,
                         "method": m, "replicates": 1000, "coverage_ci": cov[m][i],
                         "coverage_ci_mcse": 0.0, "coverage_pi": 0.95, "coverage_pi_mcse": 0.0,
                         "bias": (bias or {}).get(m, [0] * 5)[i], "bias_mcse": 0.0,
                         "width_ci": 0.1 * (i + 1), "width_ci_mcse": 0.0, "width_pi": 0.2,
                         "interval_score": (score or {}).get(m, [1] * 5)[i],
                         "interval_score_mcse": 0.01, "failure_rate": 0.0})
    return pd.DataFrame(rows)


def test_band_is_bonferroni_over_the_relevant_scenarios() -> None:
    assert band_multiplier(4, 0.05) == pytest.approx(2.4977, abs=1e-4)  # R: qnorm(1 - 0.05/8)
    assert band_multiplier(85, 0.05) == pytest.approx(3.4370, abs=1e-4)  # R: qnorm(1 - 0.05/170)
    c = choose_method(_summary({"A": [0.95] * 5, "B": [0.95] * 5, "C": [0.95] * 5}), PLAN)
    assert c.relevant_scenarios == 4  # the k = 20 scenario lies outside the box
    assert c.mcse0 == pytest.approx(math.sqrt(0.95 * 0.05 / 1000))
    assert c.band == pytest.approx((LOW, HIGH), abs=1e-4)


def test_in_box_closed_ranges() -> None:
    s = _summary({"A": [0.95] * 5})
    assert in_box(s, PLAN["relevant"]).tolist() == [True, True, True, True, False]


def test_below_the_band_in_any_relevant_scenario_fails_the_gate() -> None:
    """A dips below the band once, even in a scenario of another mechanism; the k = 20 row of
    C lies outside the box and does not count."""
    s = _summary({"A": [0.95, 0.95, 0.92, 0.95, 0.95], "B": [0.95] * 5,
                  "C": [0.95, 0.95, 0.95, 0.95, 0.50]})
    c = choose_method(s, PLAN)
    assert c.steps[0].values == {"A": 1.0, "B": 0.0, "C": 0.0}
    assert c.steps[0].kept == ("B", "C")


def test_needlessly_wide_in_most_scenarios_fails_the_gate() -> None:
    """B covers 99-100 % in three of four scenarios: within the band in 1 of 4 < 50 %."""
    s = _summary({"A": [0.95, 0.94, 0.96, 0.95, 0.95], "B": [1.0, 0.99, 0.95, 0.995, 0.95]},
                 score={"A": [0.3] * 5, "B": [0.1] * 5})
    c = choose_method(s, {**PLAN, "candidates": ["A", "B"]})
    assert c.steps[0].details["within"] == {"A": 4.0, "B": 1.0}
    assert c.steps[0].details["above"] == {"A": 0.0, "B": 3.0}
    assert c.steps[0].kept == ("A",) and c.chosen == "A"  # B's better score does not matter


def test_scenarios_where_nobody_reaches_nominal_are_not_counted() -> None:
    """In the first scenario every candidate covers 100 % (as at a true proportion of 100 %):
    it leaves the count of (b); B is then within the band in 2 of 3 reachable scenarios."""
    s = _summary({"A": [1.0, 0.95, 0.95, 0.95, 0.95], "B": [1.0, 0.95, 0.99, 0.95, 0.95]},
                 score={"A": [0.3] * 5, "B": [0.2] * 5})
    c = choose_method(s, {**PLAN, "candidates": ["A", "B"]})
    assert c.reachable_scenarios == 3
    assert c.steps[0].details["within"] == {"A": 3.0, "B": 2.0}
    assert c.steps[0].kept == ("A", "B") and c.chosen == "B"


def test_interval_score_decides_not_bias() -> None:
    cov = {m: [0.95, 0.945, 0.955, 0.95, 0.95] for m in "ABC"}
    s = _summary(cov, score={"A": [0.3] * 5, "B": [0.2] * 5, "C": [0.25] * 5},
                 bias={"A": [0.0] * 5, "B": [0.04] * 5, "C": [0.0] * 5})
    c = choose_method(s, PLAN)
    assert [st.name for st in c.steps] == ["coverage gate", "interval score"]
    assert c.steps[1].values == pytest.approx({"A": 0.3, "B": 0.2, "C": 0.25})
    assert c.steps[1].details["mean_width"]["B"] == pytest.approx(0.25)  # (0.1+0.2+0.3+0.4)/4
    assert c.chosen == "B"


def test_exact_tie_goes_to_the_first_listed() -> None:
    s = _summary({"A": [0.95] * 5, "B": [0.95] * 5, "C": [0.95] * 5})
    c = choose_method(s, {**PLAN, "candidates": ["C", "A", "B"]})
    assert c.steps[-1].name == "tie-break" and c.chosen == "C"


def test_nobody_passes_part_b() -> None:
    s = _summary({"A": [0.99, 0.99, 0.99, 0.95, 0.95], "B": [0.99, 0.99, 0.95, 0.99, 0.95],
                  "C": [0.90, 0.95, 0.95, 0.95, 0.95]})
    c = choose_method(s, PLAN)
    assert c.steps[0].kept == ("A", "B") and "never below the band" in c.steps[0].note


def test_everybody_below_somewhere() -> None:
    s = _summary({"A": [0.90, 0.90, 0.95, 0.95, 0.95], "B": [0.90, 0.95, 0.95, 0.95, 0.95],
                  "C": [0.90, 0.95, 0.95, 0.91, 0.95]})
    c = choose_method(s, PLAN)
    assert c.steps[0].kept == ("B",) and "fewest" in c.steps[0].note
    assert "Went on: B (every candidate was below the band" in choice_text(c)[0]


def test_missing_or_unequal_candidates_are_errors() -> None:
    with pytest.raises(ValueError, match="no relevant scenarios in the summary for C"):
        choose_method(_summary({"A": [0.95] * 5, "B": [0.95] * 5}), PLAN)
    s = _summary({"A": [0.95] * 5, "B": [0.95] * 5, "C": [0.95] * 5})
    with pytest.raises(ValueError, match="not all simulated in the same"):
        choose_method(s.drop(index=s.index[(s.method == "C") & (s.k == 3)]), PLAN)


def test_rule_and_choice_in_words() -> None:
    plan = {**PLAN, "replicates": 1000}
    text = " ".join(rule_text(plan, {"A": "Method A"}, scenarios=4))
    assert "Method A; B; C" in text and "0.69 points" in text
    assert "z = 2.50 for S = 4 scenarios, so the band is 93.3 % to 96.7 %" in text
    assert "at least 50 % of the scenarios where nominal coverage is reachable" in text
    s = _summary({"A": [0.95, 0.94, 0.96, 0.95, 0.95], "B": [1.0, 0.99, 0.95, 0.995, 0.95]})
    lines = choice_text(choose_method(s, {**PLAN, "candidates": ["A", "B"]}), {"B": "Method B"})
    assert lines[0].startswith("Coverage gate: A: below the band in 0 of 4, within it in 4 of 4")
    assert "Method B: below the band in 0 of 4, within it in 1 of 4" in lines[0]
    assert lines[0].endswith("Passed: A.")
    assert lines[1].startswith("Interval score: A: mean interval score 1.000 (MCSE 0.005)")
    assert lines[-1] == "Chosen: A."


def test_review_plan_names_known_methods_and_a_complete_rule() -> None:
    from analysis.engine.simulation import METHODS

    plan = load_yaml(simulate.PLAN)
    assert set(plan["candidates"]) <= set(METHODS)
    assert set(plan["reported_only"]) <= set(METHODS)
    assert set(plan["rule"]) == set(RULE) | {"gate", "mean_z"}
    assert plan["rule"]["gate"] == "mean_coverage" and plan["rule"]["mean_z"] == 1.96
    assert plan["rule"]["family_alpha"] == 0.05 and plan["level"] == 0.95
    conf = simulate.confirmation_plan(plan)
    assert conf["seed"] != plan["seed"] and conf["candidates"] == plan["candidates"]
    assert set(conf["reported_only"]) <= set(METHODS)
    # no scenario of the confirmation run is a scenario of the grid
    assert not set(simulate.plan_grid(conf)) & set(simulate.plan_grid(plan))


# ----------------------------------------------------------------- the plan's primary, held out


def _primary_keys() -> dict:
    from analysis.evidence.pipeline import engine_options

    return engine_options(load_yaml(simulate.PLAN.parent / "analysis_plan.yaml")["primary"])


@pytest.mark.parametrize(("events", "n", "lo", "hi"), [
    ([12, 9, 20], [12, 9, 20], 0.9139562, 1.0),    # all 100 %: R binom.test(41, 41)
    ([0, 0, 0], [12, 9, 20], 0.0, 0.08604384),      # all 0 %: R binom.test(0, 41)
    ([12], [12], 0.7353515, 1.0),                   # one study: R binom.test(12, 12)
])
def test_plan_primary_gives_sane_intervals_for_degenerate_inputs(events, n, lo, hi) -> None:
    from analysis import metaprop

    res = metaprop(events, n, **_primary_keys())
    assert (res.ci_lower, res.ci_upper) == pytest.approx((lo, hi), abs=5e-8)
    assert res.ci_lower <= res.estimate <= res.ci_upper and res.n_corrected == 0
    assert "exact" in res.methods_text()


HELD_OUT = [
    (3, 0.9, "binomial-normal", 0.0, 0.5), (3, 0.99, "binomial-normal", 0.0, 1.0),
    (5, 0.95, "beta-binomial", 20.0, 0.0), (3, 0.9, "definition-shift", 0.1, 0.5),
]
#: Held-out scenarios where the primary's interval score is more than 25 % above that of the best
#: candidate covering there: at p = 0.9 and k = 3 the half-normal(1.0) model over-covers (97.5 %)
#: and the half-normal(0.5) one, which the rule's mean-coverage gate left out for covering too
#: rarely near 99 %, is narrower (scores 0.309 against 0.236, and 0.339 against 0.261).
WIDER_THAN_BEST = {(3, 0.9, "binomial-normal", 0.0, 0.5), (3, 0.9, "definition-shift", 0.1, 0.5)}
HELD_OUT_REPS = 200


@functools.cache
def _held_out(k: int, p: float, mechanism: str, param: float, tau: float) -> tuple[float, float, dict[str, tuple[float, float]]]:
    """The plan's primary through ``metaprop`` on a scenario held out from the stored study (its
    own seed, sizes 4 to 40 instead of 1 to 60; SYNTHETIC data): its coverage and mean interval
    score, and each candidate's (coverage, mean interval score) on the same data."""
    import numpy as np

    from analysis import metaprop
    from analysis.engine.simulation import (
        Scenario,
        fit_methods,
        interval_score,
        scenario_rng,
        simulate_data,
    )

    sc = Scenario(k, p, tau, 4, 40, mechanism, param)
    d = simulate_data(sc, HELD_OUT_REPS, scenario_rng(20261208, sc))
    keys = _primary_keys()
    got = [metaprop(d.events[r], d.n[r], **keys) for r in range(HELD_OUT_REPS)]
    lo = np.array([g.ci_lower for g in got])
    hi = np.array([g.ci_upper for g in got])
    coverage = float(np.mean((lo <= p) & (p <= hi)))
    fits = fit_methods(d.events, d.n, load_yaml(simulate.PLAN)["candidates"])
    cands = {m: (float(np.mean((o.ci_lower <= p) & (p <= o.ci_upper))),
                 float(np.mean(interval_score(o.ci_lower, o.ci_upper, p)))) for m, o in fits.items()}
    return coverage, float(np.mean(interval_score(lo, hi, p))), cands


#: 92 % less two Monte Carlo SEs of one scenario's coverage.
FLOOR = 0.92 - 2 * math.sqrt(0.92 * 0.08 / HELD_OUT_REPS)


@pytest.mark.slow
@pytest.mark.parametrize(("k", "p", "mechanism", "param", "tau"), HELD_OUT)
def test_plan_primary_covers_in_held_out_scenarios(k, p, mechanism, param, tau) -> None:
    """Coverage of at least 92 % (less two Monte Carlo SEs) through ``metaprop`` with the plan's
    settings, in scenarios like this evidence that the stored study did not use."""
    coverage, _, _ = _held_out(k, p, mechanism, param, tau)
    assert coverage >= FLOOR, coverage


@pytest.mark.slow
@pytest.mark.parametrize(("k", "p", "mechanism", "param", "tau"), [
    pytest.param(*h, marks=pytest.mark.xfail(strict=True, reason=(
        "the primary (half-normal 1.0 prior on tau) over-covers here and the half-normal(0.5) model "
        "is narrower: its interval score is about 1.3 times the best covering candidate's"))) if h in WIDER_THAN_BEST
    else h for h in HELD_OUT])
def test_plan_primary_scores_near_the_best_covering_candidate(k, p, mechanism, param, tau) -> None:
    """Mean interval score within 25 % of the best candidate that covers at least as required,
    scenario by scenario."""
    _, score, cands = _held_out(k, p, mechanism, param, tau)
    covering = [sc for cov, sc in cands.values() if cov >= FLOOR]
    assert score <= 1.25 * min(covering), (score, covering)


@pytest.mark.slow
def test_plan_primary_over_the_held_out_scenarios() -> None:
    """Over the held-out scenarios together: mean coverage at least 92 % (less two Monte Carlo SEs
    of a mean of coverages), and a mean interval score within 25 % of the best candidate whose
    mean coverage is as high."""
    runs = [_held_out(*h) for h in HELD_OUT]
    floor = 0.92 - 2 * math.sqrt(0.92 * 0.08 / HELD_OUT_REPS / len(HELD_OUT))
    coverage = sum(r[0] for r in runs) / len(runs)
    score = sum(r[1] for r in runs) / len(runs)
    means = {m: (sum(r[2][m][0] for r in runs) / len(runs), sum(r[2][m][1] for r in runs) / len(runs))
             for m in runs[0][2]}
    covering = [sc for cov, sc in means.values() if cov >= floor]
    assert coverage >= floor, coverage
    assert score <= 1.25 * min(covering), (score, means)


# --------------------------------------------------------------------------- mean-coverage gate

MEAN_PLAN = {**PLAN, "rule": {**RULE, "gate": "mean_coverage", "mean_z": 1.96}}
#: Bradley's band 0.925 to 0.975, widened by 1.96 x 0.00689 / sqrt(4) = 0.00675 each way.
MEAN_LO, MEAN_HI = 0.925 - 1.96 * math.sqrt(0.95 * 0.05 / 1000) / 2, 0.975 + 1.96 * math.sqrt(0.95 * 0.05 / 1000) / 2


def test_mean_band_is_bradley_widened_by_the_mcse_of_a_mean() -> None:
    from analysis.engine.method_choice import mean_band

    assert mean_band(0.95, math.sqrt(0.95 * 0.05 / 1000), 4, 1.96) == pytest.approx((MEAN_LO, MEAN_HI))
    assert mean_band(0.9, 0.01, 1, 0.0) == pytest.approx((0.85, 0.95))  # 90 % +/- 5 points
    with pytest.raises(ValueError, match="at least one scenario"):
        mean_band(0.95, 0.01, 0, 1.96)


def test_mean_gate_is_two_sided_and_the_interval_score_then_chooses() -> None:
    # A too wide (mean 0.99), B adequate but wider, C adequate and narrowest: C wins on score.
    # C is below the per-scenario band in one scenario (0.90): reported, not used to choose.
    s = _summary({"A": [0.99] * 5, "B": [0.95] * 5, "C": [0.96, 0.90, 0.95, 0.96, 0.5]},
                 score={"A": [0.1] * 5, "B": [0.5] * 5, "C": [0.3] * 5})
    c = choose_method(s, MEAN_PLAN)
    gate = c.steps[0]
    assert c.gate == "mean_coverage" and c.mean_band == pytest.approx((MEAN_LO, MEAN_HI))
    assert gate.values == pytest.approx({"A": 0.99, "B": 0.95, "C": 0.9425})  # k = 20 row left out
    assert gate.kept == ("B", "C") and gate.note == ""
    assert gate.details["below"] == {"A": 0.0, "B": 0.0, "C": 1.0}
    assert c.chosen == "C"
    assert any("mean coverage within" in line for line in choice_text(c))


def test_mean_gate_nobody_inside_the_nearest_go_on() -> None:
    s = _summary({"A": [0.85] * 5, "B": [0.90] * 5, "C": [1.0] * 5})
    c = choose_method(s, MEAN_PLAN)
    # distances: A 0.925 - 0.85 - w, B 0.925 - 0.90 - w = 0.0182, C 1.0 - 0.975 - w = 0.0182: tie
    assert c.steps[0].kept == ("B", "C") and "nearest" in c.steps[0].note


def test_unknown_gate_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"rule\.gate is 'median'"):
        choose_method(_summary({"A": [0.95] * 5}), {**PLAN, "candidates": ["A"],
                                                     "rule": {**RULE, "gate": "median"}})


def test_rule_text_of_the_mean_gate_reads_its_numbers() -> None:
    lines = rule_text(MEAN_PLAN | {"replicates": 1000}, scenarios=4)
    assert any(f"{100 * MEAN_LO:.2f} % to {100 * MEAN_HI:.2f} %" in line for line in lines)
    assert any("Bradley" in line for line in lines)


def test_confirmation_plan_takes_its_own_grid_and_keeps_the_rule() -> None:
    from analysis.engine.method_choice import confirmation_plan

    plan = {**PLAN, "grids": [{"k": [3]}], "seed": 1, "replicates": 10, "n_min": 1, "n_max": 60,
            "reported_only": ["X"],
            "confirmation": {"grids": [{"k": [4]}], "seed": 2, "replicates": 20, "n_min": 2, "n_max": 40}}
    conf = confirmation_plan(plan)
    assert conf["grids"] == [{"k": [4]}] and (conf["seed"], conf["replicates"]) == (2, 20)
    assert (conf["n_min"], conf["n_max"]) == (2, 40) and conf["reported_only"] == []
    assert conf["rule"] == PLAN["rule"] and conf["relevant"] == PLAN["relevant"]
    assert "confirmation" not in conf
    with pytest.raises(ValueError, match="no 'confirmation' section"):
        confirmation_plan(PLAN)
    with pytest.raises(ValueError, match="confirmation lacks seed"):
        confirmation_plan({**plan, "confirmation": {k: v for k, v in plan["confirmation"].items() if k != "seed"}})
    with pytest.raises(TypeError, match="must be a mapping"):
        confirmation_plan({**plan, "confirmation": [1]})


def test_candidate_measures_average_over_the_scenarios() -> None:
    from analysis.engine.method_choice import candidate_measures

    s = _summary({"A": [0.9, 1.0, 0.95, 0.95, 0.5], "B": [0.95] * 5},
                 score={"A": [1, 2, 3, 4, 5], "B": [1] * 5}, bias={"A": [0.01, -0.03, 0, 0, 0]})
    m = candidate_measures(s, ["B", "A"])
    assert m.index.tolist() == ["B", "A"]
    assert m.loc["A", "interval_score"] == pytest.approx(3.0)          # (1 + 2 + 3 + 4 + 5) / 5
    assert m.loc["A", "interval_score_mcse"] == pytest.approx(math.sqrt(5 * 0.01**2) / 5)
    assert m.loc["A", "width_ci"] == pytest.approx(0.3)                # 0.1 x (1 + ... + 5) / 5
    assert (m.loc["A", "coverage_ci"], m.loc["A", "coverage_min"]) == pytest.approx((0.86, 0.5))
    assert m.loc["A", "bias_max_abs"] == pytest.approx(0.03)
    with pytest.raises(ValueError, match="no rows in the summary for C"):
        candidate_measures(s, ["A", "C"])


def test_runner_up_and_the_mcse_of_the_difference() -> None:
    from analysis.engine.method_choice import runner_up

    s = _summary({"A": [0.95] * 5, "B": [0.95] * 5, "C": [0.95] * 5},
                 score={"A": [0.5] * 5, "B": [0.3] * 5, "C": [0.31] * 5})
    c = choose_method(s, MEAN_PLAN)
    name, gap, se = runner_up(c)
    assert (c.chosen, name) == ("B", "C") and gap == pytest.approx(0.01)
    assert se == pytest.approx(math.sqrt(2) * 0.01 / 2)  # each mean's MCSE: sqrt(4 x 0.01^2) / 4
    assert runner_up(choose_method(s, {**MEAN_PLAN, "candidates": ["B"]})) is None
