"""analysis.tau2: each estimator against metafor on dat.pritz1997 (logit) and by definition."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.effects import escalc
from analysis.tau2 import estimate_tau2, generalised_q, tau2_dl, tau2_pm, tau2_reml

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
