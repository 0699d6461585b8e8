"""Tests of :mod:`analysis.engine.metareg` against metafor 3.8-1 and by properties.

Reference: ``tests/reference/diagnostics_reference.json``, written by the committed script
``tests/reference/diagnostics_reference.R`` (metafor 3.8-1, R 4.2.2; calls and versions recorded
in its ``source`` block): ``rma(yi, vi, mods = ~ x, method, test)`` on logit proportions for
every estimator (EE, DL, HE, SJ, PM, ML, REML) x test ("z", "knha") on

* dat.pritz1997 with the study index as moderator (SYNTHETIC moderator; the data are real),
* dat.debruin2009 with its real moderator ``scq`` (standard-care quality score).

Tolerances: relative 1e-6 for closed-form estimators (EE, DL, HE, SJ: the same formulas in
floating point, so only rounding differs) and 1e-5 for iterative ones (PM, ML, REML: both
programs stop at a tolerance; the R script tightens metafor's to 1e-12, ours is 1e-12, so the
observed agreement is ~1e-9 and 1e-5 leaves room for platform differences). An absolute
floor of 1e-10 covers quantities that are exactly 0 (tau2 at the boundary, R^2 = 0).
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from analysis.engine.effects import escalc
from analysis.engine.metareg import METAREG_METHODS, metareg, rma_mods
from analysis.engine.rma import rma_uni

REF_PATH = Path(__file__).parents[1] / "reference" / "diagnostics_reference.json"
REF = json.loads(REF_PATH.read_text())
DATASETS = ("pritz1997", "debruin2009")
METHODS = ("EE", "DL", "HE", "SJ", "PM", "ML", "REML")
TESTS = ("z", "knha")
CI = {"z": "z", "knha": "hksj"}  # metafor test= -> our ci=
CLOSED_FORM = {"EE", "DL", "HE", "SJ"}
GRID = list(itertools.product(DATASETS, METHODS, TESTS))
ATOL = 1e-10


def rtol(method: str) -> float:
    return 1e-6 if method in CLOSED_FORM else 1e-5


def data(name: str) -> dict:
    return REF["data"][name]


def close(actual: float, expected: float | None, method: str) -> None:
    assert expected is not None
    np.testing.assert_allclose(actual, expected, rtol=rtol(method), atol=ATOL)


@pytest.mark.metafor
def test_reference_grid_is_complete() -> None:
    assert set(REF["metareg"]) == {"|".join(c) for c in GRID}
    assert set(REF["source"]["grid"]["methods"]) == set(METHODS) == set(METAREG_METHODS)
    assert REF["source"]["metafor"] == "3.8.1"
    assert set(REF["metareg_predict"]) == {
        "|".join(c) for c in itertools.product(DATASETS, ("DL", "REML"), TESTS)}


@pytest.mark.metafor
@pytest.mark.parametrize(("dataset", "method", "test"), GRID, ids=["|".join(c) for c in GRID])
def test_metareg_matches_metafor(dataset: str, method: str, test: str) -> None:
    ref = REF["metareg"][f"{dataset}|{method}|{test}"]
    d = data(dataset)
    res = metareg(d["xi"], d["ni"], d[ref["moderator"]], labels=d["label"], method=method,
                  ci=CI[test], moderator_name=ref["moderator"])
    for got, i in ((res.intercept, 0), (res.slope, 1)):
        close(got, ref["b"][i], method)
    for i, (se, stat, p, lo, hi) in enumerate([
        (res.intercept_se, res.stat[0], res.intercept_pvalue, *res.intercept_ci),
        (res.slope_se, res.stat[1], res.slope_pvalue, *res.slope_ci),
    ]):
        close(se, ref["se"][i], method)
        close(stat, ref["zval"][i], method)
        close(p, ref["pval"][i], method)
        close(lo, ref["ci_lb"][i], method)
        close(hi, ref["ci_ub"][i], method)
    for got, key in ((res.qm, "QM"), (res.qm_pvalue, "QMp"), (res.qe, "QE"),
                     (res.qe_pvalue, "QEp"), (res.tau2, "tau2"), (res.i2, "I2"), (res.h2, "H2"),
                     (res.r2, "R2")):
        close(got, ref[key], method)
    assert res.qm_df == ref["QMdf"][0] == 1
    assert res.df == ref["QMdf"][1]  # k - 2 for knha, None (NA) for z
    assert res.qe_df == ref["QEdf"] and res.k == ref["k"]


@pytest.mark.metafor
@pytest.mark.parametrize("key", sorted(REF["metareg_predict"]))
def test_predict_matches_metafor(key: str) -> None:
    dataset, method, test = key.split("|")
    ref = REF["metareg_predict"][key]
    mod = REF["metareg"][key]["moderator"]
    d = data(dataset)
    res = metareg(d["xi"], d["ni"], d[mod], method=method, ci=CI[test])
    pred_t = res.predict(ref["x"])
    pred_z = res.predict(ref["x"], pi="z")
    for col, rkey in (("mu", "pred"), ("se", "se"), ("mu_ci_lower", "ci_lb"),
                      ("mu_ci_upper", "ci_ub"), ("mu_pi_lower", "pi_lb"),
                      ("mu_pi_upper", "pi_ub")):
        np.testing.assert_allclose(pred_t[col], ref[rkey], rtol=rtol(method), atol=ATOL)
    if test == "z":
        np.testing.assert_allclose(pred_z["mu_pi_lower"], ref["pi_lb_z"], rtol=rtol(method))
        np.testing.assert_allclose(pred_z["mu_pi_upper"], ref["pi_ub_z"], rtol=rtol(method))
    else:  # metafor's default PI after test="knha" already uses t(k - p): no z variant to pin
        assert ref["pi_lb_z"] == ref["pi_lb"]
        assert np.all(pred_z["mu_pi_lower"] > pred_t["mu_pi_lower"])
    # display scale is the inverse logit of the measure scale
    np.testing.assert_allclose(pred_t["estimate"], 1 / (1 + np.exp(-np.asarray(ref["pred"]))),
                               rtol=1e-6)


def test_debruin_scq_reproduces_metafor_printout() -> None:
    """metafor's printed meta-regression of dat.debruin2009 on scq (REML, z), 4 decimals."""
    d = data("debruin2009")
    res = metareg(d["xi"], d["ni"], d["scq"], moderator_name="scq")
    assert res.slope == pytest.approx(0.0309, abs=5e-5)
    assert res.slope_se == pytest.approx(0.0247, abs=5e-5)
    assert res.tau2 == pytest.approx(0.3704, abs=5e-5)
    assert res.qm_pvalue == pytest.approx(0.2115, abs=5e-5)
    assert res.r2 == pytest.approx(7.73, abs=5e-3)


