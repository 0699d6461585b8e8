"""Tests of the simulation study (analysis/engine/simulation.py, tools/simulate.py).

All data here are SYNTHETIC (simulated or hand-made). What is checked:

* data generation is reproducible with the seed and independent of the other scenarios;
* each method's vectorised intervals equal what :func:`analysis.engine.metaprop` reports for the same
  replicate (so the study measures the engine, not a re-implementation);
* coverage of the common-effect Wald interval is about nominal when tau = 0 and n is large;
* the summaries (coverage, bias, median width, failure rate and their MCSEs) are right on a
  hand-made replicate set;
* the writer behind ``make simulate`` reproduces the stored check results, and a re-run of stored
  scenarios reproduces their rows.

Tolerances. Comparisons of two numbers computed in the same test run (a method's vectorised
intervals against ``metaprop``; closed forms) use ``rtol=1e-9``: both sides run the same
arithmetic on the same machine. Comparisons of a fresh run with STORED simulation output, which
may have been computed on another CPU, use :data:`STORED_RTOL` and :data:`STORED_ATOL` (both
1e-6): the GLMM and REML optimisers stop at a tolerance (steps of 1e-12, log-likelihood changes of
1e-13), and numpy's vectorised exp/log kernels differ in the last bit between CPUs (AVX2, AVX-512)
and BLAS builds and thread counts, so an estimate can move by ~1e-12 between machines. Averaged
over 1,000 replicates such a move is ~1e-12 on the proportion scale, which is a large RELATIVE
change for a bias near 0 (a stored 1.535623006e-4 came back as 1.5356229896e-4, relative 1e-9,
on another CPU): hence an absolute floor of 1e-6 on proportions (a thousandth of a percentage
point, a hundred times below anything the simulation chapter prints) and a relative 1e-6 on
everything else. Coverage and failure rates are counts over replicates; a single replicate
changing side would move them by 1/replicates, which these tolerances still catch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from analysis import metaprop
from analysis.engine.simulation import (
    ENGINE_SETTINGS,
    METHODS,
    MethodOutput,
    Scenario,
    beta_with_median,
    coverage_band,
    coverage_by_k,
    fit_methods,
    interval_score,
    median_mcse,
    method_for,
    new_study_coverage,
    nominal_mcse,
    pi_coverage_probability,
    pooled_intervals,
    run_scenario,
    scenario_grid,
    scenario_rng,
    scorecard,
    simulate_data,
    summarise,
)
from analysis.evidence.readers import load_yaml
from tools import simulate

ROOT = Path(__file__).resolve().parents[2]
STORED = ROOT / "results" / "simulation"
#: Tolerances of a fresh run against stored output (module docstring: why these).
STORED_RTOL = 1e-6
STORED_ATOL = 1e-6
#: Columns of a summary that are not numbers and must come back identical.
TEXT_COLUMNS = ("mechanism", "method", "notes")


def _assert_same_summary(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same rows, columns and text; numbers within :data:`STORED_RTOL` / :data:`STORED_ATOL`."""
    assert got.columns.tolist() == want.columns.tolist()
    assert len(got) == len(want)
    for col in got.columns:
        if col in TEXT_COLUMNS:
            assert got[col].fillna("").tolist() == want[col].fillna("").tolist(), col
        else:
            np.testing.assert_allclose(got[col].to_numpy(float), want[col].to_numpy(float),
                                       rtol=STORED_RTOL, atol=STORED_ATOL, err_msg=col)


# --------------------------------------------------------------------------- data generation


def test_data_reproducible_with_seed() -> None:
    sc = Scenario(5, 0.8, 0.5)
    a = simulate_data(sc, 50, scenario_rng(7, sc))
    b = simulate_data(sc, 50, scenario_rng(7, sc))
    c = simulate_data(sc, 50, scenario_rng(8, sc))
    np.testing.assert_array_equal(a.events, b.events)
    np.testing.assert_array_equal(a.n, b.n)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert not np.array_equal(a.events, c.events)


def test_scenarios_get_distinct_streams_independent_of_grid() -> None:
    s1, s2 = Scenario(3, 0.8, 0.5), Scenario(3, 0.8, 1.0)
    x1 = simulate_data(s1, 20, scenario_rng(1, s1)).n
    x2 = simulate_data(s2, 20, scenario_rng(1, s2)).n
    assert not np.array_equal(x1, x2)
    rows_alone = run_scenario(s1, 15, 1, ("DL-z",))
    rows_in_grid = [r for s in (s2, s1) for r in run_scenario(s, 15, 1, ("DL-z",))][1:]
    assert rows_alone == rows_in_grid


