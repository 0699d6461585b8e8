"""analysis.engine.tau2: each estimator against metafor on dat.pritz1997 (logit) and by definition."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.engine.effects import escalc
from analysis.engine.tau2 import estimate_tau2, generalised_q, tau2_dl, tau2_pm, tau2_reml

PRITZ_X = [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6]
PRITZ_N = [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10]
YI, VI = escalc(PRITZ_X, PRITZ_N, "PLO")

#: metafor 3.8-1 rma(method=...) on dat.pritz1997, PLO (methods anchors, O3; 6 decimals).
#: PM is metafor's converged value (EB, 0.385869): with default control PM stops at 0.385859.
METAFOR_TAU2 = {"EE": 0.0, "DL": 0.361558, "REML": 0.364588, "ML": 0.300652, "PM": 0.385869,
                "SJ": 0.632371, "HE": 0.369441}


@pytest.mark.parametrize("method", sorted(METAFOR_TAU2))
def test_tau2_matches_metafor_pritz(method: str) -> None:
    est = estimate_tau2(YI, VI, method)
    assert est.tau2 == pytest.approx(METAFOR_TAU2[method], abs=5e-7)
    assert est.converged and est.method == method


def test_iterative_estimators_report_iterations() -> None:
    assert tau2_reml(YI, VI).iterations > 0
    assert tau2_pm(YI, VI).iterations > 0
    assert tau2_dl(YI, VI).iterations == 0


def test_reml_solves_its_score_equation() -> None:
    """At an interior REML optimum: sum w^2 r^2 = tr(P) (Viechtbauer 2005)."""
    t = tau2_reml(YI, VI).tau2
    w = 1 / (VI + t)
    r = YI - np.sum(w * YI) / np.sum(w)
    tr_p = np.sum(w) - np.sum(w**2) / np.sum(w)
    assert np.sum(w**2 * r**2) == pytest.approx(tr_p, rel=1e-10)


def test_pm_solves_q_equals_k_minus_1() -> None:
    t = tau2_pm(YI, VI).tau2
    assert generalised_q(t, YI, VI) == pytest.approx(len(YI) - 1, rel=1e-12)


@pytest.mark.parametrize("method", ["DL", "REML", "ML", "PM", "SJ", "HE"])
def test_identical_studies_give_zero(method: str) -> None:
    yi, vi = np.full(5, 0.3), np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    assert estimate_tau2(yi, vi, method).tau2 == pytest.approx(0.0, abs=1e-14)


@pytest.mark.parametrize("method", ["DL", "REML", "ML", "PM", "HE"])
def test_truncated_at_zero_when_q_small(method: str) -> None:
    """Miller (1978) PFT data: Q = 2.18 < df = 3, so DL would be negative untruncated
    (statsmodels reports -0.005096; methods anchors O9)."""
    yi, vi = escalc([3, 6, 10, 1], [11, 17, 21, 6], "PFT")
    assert estimate_tau2(yi, vi, method).tau2 == 0.0


def test_single_study_gives_zero() -> None:
    for m in ("DL", "REML", "ML", "PM", "SJ", "HE"):
        assert estimate_tau2([0.2], [0.1], m).tau2 == 0.0


def test_errors() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        estimate_tau2(YI, VI, "EB")
    with pytest.raises(ValueError, match="differ in length"):
        estimate_tau2([1, 2], [1], "DL")
    with pytest.raises(ValueError, match="vi finite and > 0"):
        estimate_tau2([1, 2], [1, 0], "DL")


# --- REML/ML safeguard: Fisher scoring can oscillate near tau2 = 0 -----------------------------

#: SYNTHETIC counts from the project's simulation study (k = 10, p = 0.95): Fisher scoring for REML
#: oscillates between ~0.0015 and ~0.03 without converging; metafor's rma() stops with an error.
OSC_X = [31, 18, 36, 23, 11, 30, 12, 41, 12, 41]
OSC_N = [32, 19, 36, 24, 12, 34, 12, 43, 12, 42]
#: SYNTHETIC counts (random search) on which Fisher scoring for ML fails to converge.
ML_OSC_X = [45, 49, 65, 68, 28, 49, 67, 64, 29]
ML_OSC_N = [45, 49, 66, 68, 28, 54, 68, 65, 29]
#: metafor 3.8-1 (R 4.2.2) with halved scoring steps, which do converge on these data:
#: rma(measure="PLO", xi, ni, method=..., control=list(stepadj=0.5, maxiter=1000,
#: threshold=1e-12))$tau2, printed with digits=10. The default control stops with an error.
METAFOR_STEPADJ_TAU2 = {"REML": 0.01380879384, "ML": 0.4510013329}


def _loglik_grid(tau2: np.ndarray, yi: np.ndarray, vi: np.ndarray, reml: bool) -> np.ndarray:
    """(Restricted) log-likelihood of the random-effects model at each tau2 of a grid, written
    out independently of analysis.engine.tau2 (constants dropped):
    -1/2 [sum log(v + t) + sum w (y - mu_w)^2 (+ log sum w for REML)]."""
    t = np.asarray(tau2, dtype=float)[:, None]
    w = 1.0 / (vi + t)
    mu = (w * yi).sum(axis=1, keepdims=True) / w.sum(axis=1, keepdims=True)
    ll = -0.5 * np.log(vi + t).sum(axis=1) - 0.5 * (w * (yi - mu) ** 2).sum(axis=1)
    return ll - 0.5 * np.log(w.sum(axis=1)) if reml else ll


def test_reml_converges_where_scoring_oscillates() -> None:
    yi, vi = escalc(OSC_X, OSC_N, "PLO")
    est = tau2_reml(yi, vi)
    assert est.converged and "maximised directly" in est.note
    grid = np.linspace(0.0, 0.2, 200_001)  # steps of 1e-6
    best = grid[np.argmax(_loglik_grid(grid, yi, vi, reml=True))]
    assert round(best, 4) == 0.0138
    assert est.tau2 == pytest.approx(best, abs=1e-6)
    assert round(est.tau2, 4) == 0.0138
    assert est.tau2 == pytest.approx(METAFOR_STEPADJ_TAU2["REML"], abs=1e-10)


def test_ml_converges_where_scoring_oscillates() -> None:
    yi, vi = escalc(ML_OSC_X, ML_OSC_N, "PLO")
    est = estimate_tau2(yi, vi, "ML")
    assert est.converged and "maximised directly" in est.note
    grid = np.linspace(0.0, 2.0, 200_001)
    best = grid[np.argmax(_loglik_grid(grid, yi, vi, reml=False))]
    assert est.tau2 == pytest.approx(best, abs=1e-5)
    assert est.tau2 == pytest.approx(METAFOR_STEPADJ_TAU2["ML"], abs=1e-9)


#: SYNTHETIC effects (found by the property test below) whose ML likelihood has two local maxima.
BIMODAL_YI = [-4.04305127, 3.97029191, 1.09861229, 0.38946477, 0.189242, 1.2039728]
BIMODAL_VI = [2.03508772, 2.03773585, 0.26666667, 0.07987711, 0.07614943, 0.10833333]
#: metafor 3.8-1 (R 4.2.2), digits = 10: rma(yi, vi, method = "ML") stops at the lower local maximum
#: (tau2, logLik); started from tau2 = 0.3 (control = list(optimizer = "optim", tau2.init = 0.3))
#: it finds the global one, to optim's tolerance.
METAFOR_BIMODAL_DEFAULT = (1.050741655, -12.651266667)
METAFOR_BIMODAL_FROM_03 = (0.361763109, -12.648904533)


def test_ml_finds_the_global_maximum_where_scoring_stops_at_a_local_one() -> None:
    yi, vi = np.array(BIMODAL_YI), np.array(BIMODAL_VI)
    est = estimate_tau2(yi, vi, "ML")
    assert est.converged and "converged to a local maximum" in est.note
    grid = np.linspace(0.0, 3.0, 300_001)
    ll = _loglik_grid(grid, yi, vi, reml=False)
    assert est.tau2 == pytest.approx(grid[np.argmax(ll)], abs=2e-5)
    assert est.tau2 == pytest.approx(METAFOR_BIMODAL_FROM_03[0], abs=5e-4)
    # the local maximum metafor's default reports is lower by the logLik difference it printed
    local = _loglik_grid(np.array([METAFOR_BIMODAL_DEFAULT[0]]), yi, vi, reml=False)[0]
    top = _loglik_grid(np.array([est.tau2]), yi, vi, reml=False)[0]
    assert top - local == pytest.approx(METAFOR_BIMODAL_FROM_03[1] - METAFOR_BIMODAL_DEFAULT[1], abs=1e-6)


def test_scoring_that_converges_needs_no_fallback() -> None:
    est = tau2_reml(YI, VI)
    assert est.converged and est.note == "" and est.iterations < 100


def test_rma_uni_records_the_fallback_and_is_converged() -> None:
    from analysis.engine.rma import rma_uni

    fit = rma_uni(*escalc(OSC_X, OSC_N, "PLO"), "REML")
    assert fit.tau2_converged and round(fit.tau2, 4) == 0.0138
    assert any("maximised directly" in n for n in fit.notes)
    assert not any("did not converge" in n for n in fit.notes)


@st.composite
def _effects(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """SYNTHETIC effects: k in 2..12 logits of counts with n in 2..80 (cc 0.5 only0)."""
    k = draw(st.integers(2, 12))
    n = draw(st.lists(st.integers(2, 80), min_size=k, max_size=k))
    x = [draw(st.integers(0, m)) for m in n]
    return escalc(x, n, "PLO")


@st.composite
def _near_boundary(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """SYNTHETIC effects where Fisher scoring fails most often (about 1.5 % for REML): k in 5..12
    logits of binomial counts, n in 5..60, true proportion 0.95, tau in {0, 0.1, 0.3, 0.5}."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = int(rng.integers(5, 13))
    n = rng.integers(5, 61, k)
    tau = rng.choice([0.0, 0.1, 0.3, 0.5])
    x = rng.binomial(n, 1 / (1 + np.exp(-(np.log(19) + tau * rng.standard_normal(k)))))
    return escalc(x, n, "PLO")