@pytest.mark.parametrize("method", METHODS)
def test_intercept_only_rma_mods_equals_rma_uni(method: str) -> None:
    d = data("pritz1997")
    yi, vi = escalc(np.array(d["xi"]), np.array(d["ni"]), "PLO")
    for ci in ("z", "hksj"):
        a = rma_mods(yi, vi, np.ones((yi.size, 1)), method=method, ci=ci)
        b = rma_uni(yi, vi, method, ci)
        np.testing.assert_allclose([a.beta[0], a.se[0], a.tau2, a.qe, a.i2],
                                   [b.mu, b.se, b.tau2, b.q, b.i2], rtol=1e-9, atol=1e-12)


def test_slope_scales_and_shifts_with_the_moderator() -> None:
    d = data("debruin2009")
    x = np.asarray(d["scq"])
    base = metareg(d["xi"], d["ni"], x)
    scaled = metareg(d["xi"], d["ni"], 10 * x - 3)
    assert scaled.slope == pytest.approx(base.slope / 10, rel=1e-9)
    assert scaled.qm == pytest.approx(base.qm, rel=1e-9)
    assert scaled.tau2 == pytest.approx(base.tau2, rel=1e-9)
    assert scaled.intercept == pytest.approx(base.intercept + 0.3 * base.slope, rel=1e-9)


def test_label_order_does_not_change_the_fit() -> None:
    d = data("debruin2009")
    perm = np.random.default_rng(1).permutation(len(d["xi"]))
    a = metareg(d["xi"], d["ni"], d["scq"], labels=d["label"])
    b = metareg(np.asarray(d["xi"])[perm], np.asarray(d["ni"])[perm],
                np.asarray(d["scq"])[perm], labels=np.asarray(d["label"])[perm])
    np.testing.assert_allclose([a.slope, a.slope_se, a.tau2, a.qe],
                               [b.slope, b.slope_se, b.tau2, b.qe], rtol=1e-9)


def test_summary_methods_text_and_small_k_note() -> None:
    d = data("pritz1997")
    res = metareg(d["xi"][:6], d["ni"][:6], d["index"][:6], moderator_name="index (synthetic)",
                  ci="hksj")
    table = res.summary()
    assert list(table["term"]) == ["intercept", "index (synthetic)"]
    assert table.loc[1, "estimate"] == res.slope
    assert any("k = 6" in n for n in res.notes)
    text = res.methods_text()
    assert "index (synthetic)" in text and "Knapp-Hartung" in text and "4 df" in text
    assert not any("k = 14" in n for n in metareg(d["xi"], d["ni"], d["index"]).notes)


@pytest.mark.parametrize(("value", "message"), [
    (None, "study 'B': moderator 'dose' is missing"),
    (float("nan"), "study 'B': moderator 'dose' is missing"),
    ("high", "study 'B': moderator 'dose' = 'high' is not a number"),
    (float("inf"), "study 'B': moderator 'dose' = inf is not finite"),
])
def test_bad_moderator_names_the_study(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metareg([3, 4, 5, 6], [10, 10, 10, 10], [1.0, value, 3.0, 4.0],
                labels=["A", "B", "C", "D"], moderator_name="dose")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"moderator": [2.0, 2.0, 2.0, 2.0]}, "same value"),
    ({"moderator": [1.0, 2.0, 3.0]}, "3 values but there are 4 studies"),
    ({"moderator": [1.0, 2.0, 3.0, 4.0], "method": "GLMM"}, "method must be one of"),
    ({"moderator": [1.0, 2.0, 3.0, 4.0], "ci": "t"}, "ci must be one of"),
])
def test_bad_options_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metareg([3, 4, 5, 6], [10, 10, 10, 10], **kwargs)


