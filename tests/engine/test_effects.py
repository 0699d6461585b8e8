"""analysis.engine.effects: escalc values against metafor and the methods anchors, back-transforms."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.engine.effects import (
    back_transform,
    continuity_mask,
    display_domain,
    escalc,
    harmonic_mean,
    pft,
)

PRITZ_X = [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6]
PRITZ_N = [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10]


def test_plo_pritz_matches_metafor_escalc() -> None:
    """Values printed by metafor 3.8-1 escalc(measure="PLO") (methods anchors, O3)."""
    yi, vi = escalc(PRITZ_X, PRITZ_N, "PLO")
    np.testing.assert_allclose(yi[[0, 4, 7]], [2.772589, 3.044522, 3.218876], atol=5e-7)
    np.testing.assert_allclose(vi[[0, 4, 7]], [1.0625, 2.095238, 2.08], atol=5e-7)


def test_pft_miller_matches_published_half_scale() -> None:
    """Miller (1978): metafor's PFT is half the double arcsine and a quarter of its variance."""
    yi, vi = escalc([3, 6, 10, 1], [11, 17, 21, 6], "PFT")
    np.testing.assert_allclose(2 * yi, [1.1391, 1.2888, 1.5253, 0.9515], atol=5e-5)
    np.testing.assert_allclose(4 * vi, [0.0870, 0.0571, 0.0465, 0.1538], atol=5e-5)


def test_continuity_correction_only_for_plo_and_pr_and_only_0_or_n() -> None:
    x, n = [0, 5, 10], [10, 10, 10]
    assert continuity_mask(x, n, "PLO").tolist() == [True, False, True]
    assert continuity_mask(x, n, "PR").tolist() == [True, False, True]
    assert not continuity_mask(x, n, "PAS").any()
    assert not continuity_mask(x, n, "PFT").any()
    yi, vi = escalc(x, n, "PR")
    # metafor PR corrects estimate and variance: 0.5 / 11
    assert yi[0] == pytest.approx(0.5 / 11) and yi[1] == 0.5
    assert vi[0] == pytest.approx((0.5 / 11) * (10.5 / 11) / 11)
    yi, _ = escalc(x, n, "PAS")
    assert yi[0] == 0.0 and yi[2] == pytest.approx(np.pi / 2)


def test_cc_zero_leaves_infinite_logit() -> None:
    yi, vi = escalc([0], [10], "PLO", cc=0.0)
    assert np.isinf(yi[0]) and np.isinf(vi[0])


def test_pas_variance_and_pft_variance() -> None:
    _, v_as = escalc([3], [12], "PAS")
    _, v_ft = escalc([3], [12], "PFT")
    assert v_as[0] == pytest.approx(1 / 48) and v_ft[0] == pytest.approx(1 / 50)


@pytest.mark.parametrize("measure", ["PLO", "PAS", "PR"])
def test_back_transform_inverts_escalc_without_correction(measure: str) -> None:
    x, n = np.array([1, 3, 7, 9]), np.array([10, 10, 10, 10])
    yi, _ = escalc(x, n, measure)
    np.testing.assert_allclose(back_transform(yi, measure), x / n, rtol=1e-12)


def test_pft_back_transform_with_each_study_n_recovers_p() -> None:
    """Miller's inverse is exact when the study's own n is used."""
    for x, n in [(1, 10), (4, 10), (7, 12), (30, 31)]:
        t = pft(x / n, n)
        assert back_transform(t, "PFT", n)[()] == pytest.approx(x / n, rel=1e-9)


def test_pft_edges_give_exactly_0_and_1() -> None:
    """metafor: transf.ipft returns 0 and 1 for 0/10 and 10/10 (methods anchors, O1)."""
    yi, _ = escalc([0, 10], [10, 10], "PFT")
    assert back_transform(yi, "PFT", 10.0).tolist() == [0.0, 1.0]


def test_back_transform_clips_into_unit_interval() -> None:
    assert back_transform([-0.3, 2.0], "PAS").tolist() == [0.0, 1.0]
    assert back_transform([-0.1, 1.2], "PR").tolist() == [0.0, 1.0]
    lo, hi = display_domain("PFT", 12.0)
    assert back_transform([lo - 0.1, hi + 0.1], "PFT", 12.0).tolist() == [0.0, 1.0]


def test_pft_needs_harmonic_mean() -> None:
    with pytest.raises(ValueError, match="n_harmonic"):
        back_transform([0.5], "PFT")


def test_harmonic_mean_pritz() -> None:
    """Methods anchors O3: harmonic-mean n of dat.pritz1997 = 12.587543."""
    assert harmonic_mean(PRITZ_N) == pytest.approx(12.587543, abs=5e-7)


def test_unknown_measure_is_rejected() -> None:
    with pytest.raises(ValueError, match="measure must be one of"):
        escalc([1], [2], "PLN")