def _check_maximum(yi: np.ndarray, vi: np.ndarray, method: str) -> None:
    """The estimate is converged and no grid point has a higher (restricted) likelihood."""
    est = estimate_tau2(yi, vi, method)
    assert est.converged and est.tau2 >= 0
    top = max(1.0, 4 * est.tau2, 20 * float(np.var(yi)))
    grid = np.concatenate([np.linspace(0.0, 0.05, 2001), np.geomspace(1e-6, top, 4000)])
    reml = method == "REML"
    at_estimate = _loglik_grid(np.array([est.tau2]), yi, vi, reml)[0]
    assert _loglik_grid(grid, yi, vi, reml).max() <= at_estimate + 1e-9


@settings(max_examples=150, deadline=None)
@given(data=_effects(), method=st.sampled_from(["REML", "ML"]))
def test_likelihood_estimators_maximise_their_likelihood(data, method) -> None:  # type: ignore[no-untyped-def]
    """REML (ML) tau2 maximises the restricted (full) likelihood over a grid."""
    _check_maximum(*data, method)


@settings(max_examples=250, deadline=None)
@given(data=_near_boundary())
def test_reml_maximises_near_the_boundary(data) -> None:  # type: ignore[no-untyped-def]
    """Where scoring oscillates, the fallback still finds the restricted-likelihood maximum."""
    _check_maximum(*data, "REML")


@settings(max_examples=100, deadline=None)
@given(data=_effects())
def test_pm_always_converges_to_the_root_or_zero(data) -> None:  # type: ignore[no-untyped-def]
    """Paule-Mandel cannot fail: Q(tau2) decreases monotonically, the bracket always closes."""
    yi, vi = data
    est = tau2_pm(yi, vi)
    k = len(yi)
    assert est.converged
    if est.tau2 == 0:
        assert generalised_q(0.0, yi, vi) <= k - 1
    else:
        assert generalised_q(est.tau2, yi, vi) == pytest.approx(k - 1, rel=1e-9)