def test_too_few_studies_and_bad_counts() -> None:
    with pytest.raises(ValueError, match="at least 3 studies"):
        metareg([3, 4], [10, 10], [1.0, 2.0])
    with pytest.raises(ValueError, match="exceeds n"):
        metareg([3, 14, 5], [10, 10, 10], [1.0, 2.0, 3.0], labels=["A", "B", "C"])


def test_data_frame_columns() -> None:
    import pandas as pd

    d = data("debruin2009")
    frame = pd.DataFrame({"x": d["xi"], "n": d["ni"], "q": d["scq"], "lab": d["label"]})
    res = metareg("x", "n", "q", data=frame, labels="lab")
    assert res.moderator_name == "q"
    assert res.slope == pytest.approx(REF["metareg"]["debruin2009|REML|z"]["b"][1], rel=1e-5)


@pytest.mark.metafor
@pytest.mark.slow
def test_r_script_regenerates_the_committed_reference(tmp_path: Path) -> None:
    """Regenerating with the committed R script gives byte-identical JSON (skipped without R)."""
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed: regeneration not checked (comparisons still run)")
    out = tmp_path / "ref.json"
    root = Path(__file__).parents[2]
    subprocess.run(["Rscript", "tests/reference/diagnostics_reference.R", str(out)], cwd=root,
                   check=True, capture_output=True, timeout=600)
    assert out.read_text() == REF_PATH.read_text()


# --- REML safeguard: Fisher scoring can oscillate near tau2 = 0, with moderators too -------------

#: SYNTHETIC counts (from the simulation study; also in tests/engine/test_tau2.py) on which REML Fisher
#: scoring oscillates without converging, with or without a moderator.
OSC_X = [31, 18, 36, 23, 11, 30, 12, 41, 12, 41]
OSC_N = [32, 19, 36, 24, 12, 34, 12, 43, 12, 42]
#: metafor 3.8-1 (R 4.2.2): rma(yi, vi, mods = ~ x, method = "REML", control = list(stepadj = 0.5,
#: maxiter = 1000, threshold = 1e-12)) with x = 0:9, printed with digits = 10 (tau2, intercept,
#: slope). The default control stops with "Fisher scoring algorithm did not converge".
METAFOR_STEPADJ_MODS = (0.048796493753, 2.890775597323, -0.007311275951)
#: Same, intercept only (tests/engine/test_tau2.py).
METAFOR_STEPADJ_INTERCEPT = 0.01380879384


def _reml_loglik(tau2: np.ndarray, yi: np.ndarray, vi: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Restricted log-likelihood on a grid, written out independently of analysis.engine.metareg:
    -1/2 [sum log(v + t) + log det(X'WX) + (y - Xb)'W(y - Xb)], b the WLS fit (constants dropped)."""
    out = []
    for t in tau2:
        w = 1.0 / (vi + t)
        xtwx = X.T @ (X * w[:, None])
        b = np.linalg.solve(xtwx, X.T @ (w * yi))
        r = yi - X @ b
        out.append(-0.5 * (np.log(vi + t).sum() + np.linalg.slogdet(xtwx)[1] + (w * r * r).sum()))
    return np.array(out)


def test_reml_with_a_moderator_converges_where_scoring_oscillates() -> None:
    yi, vi = escalc(OSC_X, OSC_N, "PLO")
    X = np.column_stack([np.ones(10), np.arange(10.0)])
    fit = rma_mods(yi, vi, X, method="REML")
    assert fit.tau2_converged
    assert any("maximised directly" in n for n in fit.notes)
    assert not any("did not converge" in n for n in fit.notes)
    assert fit.tau2 == pytest.approx(METAFOR_STEPADJ_MODS[0], abs=1e-10)
    assert fit.beta == pytest.approx(METAFOR_STEPADJ_MODS[1:], abs=1e-9)
    grid = np.linspace(0.0, 0.2, 20_001)  # steps of 1e-5
    best = grid[np.argmax(_reml_loglik(grid, yi, vi, X))]
    assert fit.tau2 == pytest.approx(best, abs=1e-5)


def test_intercept_only_fallback_agrees_with_rma_uni() -> None:
    yi, vi = escalc(OSC_X, OSC_N, "PLO")
    fit = rma_mods(yi, vi, np.ones((10, 1)), method="REML")
    assert fit.tau2_converged
    assert fit.tau2 == pytest.approx(METAFOR_STEPADJ_INTERCEPT, abs=1e-10)
    assert fit.tau2 == pytest.approx(rma_uni(yi, vi, "REML").tau2, abs=1e-12)


def test_scoring_that_converges_adds_no_note() -> None:
    yi, vi = escalc([5, 9, 14, 20, 7], [20, 25, 30, 40, 18], "PLO")
    fit = rma_mods(yi, vi, np.column_stack([np.ones(5), np.arange(5.0)]), method="REML")
    assert fit.tau2_converged and fit.notes == ()
