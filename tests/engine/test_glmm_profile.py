"""The GLMM's heterogeneity as one model: profile-likelihood interval of tau^2, I^2, likelihood-ratio test.

References from tests/reference/glmm_heterogeneity_reference.R: metafor ``rma.glmm`` (tau^2, I^2, QE.LRT,
QE.Wld) and a brute-force profile likelihood of tau^2 in base R (numerical integration, optimize, uniroot;
metafor has no interval for ``rma.glmm``). Three data sets are SYNTHETIC (named ``synthetic_*``).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import metaprop
from analysis.engine.glmm import fit_binomial_normal, marginal_loglik
from analysis.engine.glmm_profile import profile_loglik, tau2_profile_ci

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "glmm_heterogeneity_reference.json"
#: Bounds: both sides solve to 1e-10 on likelihoods accurate to ~1e-9 (measured: at most 1.1e-8 relative).
RTOL_BOUND = 1e-6
#: metafor's tau^2 and I^2 come from lme4 with 7-node quadrature (see test_glmm.py): 1e-3 relative.
RTOL_METAFOR = 1e-3


def _cases() -> dict[str, dict]:
    return json.loads(REFERENCE.read_text())["cases"]


@pytest.mark.parametrize("name", sorted(_cases()))
def test_profile_interval_matches_the_brute_force_profile(name: str) -> None:
    case = _cases()[name]
    fit = fit_binomial_normal(case["xi"], case["ni"])
    lower, upper = tau2_profile_ci(case["xi"], case["ni"], fit=fit)
    assert fit.tau2 == pytest.approx(case["profile"]["tau2_ml"], rel=1e-6, abs=1e-9)
    assert lower == pytest.approx(case["profile"]["lower"], rel=RTOL_BOUND, abs=1e-9)
    assert upper == pytest.approx(case["profile"]["upper"], rel=RTOL_BOUND)
    assert lower <= fit.tau2 <= upper


@pytest.mark.parametrize("name", sorted(_cases()))
def test_i2_and_the_likelihood_ratio_test_match_metafor(name: str) -> None:
    case = _cases()[name]
    res = metaprop(case["xi"], case["ni"], method="GLMM", ci="t")
    mf = case["metafor"]
    assert res.i2 == pytest.approx(mf["I2"], rel=RTOL_METAFOR, abs=1e-6)
    assert res.lrt == pytest.approx(mf["QE_LRT"], rel=1e-6)
    assert res.lrt_pvalue == pytest.approx(mf["QEp_LRT"], rel=1e-5)
    # I^2's interval comes from the same model: the GLMM's profile interval of tau^2
    assert res.tau2_ci == pytest.approx(tau2_profile_ci(case["xi"], case["ni"]), rel=1e-12)
    assert "profile-likelihood interval of the GLMM" in res.methods_text()


def test_the_wald_q_gives_an_all_event_study_no_weight_and_the_lrt_does_not() -> None:
    """12/12 beside 25/30 and 4/5: the Wald Q ignores the 12/12 series, the likelihood-ratio test uses it."""
    case = _cases()["synthetic_k3_one_all_events"]
    mf = case["metafor"]
    res = metaprop(case["xi"], case["ni"], method="GLMM")
    without = metaprop(case["xi"][1:], case["ni"][1:], method="GLMM")
    assert res.q == pytest.approx(mf["QE_Wld"], abs=1e-6)  # Wald: as if the 12/12 study were absent
    assert res.q == pytest.approx(without.q, rel=1e-9)
    assert res.lrt > 10 * res.q and res.lrt_pvalue < 0.2 < res.q_pvalue


def test_profile_is_the_likelihood_maximised_over_the_mean() -> None:
    x, n = [12, 30, 9], [12, 40, 11]
    fit = fit_binomial_normal(x, n)
    assert profile_loglik(x, n, fit.tau2, fit.mu) == pytest.approx(fit.loglik, abs=1e-8)
    for tau2 in (0.0, 0.5, 4.0):
        best = profile_loglik(x, n, tau2)
        for mu in (0.5, 1.5, 2.5):
            assert marginal_loglik(x, n, mu, tau2) <= best + 1e-9


def test_no_profile_without_a_finite_estimate() -> None:
    with pytest.raises(ValueError, match="no finite estimate"):
        tau2_profile_ci([10, 10, 10], [10, 10, 10])
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        tau2_profile_ci([3, 5], [10, 10], level=95)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.lists(st.tuples(st.integers(1, 40), st.floats(0.05, 0.95)), min_size=2, max_size=6))
def test_the_interval_contains_the_estimate_and_widens_with_the_level(data) -> None:
    n = [size for size, _ in data]
    x = [round(size * p) for size, p in data]
    fit = fit_binomial_normal(x, n)
    if not fit.converged:
        return
    lo90, hi90 = tau2_profile_ci(x, n, 0.90, fit)
    lo95, hi95 = tau2_profile_ci(x, n, 0.95, fit)
    assert lo95 <= lo90 <= fit.tau2 + 1e-9 <= hi90 + 2e-9 and hi90 <= hi95 + 1e-9
    assert hi95 > 0 and (math.isinf(hi95) or np.isfinite(hi95))


@pytest.mark.metafor
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R not installed: regeneration only")
def test_reference_regenerates_identically(tmp_path: Path) -> None:
    out = tmp_path / "glmm_heterogeneity_reference.json"
    subprocess.run(["Rscript", str(REFERENCE.with_suffix(".R")), str(out)], check=True, capture_output=True,
                   cwd=REFERENCE.parents[2], timeout=600)
    fresh, committed = json.loads(out.read_text()), json.loads(REFERENCE.read_text())
    if fresh["source"] != committed["source"]:
        pytest.skip(f"different R/metafor/lme4 versions here: {fresh['source']}")
    assert fresh == committed
