"""Miller (1978), "The inverse of the Freeman-Tukey double arcsine transformation",
The American Statistician 32(4):138, doi:10.1080/00031305.1978.10479283.

Data (4 studies): x = 3, 6, 10, 1; n = 11, 17, 21, 6. Published: the inverse-variance pooled
double arcsine 1.3093 (twice metafor's scale) back-transformed with the harmonic-mean n gives
0.3595 [0.2297, 0.4990]; the unweighted mean 1.2262 gives 0.3164. Reproduced in metafor's
``tests/testthat/test_analysis_example_miller1978.r`` and by meta's ``metaprop(sm="PFT")``.
Tolerance as metafor's ``.tol``: published 4-decimal values, compared to 4 decimals.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis import back_transform, escalc, metaprop
from analysis.engine.effects import harmonic_mean

pytestmark = pytest.mark.published

X, N = [3, 6, 10, 1], [11, 17, 21, 6]


def test_transformed_values_table() -> None:
    """Miller's table (double arcsine and its variance) is 2 yi and 4 vi on metafor's scale."""
    yi, vi = escalc(X, N, "PFT")
    np.testing.assert_allclose(np.round(2 * yi, 4), [1.1391, 1.2888, 1.5253, 0.9515])
    np.testing.assert_allclose(np.round(4 * vi, 4), [0.0870, 0.0571, 0.0465, 0.1538])


def test_inverse_variance_estimate_0_3595() -> None:
    res = metaprop(X, N, measure="PFT", method="EE")
    assert round(2 * res.mu, 4) == 1.3093
    assert [round(v, 4) for v in (res.estimate, res.ci_lower, res.ci_upper)] == [
        0.3595, 0.2297, 0.4990]
    assert "sensitivity analysis only" in res.methods_text()
    assert res.n_harmonic == pytest.approx(harmonic_mean(N))


def test_unweighted_mean_0_3164() -> None:
    yi, _ = escalc(X, N, "PFT")
    assert round(2 * yi.mean(), 4) == 1.2262
    assert round(float(back_transform(yi.mean(), "PFT", harmonic_mean(N))), 4) == 0.3164


def test_reml_gives_tau2_zero_and_q() -> None:
    """metafor: REML tau2 = 0, Q = 2.18 (df 3, p = 0.5368)."""
    res = metaprop(X, N, measure="PFT", method="REML")
    assert res.tau2 == 0.0
    assert (round(res.q, 2), res.q_df, round(res.q_pvalue, 4)) == (2.18, 3, 0.5368)


def test_metafor_test_file_edge_example() -> None:
    """metafor's test file (not Miller): x = 0, 4, 9, 16, 20; n = 10, 10, 15, 20, 20; EE with the
    harmonic-mean back-transform -> 0.6886 [0.5734, 0.7943]."""
    res = metaprop([0, 4, 9, 16, 20], [10, 10, 15, 20, 20], measure="PFT", method="EE")
    assert [round(v, 4) for v in (res.estimate, res.ci_lower, res.ci_upper)] == [
        0.6886, 0.5734, 0.7943]
