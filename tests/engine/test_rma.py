"""analysis.engine.rma.rma_uni: pooled estimate, CI (z, HKSJ), PI (t, z), edge cases.

Pinned definitional variant: the prediction interval uses t with k - 1 df when ``pi="t"``
(our default, meta >= 8.0) and the normal quantile when ``pi="z"`` (metafor's ``predict``
default); both use the SE of the chosen CI method.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.engine.effects import back_transform, escalc
from analysis.engine.rma import rma_uni

PRITZ_X = [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6]
PRITZ_N = [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10]
YI, VI = escalc(PRITZ_X, PRITZ_N, "PLO")


def _shown(*values: float) -> list[float]:
    return [round(float(p), 6) for p in back_transform(list(values), "PLO")]


def test_reml_z_pritz() -> None:
    """Methods anchors O3 (metafor): 1.138909 (SE 0.241478); 0.757479 [0.660522, 0.833716],
    PI (z) [0.466135, 0.917850]."""
    f = rma_uni(YI, VI, "REML", "z", "z")
    assert (round(f.mu, 6), round(f.se, 6)) == (1.138909, 0.241478)
    assert _shown(f.mu, f.ci_lower, f.ci_upper) == [0.757479, 0.660522, 0.833716]
    assert _shown(f.pi_lower, f.pi_upper) == [0.466135, 0.91785]


def test_pi_t_vs_z_variants_pritz() -> None:
    """Same fit, PI with t(13) = metafor pi.type="t" = meta default: [0.433891, 0.927157]."""
    f = rma_uni(YI, VI, "REML", "z", "t")
    assert f.pi_df == 13
    assert _shown(f.pi_lower, f.pi_upper) == [0.433891, 0.927157]
    assert rma_uni(YI, VI, "REML", "z", "z").pi_df is None


def test_hksj_pritz_equals_metafor_knha() -> None:
    """REML knha: SE 0.244441, [0.648129, 0.841174], PI (t13) [0.433304, 0.927318];
    DL knha: SE 0.244286, [0.647992, 0.841004]."""
    f = rma_uni(YI, VI, "REML", "hksj", "t")
    assert round(f.se, 6) == 0.244441 and f.ci_df == 13
    assert _shown(f.ci_lower, f.ci_upper, f.pi_lower, f.pi_upper) == [
        0.648129, 0.841174, 0.433304, 0.927318]
    d = rma_uni(YI, VI, "DL", "hksj", "t")
    assert round(d.se, 6) == 0.244286
    assert _shown(d.ci_lower, d.ci_upper) == [0.647992, 0.841004]


def test_small_k_dl_z_vs_hksj() -> None:
    """Methods anchors O6 (first three pritz studies, DL): tau2 1.1800; z 0.7917
    [0.4470, 0.9470], PI [0.2147, 0.9814]; KnHa [0.1107, 0.9915], PI [0.0115, 0.9992]."""
    y, v = YI[:3], VI[:3]
    z = rma_uni(y, v, "DL", "z", "z")
    assert round(z.tau2, 4) == 1.18
    assert [round(p, 4) for p in back_transform(
        [z.mu, z.ci_lower, z.ci_upper, z.pi_lower, z.pi_upper], "PLO")] == [
        0.7917, 0.4470, 0.9470, 0.2147, 0.9814]
    h = rma_uni(y, v, "DL", "hksj", "t")
    assert [round(p, 4) for p in back_transform(
        [h.ci_lower, h.ci_upper, h.pi_lower, h.pi_upper], "PLO")] == [0.1107, 0.9915, 0.0115, 0.9992]


def test_weights_are_percent_and_sum_to_100() -> None:
    f = rma_uni(YI, VI, "REML")
    assert f.weights.sum() == pytest.approx(100.0)
    assert round(float(f.weights[3]), 4) == 12.8295  # methods anchors O4, weight % of study 4
    with pytest.raises(ValueError):
        f.weights[0] = 1.0  # read-only


def test_ee_prediction_interval_equals_ci() -> None:
    f = rma_uni(YI, VI, "EE", "z", "t")
    assert (f.pi_lower, f.pi_upper) == (f.ci_lower, f.ci_upper) and f.pi_df is None
    assert round(f.mu, 6) == 0.941315 and round(f.se, 6) == 0.135575


def test_k1_is_the_study_and_forces_z() -> None:
    f = rma_uni([0.4], [0.09], "REML", "hksj", "t")
    assert (f.mu, f.se, f.tau2, f.ci) == (0.4, pytest.approx(0.3), 0.0, "z")
    assert (f.pi_lower, f.pi_upper) == (f.ci_lower, f.ci_upper)
    assert f.ci_lower == pytest.approx(0.4 - stats.norm.ppf(0.975) * 0.3)
    assert any("k = 1" in n for n in f.notes) and any("hksj" in n for n in f.notes)


def test_hksj_with_identical_effects_has_zero_se_like_metafor() -> None:
    f = rma_uni([0.2, 0.2, 0.2], [0.1, 0.2, 0.3], "REML", "hksj")
    assert f.se == 0.0 and f.ci_lower == f.ci_upper == pytest.approx(0.2)


def test_generic_effect_sizes_direct_computation() -> None:
    """rma_uni is not tied to proportions: hand computation for a made-up set of mean
    differences with DL (synthetic data)."""
    y, v = np.array([0.5, 1.2, -0.3, 0.8]), np.array([0.04, 0.09, 0.16, 0.05])
    w = 1 / v
    q = np.sum(w * (y - np.sum(w * y) / w.sum()) ** 2)
    tau2 = max(0, (q - 3) / (w.sum() - np.sum(w**2) / w.sum()))
    ws = 1 / (v + tau2)
    f = rma_uni(y, v, "DL", "z", "z")
    assert f.tau2 == pytest.approx(tau2, rel=1e-12)
    assert f.mu == pytest.approx(np.sum(ws * y) / ws.sum(), rel=1e-12)
    assert f.se == pytest.approx(ws.sum() ** -0.5, rel=1e-12)
    assert f.pvalue == pytest.approx(2 * stats.norm.sf(abs(f.mu / f.se)), rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"method": "EB"}, "method must be one of"), ({"ci": "t"}, "ci must be one of"),
     ({"pi": "riley"}, "pi must be one of"), ({"level": 95}, "level must lie")],
)
def test_option_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rma_uni(YI, VI, **kwargs)  # type: ignore[arg-type]


def test_data_errors_name_the_study() -> None:
    with pytest.raises(ValueError, match="k = 0"):
        rma_uni([], [])
    with pytest.raises(ValueError, match=r"study 2: vi = 0\.0"):
        rma_uni([1.0, 2.0], [0.1, 0.0])
    with pytest.raises(ValueError, match="study 1: yi = inf"):
        rma_uni([np.inf, 2.0], [0.1, 0.1])


@pytest.mark.parametrize(("ci", "level"), [("z", 0.95), ("hksj", 0.95), ("hksj", 0.8), ("z", 0.5)])
def test_quantiles_and_pvalues_equal_scipy_stats_exactly(ci: str, level: float) -> None:
    """rma_uni uses the scipy.special ufuncs behind scipy.stats' t and normal: same numbers."""
    f = rma_uni(YI, VI, "REML", ci, "t", level)
    p = 1 - (1 - level) / 2
    crit = stats.norm.ppf(p) if ci == "z" else stats.t.ppf(p, 13)
    pval = 2 * (stats.norm.sf(abs(f.stat)) if ci == "z" else stats.t.sf(abs(f.stat), 13))
    assert f.ci_upper == f.mu + crit * f.se and f.pvalue == float(pval)
    assert f.pi_upper == f.mu + stats.t.ppf(p, 13) * np.sqrt(f.se**2 + f.tau2)
