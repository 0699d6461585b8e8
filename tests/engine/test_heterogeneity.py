"""analysis.engine.heterogeneity: Q, both I^2 definitions, H^2 and the Q-profile tau2 interval.

Pinned definitional variant: ``i2`` is computed from tau2 (metafor, Cochrane 2025), ``i2_q``
from Q (meta's default). They coincide for DL only.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.engine.effects import escalc
from analysis.engine.heterogeneity import (
    cochran_q,
    h2_from_tau2,
    heterogeneity,
    i2_from_q,
    i2_from_tau2,
    tau2_qprofile_ci,
)
from analysis.engine.tau2 import estimate_tau2

PRITZ_X = [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6]
PRITZ_N = [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10]
YI, VI = escalc(PRITZ_X, PRITZ_N, "PLO")


def test_q_pritz() -> None:
    """Methods anchors O3: Q = 29.7854 (df 13, p = 0.00505664)."""
    q, df, p = cochran_q(YI, VI)
    assert (round(q, 4), df) == (29.7854, 13)
    assert p == pytest.approx(0.00505664, abs=5e-9)


def test_i2_from_tau2_is_metafor_and_i2_from_q_is_meta() -> None:
    """REML on pritz: metafor I^2 = 56.5596 % (tau2-based); meta/PyMARE 56.3545 % (Q-based)."""
    tau2 = estimate_tau2(YI, VI, "REML").tau2
    assert i2_from_tau2(tau2, VI) == pytest.approx(56.5596, abs=5e-5)
    q, df, _ = cochran_q(YI, VI)
    assert i2_from_q(q, df) == pytest.approx(56.3545, abs=5e-5)
    assert h2_from_tau2(tau2, VI) == pytest.approx(2.3020, abs=5e-5)


def test_definitions_coincide_for_dl_only() -> None:
    q, df, _ = cochran_q(YI, VI)
    dl = estimate_tau2(YI, VI, "DL").tau2
    assert i2_from_tau2(dl, VI) == pytest.approx(i2_from_q(q, df), rel=1e-12)
    reml = estimate_tau2(YI, VI, "REML").tau2
    assert abs(i2_from_tau2(reml, VI) - i2_from_q(q, df)) > 0.1


def test_ee_reports_q_based_i2_and_h2_as_metafor() -> None:
    het = heterogeneity(YI, VI, 0.0, "EE")
    assert het.i2 == pytest.approx(het.i2_q)
    assert het.h2 == pytest.approx(het.q / het.q_df)


def test_qprofile_pritz() -> None:
    """Methods anchors O3: tau2 0.3646 [0.0414, 2.0510] for every estimator."""
    (lo, hi), capped = tau2_qprofile_ci(YI, VI, 0.95, 0.3646)
    assert (round(lo, 4), round(hi, 4)) == (0.0414, 2.0510)
    assert not capped


def test_qprofile_lower_bound_zero_when_q_small() -> None:
    yi, vi = escalc([3, 6, 10, 1], [11, 17, 21, 6], "PFT")
    (lo, hi), _ = tau2_qprofile_ci(yi, vi)
    assert lo == 0.0 and hi > 0


def test_qprofile_both_zero_when_q_below_lower_quantile() -> None:
    (lo, hi), _ = tau2_qprofile_ci([0.1, 0.1, 0.1], [0.1, 0.2, 0.3])
    assert (lo, hi) == (0.0, 0.0)


def test_qprofile_capped_at_metafor_search_limit() -> None:
    yi = np.array([-60.0, 0.0, 60.0, -40.0, 40.0])
    (_, hi), capped = tau2_qprofile_ci(yi, np.full(5, 0.01), 0.95, 1.0)
    assert capped and hi == 100.0


def test_k1_conventions() -> None:
    assert cochran_q([0.3], [0.1]) == (0.0, 0, 1.0)
    het = heterogeneity([0.3], [0.1], 0.0, "REML")
    assert (het.i2, het.i2_q, het.h2, het.tau2_ci) == (0.0, 0.0, 1.0, (0.0, 0.0))


def test_i2_from_q_truncated() -> None:
    assert i2_from_q(2.0, 3) == 0.0 and i2_from_q(0.0, 3) == 0.0
    assert i2_from_q(6.0, 3) == pytest.approx(50.0)


def test_qprofile_interval_is_computed_on_first_access_and_equals_the_direct_one() -> None:
    import dataclasses
    import pickle

    from analysis.engine.heterogeneity import Deferred

    y, v = YI.copy(), VI.copy()
    het = heterogeneity(y, v, 0.3646, "REML")
    assert isinstance(het.__dict__["tau2_ci"], Deferred)  # nothing computed yet
    y[0] = 99.0  # the result copied its inputs: later changes to the caller's arrays do not leak
    direct, capped = tau2_qprofile_ci(YI, VI, 0.95, 0.3646)
    assert het.tau2_ci == direct and het.tau2_ci_capped is capped is False
    assert het.__dict__["tau2_ci"] == direct  # resolved once, then stored
    with pytest.raises(dataclasses.FrozenInstanceError):
        het.tau2_ci = (0.0, 1.0)  # type: ignore[misc]
    fresh = heterogeneity(YI, VI, 0.3646, "REML")
    assert pickle.loads(pickle.dumps(fresh)) == het == fresh
    assert "tau2_ci" in {f.name for f in dataclasses.fields(het)}
