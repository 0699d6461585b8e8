"""Stijnen, Hamza and Ozdemir (2010), "Random effects meta-analysis of event outcome in the
framework of the generalized linear mixed model with applications in sparse data", Statistics
in Medicine 29(29):3046-3067, doi:10.1002/sim.4040. Table II, p. 3050: normal-normal rows.

Data: metadat ``dat.nielweise2007`` (18 RCTs of anti-infective catheters; many zero-event
arms), each arm meta-analysed on its own: logit, REML, continuity correction 1/2 for 0/n
studies only. Published (4 decimals): control -3.3018 (SE 0.2378), tau2 0.6629, 0.0355
[0.0226, 0.0554]; treatment -4.2604 (SE 0.2589), tau2 0.3928, 0.0139 [0.0084, 0.0229].
The binomial-normal (GLMM) rows are in ``tests/engine/test_glmm.py``. metafor's own version of this
check is ``tests/testthat/test_analysis_example_stijnen2010.r``.
"""

from __future__ import annotations

import pytest

from analysis import metaprop

pytestmark = pytest.mark.published

# ai/n1i (treatment) and ci/n2i (control), study order of dat.nielweise2007
AI = [0, 1, 2, 0, 5, 1, 1, 1, 1, 1, 0, 0, 3, 6, 0, 0, 1, 4]
N1 = [116, 44, 208, 130, 151, 98, 174, 74, 97, 113, 66, 70, 188, 187, 118, 252, 345, 64]
CI = [3, 3, 9, 7, 6, 4, 3, 2, 19, 2, 7, 1, 5, 11, 0, 1, 3, 1]
N2 = [117, 35, 195, 136, 157, 139, 177, 39, 103, 122, 64, 58, 175, 180, 105, 262, 362, 69]

TABLE_II = {
    "control": (CI, N2, -3.3018, 0.2378, 0.6629, (0.0355, 0.0226, 0.0554)),
    "treatment": (AI, N1, -4.2604, 0.2589, 0.3928, (0.0139, 0.0084, 0.0229)),
}


@pytest.mark.parametrize("arm", sorted(TABLE_II))
def test_normal_normal_row(arm: str) -> None:
    x, n, mu, se, tau2, shown = TABLE_II[arm]
    res = metaprop(x, n, measure="PLO", method="REML")
    assert (round(res.mu, 4), round(res.se, 4), round(res.tau2, 4)) == (mu, se, tau2)
    assert tuple(round(v, 4) for v in (res.estimate, res.ci_lower, res.ci_upper)) == shown


def test_treatment_arm_meta_conventions() -> None:
    """meta 8.2-1 metaprop(method="Inverse") on the treatment arm (methods anchors O2):
    tau2 CI [0.0000; 1.1310], Q 23.67, I^2 28.2 % (from Q) vs metafor's 37.60 % (from tau2),
    PI (t, 17 df) [0.0034; 0.0557]."""
    res = metaprop(AI, N1)
    assert (round(res.tau2_ci[0], 4), round(res.tau2_ci[1], 4)) == (0.0, 1.131)
    assert round(res.q, 2) == 23.67
    assert round(res.i2_q, 1) == 28.2 and round(res.i2, 2) == 37.60
    assert (round(res.pi_lower, 4), round(res.pi_upper, 4)) == (0.0034, 0.0557)
    assert res.n_corrected == 6