def test_data_follow_the_mechanism() -> None:
    sc = Scenario(10, 0.8, 0.0, 1, 60)
    d = simulate_data(sc, 4000, scenario_rng(3, sc))
    assert d.n.min() == 1 and d.n.max() == 60
    assert np.all((d.events >= 0) & (d.events <= d.n))
    # sizes uniform on 1..60: mean 30.5, SE of the mean of 40000 draws ~ 0.087
    assert abs(d.n.mean() - 30.5) < 0.5
    # tau = 0: pooled event rate is p (binomial SE ~ 0.0006)
    assert abs(d.events.sum() / d.n.sum() - 0.8) < 0.003
    sc1 = Scenario(10, 0.8, 1.0)
    d1 = simulate_data(sc1, 4000, scenario_rng(3, sc1))
    assert abs(np.std(d1.theta - sc1.mu) - 1.0) < 0.02


def test_true_proportion_of_one_gives_all_events() -> None:
    sc = Scenario(3, 1.0, 0.0)
    d = simulate_data(sc, 20, scenario_rng(1, sc))
    assert np.array_equal(d.events, d.n) and sc.mu == math.inf
    assert [s.tau for s in scenario_grid((2,), (1.0,), (0.0, 0.5))] == [0.0]  # tau moot at p = 1


def test_beta_binomial_has_the_stated_median_and_concentration() -> None:
    a, b = beta_with_median(0.9, 20)
    assert a + b == pytest.approx(20) and stats.beta.median(a, b) == pytest.approx(0.9, abs=1e-12)
    sc = Scenario(10, 0.9, 0.0, 200, 200, mechanism="beta-binomial", param=20.0)
    d = simulate_data(sc, 2000, scenario_rng(2, sc))
    true = special.expit(d.theta)
    # median of 20,000 Beta draws: SE about 0.0006
    assert abs(np.median(true) - 0.9) < 0.003
    assert new_study_coverage([0.0, 0.9], [0.9, 1.0], sc) == pytest.approx([0.5, 0.5], abs=1e-12)


def test_definition_shift_draws_two_definitions_ten_points_apart() -> None:
    sc = Scenario(10, 0.9, 0.0, 1, 60, mechanism="definition-shift", param=0.1)
    d = simulate_data(sc, 500, scenario_rng(3, sc))
    true = np.unique(np.round(special.expit(d.theta), 12))
    assert true.tolist() == pytest.approx([0.85, 0.95])
    # a new study is at 0.85 or 0.95 with probability 1/2 each
    assert new_study_coverage([0.8, 0.9], [0.9, 0.96], sc).tolist() == [0.5, 0.5]
    assert new_study_coverage([0.8], [0.96], sc).tolist() == [1.0]


def test_case_report_scenario_appends_one_success_of_one() -> None:
    sc = Scenario(3, 0.9, 0.5, mechanism="case-report")
    d = simulate_data(sc, 10, scenario_rng(4, sc))
    assert d.events.shape == (10, 4) and sc.k_total == 4
    assert (d.events[:, 3] == 1).all() and (d.n[:, 3] == 1).all()
    assert sc.key() != Scenario(3, 0.9, 0.5).key()  # its own random stream


def test_grid_is_full_factorial() -> None:
    grid = scenario_grid()
    assert len(grid) == 27
    assert {(s.k, s.proportion, s.tau) for s in grid} == {
        (k, p, t) for k in (3, 5, 10) for p in (0.6, 0.8, 0.95) for t in (0.0, 0.5, 1.0)}


@pytest.mark.parametrize("bad", [{"k": 1}, {"proportion": 1.5}, {"proportion": 0.0}, {"tau": -0.1},
                                 {"n_min": 0}, {"mechanism": "poisson"}, {"param": 0.1}])
def test_scenario_rejects_bad_values(bad: dict) -> None:
    args = {"k": 3, "proportion": 0.8, "tau": 0.5, **bad}
    with pytest.raises(ValueError, match=next(iter(bad))):
        Scenario(**args)


# --------------------------------------------------------------------------- methods = engine


def _replicates() -> tuple[np.ndarray, np.ndarray]:
    """Six simulated replicates plus three hand-made degenerate ones: every study at n, studies
    at both boundaries only, identical studies (HKSJ SE 0)."""
    sc = Scenario(4, 0.9, 0.8, 1, 30)
    d = simulate_data(sc, 6, scenario_rng(11, sc))
    extra_x = np.array([[5, 7, 2, 9], [0, 3, 0, 4], [2, 2, 2, 2]])
    extra_n = np.array([[5, 7, 2, 9], [2, 3, 5, 4], [4, 4, 4, 4]])
    return np.vstack([d.events, extra_x]), np.vstack([d.n, extra_n])




