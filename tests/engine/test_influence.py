"""Tests of :mod:`analysis.engine.influence` against metafor 3.8-1 ``influence()``.

Reference: ``tests/reference/diagnostics_reference.json`` (script
``tests/reference/diagnostics_reference.R``): ``influence(rma(yi, vi, method, test))`` on logit
proportions of dat.pritz1997 and dat.debruin2009 for every estimator x test ("z", "knha"), plus
the rounded values of the methods anchors (section O4, logit REML on dat.pritz1997).

Tolerances: relative 1e-6 for closed-form estimators (EE, DL, HE, SJ) and 1e-5 for iterative
ones (PM, ML, REML) -- each deleted fit re-estimates tau2, and both programs stop iterating at a
tolerance (metafor's tightened to 1e-12 by the script); observed agreement is ~1e-9. An absolute
floor of 1e-9 covers values that are 0 or nearly so (Cook's distance of a study lying on the
pooled estimate, tau2 at the boundary). Anchor values are printed to 4 decimals: 5e-5 absolute.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.engine.effects import escalc
from analysis.engine.influence import INFLUENCE_COLUMNS, influence
from analysis.engine.metaprop import metaprop

REF = json.loads((Path(__file__).parents[1] / "reference" / "diagnostics_reference.json").read_text())
DATASETS = ("pritz1997", "debruin2009")
METHODS = ("EE", "DL", "HE", "SJ", "PM", "ML", "REML")
TESTS = ("z", "knha")
CI = {"z": "z", "knha": "hksj"}
GRID = list(itertools.product(DATASETS, METHODS, TESTS))
COLUMNS = {"rstudent": "rstudent", "dffits": "dffits", "cook_d": "cook_d", "cov_r": "cov_r",
           "tau2_del": "tau2_del", "qe_del": "QE_del", "hat": "hat", "weight": "weight",
           "dfbetas": "dfbetas"}


def rtol(method: str) -> float:
    return 1e-6 if method in {"EE", "DL", "HE", "SJ"} else 1e-5


def logits(name: str) -> tuple[np.ndarray, np.ndarray]:
    d = REF["data"][name]
    return escalc(np.asarray(d["xi"]), np.asarray(d["ni"]), "PLO")


@pytest.mark.metafor
def test_reference_grid_is_complete() -> None:
    assert set(REF["influence"]) == {"|".join(c) for c in GRID}
    assert all(set(v) >= set(COLUMNS.values()) | {"is_infl"} for v in REF["influence"].values())


@pytest.mark.metafor
@pytest.mark.parametrize(("dataset", "method", "test"), GRID, ids=["|".join(c) for c in GRID])
def test_influence_matches_metafor(dataset: str, method: str, test: str) -> None:
    ref = REF["influence"][f"{dataset}|{method}|{test}"]
    yi, vi = logits(dataset)
    table = influence(yi, vi, method=method, ci=CI[test], labels=REF["data"][dataset]["label"])
    for ours, theirs in COLUMNS.items():
        np.testing.assert_allclose(table[ours], ref[theirs], rtol=rtol(method), atol=1e-9,
                                   err_msg=ours)
    assert table["influential"].tolist() == [bool(v) for v in ref["is_infl"]]


def test_debruin_flags_are_not_all_false() -> None:
    """The grid includes flagged studies, so the flag comparison above can fail."""
    flagged = sum(sum(v["is_infl"]) for v in REF["influence"].values())
    assert flagged > 0


def test_anchor_values_pritz_reml() -> None:
    """methods-anchors O4: rstudent, Cook's D, hat and weight (%), logit REML, 4 decimals."""
    yi, vi = logits("pritz1997")
    t = influence(yi, vi)
    anchors = {
        "rstudent": [1.4380, 0.4801, -1.2643, -0.1658, 1.2416, -1.1797, 1.2386, 1.3622, -1.7133,
                     0.1906, 0.3765, 0.1523, 1.0444, -0.8540],
        "cook_d": [0.1224, 0.0087, 0.1282, 0.0385, 0.0492, 0.2064, 0.0857, 0.0612, 0.2223,
                   0.0000, 0.0027, 0.0013, 0.2045, 0.0971],
        "hat": [0.0409, 0.0605, 0.0674, 0.1283, 0.0237, 0.1258, 0.0405, 0.0239, 0.1260, 0.0361,
                0.0373, 0.0940, 0.1210, 0.0746],
        "weight": [4.0861, 6.0452, 6.7444, 12.8295, 2.3706, 12.5831, 4.0452, 2.3853, 12.6032,
                   3.6115, 3.7270, 9.4029, 12.1021, 7.4638],
    }
    for col, values in anchors.items():
        np.testing.assert_allclose(t[col], values, atol=5e-5, rtol=0, err_msg=col)


def test_result_input_equals_array_input() -> None:
    d = REF["data"]["pritz1997"]
    res = metaprop(d["xi"], d["ni"], labels=d["label"], method="DL", ci="hksj")
    from_result = influence(res)
    yi, vi = logits("pritz1997")
    from_arrays = influence(yi, vi, method="DL", ci="hksj", labels=d["label"])
    pd.testing.assert_frame_equal(from_result, from_arrays)
    assert list(from_result.columns) == list(INFLUENCE_COLUMNS)
    assert from_result["label"].tolist() == d["label"]


def test_weights_and_hat_values_are_consistent() -> None:
    yi, vi = logits("debruin2009")
    t = influence(yi, vi)
    assert t["weight"].sum() == pytest.approx(100.0, rel=1e-12)
    np.testing.assert_allclose(t["hat"] * 100, t["weight"], rtol=1e-12)
    flagged = t[t["influential"]]
    assert all(row.criteria for row in flagged.itertuples())
    assert not any(t.loc[~t["influential"], "criteria"].astype(bool))


def test_glmm_result_is_refused_with_a_clear_message() -> None:
    d = REF["data"]["pritz1997"]
    res = metaprop(d["xi"], d["ni"], method="GLMM")
    assert res.tau2_estimator == "GLMM", res.notes
    with pytest.raises(ValueError, match="inverse-variance fit; this result used GLMM"):
        influence(res)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="at least 2 studies"):
        influence([0.1], [0.2])
    with pytest.raises(ValueError, match="vi is required"):
        influence([0.1, 0.2])
    with pytest.raises(ValueError, match="labels has 1 values but there are 2"):
        influence([0.1, 0.2], [0.1, 0.1], labels=["A"])
    with pytest.raises(ValueError, match=r"vi = 0\.0 must be finite and > 0"):
        influence([0.1, 0.2, 0.3], [0.1, 0.0, 0.1])


@given(
    st.lists(st.tuples(st.floats(-4, 4), st.floats(0.01, 3)), min_size=3, max_size=8),
    st.sampled_from(["DL", "REML", "PM"]),
)
@settings(max_examples=40, deadline=None)
def test_diagnostics_are_finite_for_any_valid_input(studies: list, method: str) -> None:
    """Property: every diagnostic is a finite number, weights sum to 100 (synthetic input)."""
    yi, vi = (np.array(c) for c in zip(*studies, strict=True))
    table = influence(yi, vi, method=method)
    numeric = table.drop(columns=["label", "influential", "criteria"]).to_numpy(float)
    assert np.all(np.isfinite(numeric))
    assert table["weight"].sum() == pytest.approx(100.0)
    assert np.all(table["tau2_del"] >= 0) and np.all(table["cov_r"] > 0)
