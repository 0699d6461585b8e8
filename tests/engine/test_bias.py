"""Tests of :mod:`analysis.engine.bias` (Egger-type regression test) against metafor 3.8-1 ``regtest``.

Reference: ``tests/reference/diagnostics_reference.json`` (script
``tests/reference/diagnostics_reference.R``): ``regtest(rma(yi, vi, method, test))`` with the
defaults model = "rma", predictor = "sei", on logit proportions of dat.pritz1997 and
dat.debruin2009 for every estimator x test ("z", "knha"); plus the methods anchors (O4:
z = 2.4111, p = 0.0159, limit estimate 0.1845 [-0.6793, 1.0482], logit REML, dat.pritz1997).

Tolerances: relative 1e-6 for closed-form estimators (EE, DL, HE, SJ), 1e-5 for iterative ones
(PM, ML, REML), whose residual tau2 both programs find iteratively (metafor's tolerance
tightened to 1e-12 by the script; observed agreement ~1e-9). Anchors are rounded to 4 decimals:
5e-5 absolute.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

from analysis.engine.bias import egger_test
from analysis.engine.effects import escalc
from analysis.engine.metaprop import metaprop

REF = json.loads((Path(__file__).parents[1] / "reference" / "diagnostics_reference.json").read_text())
DATASETS = ("pritz1997", "debruin2009")
METHODS = ("EE", "DL", "HE", "SJ", "PM", "ML", "REML")
TESTS = ("z", "knha")
CI = {"z": "z", "knha": "hksj"}
GRID = list(itertools.product(DATASETS, METHODS, TESTS))


def rtol(method: str) -> float:
    return 1e-6 if method in {"EE", "DL", "HE", "SJ"} else 1e-5


def logits(name: str) -> tuple[np.ndarray, np.ndarray]:
    d = REF["data"][name]
    return escalc(np.asarray(d["xi"]), np.asarray(d["ni"]), "PLO")


@pytest.mark.metafor
def test_reference_grid_is_complete() -> None:
    assert set(REF["regtest"]) == {"|".join(c) for c in GRID}


@pytest.mark.metafor
@pytest.mark.parametrize(("dataset", "method", "test"), GRID, ids=["|".join(c) for c in GRID])
def test_regtest_matches_metafor(dataset: str, method: str, test: str) -> None:
    ref = REF["regtest"][f"{dataset}|{method}|{test}"]
    yi, vi = logits(dataset)
    res = egger_test(yi, vi, method=method, ci=CI[test])
    got = [res.stat, res.pvalue, res.limit_estimate, *res.limit_ci, res.slope, res.slope_se,
           res.tau2]
    want = [ref[k] for k in ("zval", "pval", "est", "ci_lb", "ci_ub", "slope", "slope_se",
                             "tau2")]
    np.testing.assert_allclose(got, want, rtol=rtol(method), atol=1e-12)
    assert res.df == ref["dfs"]  # k - 2 for knha, None for z


def test_anchor_pritz_reml() -> None:
    """methods-anchors O4 (metafor regtest on logit REML)."""
    yi, vi = logits("pritz1997")
    res = egger_test(yi, vi)
    assert res.stat == pytest.approx(2.4111, abs=5e-5)
    assert res.pvalue == pytest.approx(0.0159, abs=5e-5)
    assert res.limit_estimate == pytest.approx(0.1845, abs=5e-5)
    assert res.limit_ci == pytest.approx((-0.6793, 1.0482), abs=5e-5)
    assert res.k == 14 and res.df is None
    assert not any("fewer than 10" in n for n in res.notes)


def test_result_input_uses_its_settings_and_back_transforms() -> None:
    d = REF["data"]["pritz1997"]
    res = metaprop(d["xi"], d["ni"], method="PM", ci="hksj", level=0.9)
    e = egger_test(res)
    yi, vi = logits("pritz1997")
    direct = egger_test(yi, vi, method="PM", ci="hksj", level=0.9)
    assert (e.stat, e.pvalue, e.limit_ci) == (direct.stat, direct.pvalue, direct.limit_ci)
    assert (e.method, e.ci, e.level, e.measure, e.df) == ("PM", "hksj", 0.9, "PLO", 12)
    assert e.limit_proportion == pytest.approx(float(expit(e.limit_estimate)), rel=1e-12)
    assert e.limit_proportion_ci == pytest.approx(tuple(expit(np.array(e.limit_ci))), rel=1e-12)
    assert any("correlated by construction" in n for n in e.notes)
    assert direct.limit_proportion is None


def test_small_k_gives_a_note_not_a_warning() -> None:
    yi, vi = logits("pritz1997")
    res = egger_test(yi[:6], vi[:6])  # pytest turns any Python warning into an error
    assert any("only k = 6 studies" in n and "fewer than 10" in n for n in res.notes)
    assert "only k = 6 studies" in res.methods_text()


def test_glmm_result_is_tested_with_reml_and_says_so() -> None:
    d = REF["data"]["pritz1997"]
    res = metaprop(d["xi"], d["ni"], method="GLMM")
    e = egger_test(res)
    assert e.method == "REML"
    assert any("GLMM" in n and "REML" in n for n in e.notes)
    assert e.stat == pytest.approx(REF["regtest"]["pritz1997|REML|z"]["zval"], rel=1e-5)


def test_summary_table() -> None:
    yi, vi = logits("debruin2009")
    table = egger_test(yi, vi).summary()
    assert table.shape[0] == 1
    assert table.loc[0, "stat"] == pytest.approx(REF["regtest"]["debruin2009|REML|z"]["zval"],
                                                 rel=1e-5)


def test_bad_input() -> None:
    yi, vi = logits("pritz1997")
    with pytest.raises(ValueError, match="at least 3 studies"):
        egger_test(yi[:2], vi[:2])
    with pytest.raises(ValueError, match="vi is required"):
        egger_test(yi)
    with pytest.raises(ValueError, match="differ in length"):
        egger_test(yi, vi[:5])
    with pytest.raises(ValueError, match="measure must be one of"):
        egger_test(yi, vi, measure="OR")
    with pytest.raises(ValueError, match="either a result or yi and vi"):
        egger_test(metaprop([3, 4, 5], [10, 10, 10]), vi[:3])