def test_every_method_has_engine_settings() -> None:
    assert set(ENGINE_SETTINGS) == set(METHODS)


@pytest.mark.parametrize("method", METHODS)
def test_method_matches_metaprop(method: str) -> None:
    events, n = _replicates()
    out = fit_methods(events, n, (method,))[method]
    for r in range(events.shape[0]):
        res = metaprop(events[r], n[r], pi="t", **ENGINE_SETTINGS[method])
        got = [out.estimate[r], out.ci_lower[r], out.ci_upper[r], out.pi_lower[r],
               out.pi_upper[r]]
        want = [res.estimate, res.ci_lower, res.ci_upper, res.pi_lower, res.pi_upper]
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
        fell_back = any("no maximum-likelihood estimate" in s for s in res.notes)
        assert bool(out.failed[r]) == fell_back


def test_degenerate_replicates_follow_metaprop() -> None:
    """Row 0: every study at n (exact pooled interval for every method, not a failure); row 1:
    an ordinary replicate; row 2: studies at both boundaries only (the GLMM has no finite
    estimate: the Bayesian binomial-normal model with metaprop's default priors, a failure)."""
    events = np.array([[5, 10, 3], [4, 9, 2], [0, 5, 0]])
    n = np.array([[5, 10, 3], [6, 9, 2], [5, 5, 8]])
    out = fit_methods(events, n, ("REML-HKSJ", "GLMM-z", "GLMM-t", "BAYES-BN-HN0.5"))
    lo0 = 0.025 ** (1 / 18)
    for name, o in out.items():
        assert (o.estimate[0], o.ci_upper[0], o.pi_upper[0]) == (1.0, 1.0, 1.0), name
        assert o.ci_lower[0] == pytest.approx(lo0, rel=1e-9) and not o.failed[0], name
        assert "exact pooled interval" in o.notes[0]
    assert out["GLMM-z"].failed.tolist() == [False, False, True]
    assert "Bayesian binomial-normal used" in out["GLMM-t"].notes[2]
    for glmm in ("GLMM-z", "GLMM-t"):
        assert out[glmm].ci_lower[2] == out["BAYES-BN-HN0.5"].ci_lower[2]
    # same GLMM fit, wider t(k-1) interval where it converged
    assert out["GLMM-t"].estimate[1] == out["GLMM-z"].estimate[1]
    assert out["GLMM-t"].ci_lower[1] < out["GLMM-z"].ci_lower[1]


def test_unknown_method_rejected() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        fit_methods([[1, 2]], [[3, 4]], ("DL-t",))


def test_pooled_intervals_rejects_unknown_ci() -> None:
    y = np.zeros((1, 3))
    with pytest.raises(ValueError, match="ci must be"):
        pooled_intervals(y, y + 1, np.zeros(1), "t")


# --------------------------------------------------------------------------- coverage property


def test_common_effect_wald_coverage_nominal_with_large_n() -> None:
    """tau = 0, n = 200 per study: the Wald interval with tau2 = 0 covers about 95 %."""
    sc = Scenario(5, 0.6, 0.0, 200, 200)
    d = simulate_data(sc, 2000, scenario_rng(5, sc))
    from analysis.engine.effects import escalc

    yi, vi = escalc(d.events, d.n, "PLO")
    _, lo, hi, _, _ = pooled_intervals(yi, vi, np.zeros(yi.shape[0]), "z")
    cov = np.mean((lo <= sc.mu) & (sc.mu <= hi))
    # MCSE = sqrt(.95 * .05 / 2000) = 0.0049; allow 3.5 MCSE
    assert abs(cov - 0.95) < 0.017


# --------------------------------------------------------------------------- summaries


def test_pi_coverage_probability() -> None:
    mu, tau = special.logit(0.8), 0.5
    lo, hi = special.expit(mu - 1.0), special.expit(mu + 0.5)
    want = stats.norm.cdf(1.0) - stats.norm.cdf(-2.0)
    np.testing.assert_allclose(pi_coverage_probability([lo, 0.0], [hi, 1.0], mu, tau),
                               [want, 1.0], rtol=1e-12)
    assert pi_coverage_probability([0.7, 0.81], [0.9, 0.9], mu, 0.0).tolist() == [1.0, 0.0]


def test_median_mcse_order_statistics() -> None:
    x = np.arange(1.0, 101.0)  # n = 100: l = floor(50 - 9.8) = 40, u = ceil(59.8) = 60
    z = stats.norm.ppf(0.975)
    assert median_mcse(x[::-1]) == pytest.approx((60.0 - 40.0) / (2 * z), rel=1e-12)
    assert math.isnan(median_mcse([1.0]))


def test_summarise_hand_made_replicates() -> None:
    sc = Scenario(3, 0.8, 0.0)
    out = MethodOutput(
        estimate=np.array([0.78, 0.83, 0.70, np.nan]),
        ci_lower=np.array([0.70, 0.81, 0.60, np.nan]),
        ci_upper=np.array([0.85, 0.90, 0.79, np.nan]),
        pi_lower=np.array([0.60, 0.70, 0.50, np.nan]),
        pi_upper=np.array([0.95, 0.95, 0.85, np.nan]),
        failed=np.array([False, True, False, True]),
        notes=("", "did not converge; logit REML-z used", "", "error ValueError"),
    )
    s = summarise(out, sc)
    assert s["replicates"] == 4 and s["n_used"] == 3
    assert s["coverage_ci"] == pytest.approx(1 / 3)
    assert s["coverage_ci_mcse"] == pytest.approx(math.sqrt(1 / 3 * 2 / 3 / 3))
    assert s["coverage_pi"] == pytest.approx(1.0) and s["coverage_pi_mcse"] == 0.0
    errs = np.array([-0.02, 0.03, -0.10])
    assert s["bias"] == pytest.approx(errs.mean())
    assert s["bias_mcse"] == pytest.approx(errs.std(ddof=1) / math.sqrt(3))
    assert s["width_ci"] == pytest.approx(0.15)
    assert s["width_pi"] == pytest.approx(0.35)
    assert s["failure_rate"] == 0.5
    assert s["failure_rate_mcse"] == pytest.approx(math.sqrt(0.25 / 4))
    # interval score: widths 0.15, 0.09, 0.19; the 2nd and 3rd miss 0.8 by 0.01: + 40 * 0.01 each
    assert s["interval_score"] == pytest.approx((0.15 + 0.09 + 0.19 + 0.4 + 0.4) / 3)
    assert s["notes"] == "1 x did not converge; logit REML-z used; 1 x error ValueError"


# --------------------------------------------------------------------------- stored results


def test_writer_reproduces_stored_check(tmp_path: Path) -> None:
    stored = json.loads((STORED / "check" / "run.json").read_text(encoding="utf-8"))
    grid = tuple(Scenario(**s) for s in stored["grid"])
    assert grid == simulate.CHECK_GRID
    simulate.write_study(tmp_path, grid, stored["replicates"], stored["seed"],
                         stored["methods"], workers=1)
    _assert_same_summary(pd.read_csv(tmp_path / "summary.csv"),
                         pd.read_csv(STORED / "check" / "summary.csv"))


def test_stored_study_is_complete() -> None:
    run = json.loads((STORED / "run.json").read_text(encoding="utf-8"))
    table = pd.read_csv(STORED / "summary.csv")
    plan = load_yaml(simulate.PLAN)
    assert run["seed"] == json.loads(
        (STORED / "check" / "run.json").read_text(encoding="utf-8"))["seed"]
    assert run["seed"] == plan["seed"] and run["replicates"] == plan["replicates"]
    assert (table["replicates"] == run["replicates"]).all()
    assert run["methods"] == list(simulate.plan_methods(plan))
    keys = ("mechanism", "param", "k", "proportion", "tau")
    want = {(*(s[c] for c in keys), m) for s in run["grid"] for m in run["methods"]}
    got = set(zip(*(table[c] for c in keys), table.method, strict=True))
    assert got == want and len(table) == len(want)
    assert [Scenario(**s) for s in run["grid"]] == list(simulate.plan_grid(plan))


# --------------------------------------------------------------------------- verdict and figures


def _toy_summary() -> pd.DataFrame:
    """Hand-made summary: 2 scenarios x 3 methods (SYNTHETIC numbers, not simulation output)."""
    rows = []
    values = {  # method: (coverage in scenario 1, scenario 2), width
        "REML-HKSJ-adhoc": ((0.99, 0.90), 0.30),
        "GLMM-z": ((0.93, 0.945), 0.20),
        "DL-z": ((0.85, 0.80), 0.15),
    }
    for s, (k, tau) in enumerate([(3, 0.5), (10, 1.0)]):
        for method, (cov, width) in values.items():
            rows.append({"k": k, "proportion": 0.95, "tau": tau, "method": method,
                         "replicates": 1000, "coverage_ci": cov[s], "coverage_ci_mcse": 0.005,
                         "coverage_pi": cov[s], "coverage_pi_mcse": 0.005, "bias": -0.01 * (s + 1),
                         "bias_mcse": 0.001, "width_ci": width, "width_ci_mcse": 0.001,
                         "width_pi": 2 * width, "interval_score": width + (1 - cov[s]),
                         "interval_score_mcse": 0.001, "failure_rate": 0.0})
    return pd.DataFrame(rows)


def test_nominal_mcse_and_two_sided_band() -> None:
    assert nominal_mcse(0.95, 1000) == pytest.approx(math.sqrt(0.95 * 0.05 / 1000))
    toy = _toy_summary()
    band = coverage_band(toy).tolist()  # 0.95 +/- 0.0138
    assert band == ["above", "below", "below", "below", "within", "below"]


def test_interval_score() -> None:
    got = interval_score([0.8, 0.9, 0.5], [0.9, 0.99, 0.8], 0.85, alpha=0.05)
    assert got.tolist() == pytest.approx([0.1, 0.09 + 40 * 0.05, 0.3 + 40 * 0.05])
    assert interval_score([0.0], [1.0], 0.3).tolist() == [1.0]  # always covers, scores 1


def test_scorecard_counts_and_ranges() -> None:
    card = scorecard(_toy_summary())
    assert card.index.tolist() == ["DL-z", "REML-HKSJ-adhoc", "GLMM-z"]  # METHODS order
    assert card.loc["REML-HKSJ-adhoc", ["ci_below", "ci_within", "ci_above"]].tolist() == [1, 0, 1]
    assert card.loc["GLMM-z", ["ci_below", "ci_within", "ci_above"]].tolist() == [1, 1, 0]
    assert card.loc["DL-z", "bias_max_abs"] == pytest.approx(0.02)
    assert card.loc["REML-HKSJ-adhoc", "ci_min"] == 0.90
    by_k = coverage_by_k(_toy_summary())
    assert by_k.loc["DL-z", (10, "min")] == 0.80


def test_method_for_maps_plan_settings() -> None:
    assert method_for("PLO", "REML", "hksj_adhoc") == "REML-HKSJ-adhoc"
    assert method_for("PLO", "REML", "hksj") == "REML-HKSJ"
    assert method_for("PLO", "GLMM", "z") == "GLMM-z"
    assert method_for("PLO", "GLMM", "t") == "GLMM-t"
    assert method_for("PLO", "BAYES_BN", "z", 0.5) == "BAYES-BN-HN0.5"
    assert method_for("PLO", "BAYES_BN", "z", 1.0) == "BAYES-BN-HN1.0"
    assert method_for("PLO", "BAYES_BN", "z", 1.0, "normal", 1.5) == "BAYES-BN-HN1.0-N1.5"
    assert method_for("PLO", "BAYES_BN", "z", 1.0, mu_prior_sd=2.82) is None
    assert method_for("PLO", "BAYES", "z", 0.5) is None
    assert method_for("PAS", "REML", "z") is None




@pytest.mark.parametrize(("scenario", "methods"), [
    (Scenario(5, 0.9, 0.5), ("DL-z", "REML-HKSJ-adhoc", "PFT-REML")),
    (Scenario(3, 0.95, 0.0), ("GLMM-z", "GLMM-t")),
    (Scenario(2, 0.95, 0.0, mechanism="beta-binomial", param=20.0), ("BAYES-BN-HN1.0",)),
])
def test_rerun_of_stored_scenarios_reproduces_their_rows(scenario: Scenario, methods: tuple) -> None:
    """A scenario of the stored study re-run (all its replicates, some methods) gives the stored
    numbers: each scenario's generator depends only on the seed and the scenario."""
    run = json.loads((STORED / "run.json").read_text(encoding="utf-8"))
    table = pd.read_csv(STORED / "summary.csv")
    rows = run_scenario(scenario, run["replicates"], run["seed"], methods)
    for row in rows:
        stored = table[(table.k == scenario.k) & (table.proportion == scenario.proportion)
                       & (table.tau == scenario.tau) & (table.mechanism == scenario.mechanism)
                       & (table.param == scenario.param) & (table.method == row["method"])]
        assert len(stored) == 1
        stored = stored.iloc[0]
        for col in ("coverage_ci", "coverage_pi", "bias", "width_ci", "interval_score",
                    "failure_rate"):
            assert row[col] == pytest.approx(stored[col], rel=STORED_RTOL, abs=STORED_ATOL), (
                row["method"], col)
