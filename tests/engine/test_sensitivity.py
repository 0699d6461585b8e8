"""Tests of :mod:`analysis.engine.sensitivity` (leave-one-out, cumulative) against metafor 3.8-1.

Reference: ``tests/reference/diagnostics_reference.json`` (script
``tests/reference/diagnostics_reference.R``): for every subset, ``rma(yi, vi, method, test)``
and ``predict(..., pi.type = "t")`` (checked in the script against metafor's own ``leave1out``
and ``cumul``), on logit proportions of dat.pritz1997 (data order) and dat.debruin2009
(cumulative by descending year, ties in data order) for every estimator x test; plus the
rounded methods anchors (O4: leave-one-out and cumulative pooled proportions, tau2(-i)).

Tolerances: relative 1e-6 for closed-form estimators (EE, DL, HE, SJ) and 1e-5 for iterative
ones (PM, ML, REML; both programs iterate to 1e-12, observed agreement ~1e-9). Absolute floors:
1e-10 for tau2 and 1e-8 percentage points for I^2, because at the boundary tau2 = 0 the ML and
REML Fisher-scoring iterations of both programs creep towards 0 and stop near 1e-13, where a
relative comparison is meaningless. Anchors are printed to 4 decimals: 5e-5 absolute.

metafor gives no prediction interval for the common-effect (EE) model nor for a single study;
for those rows the contract's definitions are tested instead (single study: PI = CI). The first
row of a cumulative analysis is a single study: the engine shows its own proportion with its exact
Clopper-Pearson interval (:mod:`analysis.engine.exact`) where metafor shows a Wald interval, so the
displayed values of that row are checked against R's ``binom.test`` (the same
:func:`analysis.engine.intervals.clopper_pearson` that ``test_metafor_alignment`` checks against
it) and its measure-scale ``mu``, ``se`` and Q against metafor.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from analysis.engine.intervals import clopper_pearson
from analysis.engine.sensitivity import SUBSET_COLUMNS, cumulative, leave_one_out

REF = json.loads((Path(__file__).parents[1] / "reference" / "diagnostics_reference.json").read_text())
DATASETS = ("pritz1997", "debruin2009")
METHODS = ("EE", "DL", "HE", "SJ", "PM", "ML", "REML")
TESTS = ("z", "knha")
CI = {"z": "z", "knha": "hksj"}
GRID = list(itertools.product(DATASETS, METHODS, TESTS))
IDS = ["|".join(c) for c in GRID]


def rtol(method: str) -> float:
    return 1e-6 if method in {"EE", "DL", "HE", "SJ"} else 1e-5


def compare(table: pd.DataFrame, ref: dict, method: str) -> None:
    """Every column of a subset table against the metafor values of the same subsets (displayed
    values of single-study rows: the exact interval, checked by the caller)."""
    rt = rtol(method)
    model = (table["k"] > 1).to_numpy()
    checks = {"mu": ("estimate", None), "se": ("se", None), "estimate": ("estimate", expit),
              "ci_lower": ("ci_lb", expit), "ci_upper": ("ci_ub", expit),
              "q": ("QE", None), "q_pvalue": ("QEp", None)}
    for col, (key, f) in checks.items():
        want = np.asarray(ref[key], dtype=float)
        rows = model if f is expit else np.ones(len(table), dtype=bool)
        np.testing.assert_allclose(table.loc[rows, col], (f(want) if f else want)[rows], rtol=rt,
                                   atol=1e-12, err_msg=col)
    np.testing.assert_allclose(table["tau2"], ref["tau2"], rtol=rt, atol=1e-10)
    np.testing.assert_allclose(table["i2"], ref["I2"], rtol=rt, atol=1e-8)
    assert table["k"].tolist() == [int(k) for k in ref["k"]]
    has_pi = [v is not None for v in ref["pi_lb"]]
    if method == "EE":
        assert not any(has_pi)
        return
    for col, key in (("pi_lower", "pi_lb"), ("pi_upper", "pi_ub")):
        want = expit(np.asarray([v for v in ref[key] if v is not None], dtype=float))
        np.testing.assert_allclose(table.loc[has_pi, col], want, rtol=rt, err_msg=col)


def data(name: str) -> dict:
    return REF["data"][name]


@pytest.mark.metafor
def test_reference_grid_is_complete() -> None:
    assert set(REF["leave1out"]) == set(IDS)
    assert set(REF["cumul"]) == set(IDS)


@pytest.mark.metafor
@pytest.mark.parametrize(("dataset", "method", "test"), GRID, ids=IDS)
def test_leave_one_out_matches_metafor(dataset: str, method: str, test: str) -> None:
    d = data(dataset)
    table = leave_one_out(d["xi"], d["ni"], labels=d["label"], method=method, ci=CI[test])
    assert list(table.columns) == ["omitted", *SUBSET_COLUMNS]
    assert table["omitted"].tolist() == d["label"]
    compare(table, REF["leave1out"][f"{dataset}|{method}|{test}"], method)


@pytest.mark.metafor
@pytest.mark.parametrize(("dataset", "method", "test"), GRID, ids=IDS)
def test_cumulative_matches_metafor(dataset: str, method: str, test: str) -> None:
    d = data(dataset)
    ref = REF["cumul"][f"{dataset}|{method}|{test}"]
    table = cumulative(d["xi"], d["ni"], ref["order_key"], labels=d["label"], method=method,
                       ci=CI[test])
    assert table["added"].tolist() == [d["label"][int(i) - 1] for i in ref["order"]]
    compare(table, ref, method)
    first = table.iloc[0]
    assert first["k"] == 1
    assert (first["pi_lower"], first["pi_upper"]) == (first["ci_lower"], first["ci_upper"])
    i = int(ref["order"][0]) - 1
    lo, hi = clopper_pearson([d["xi"][i]], [d["ni"][i]])
    assert first["estimate"] == pytest.approx(d["xi"][i] / d["ni"][i], rel=1e-12)
    assert (first["ci_lower"], first["ci_upper"]) == pytest.approx((lo[0], hi[0]), rel=1e-12)


@pytest.mark.metafor
@pytest.mark.parametrize("method", ["DL", "REML"])
def test_normal_prediction_interval_variant(method: str) -> None:
    """pi="z" reproduces metafor's default predict() interval (test = "z")."""
    d = data("pritz1997")
    ref = REF["leave1out"][f"pritz1997|{method}|z"]
    table = leave_one_out(d["xi"], d["ni"], method=method, pi="z")
    np.testing.assert_allclose(table["pi_lower"], expit(np.asarray(ref["pi_lb_z"])), rtol=1e-5)
    np.testing.assert_allclose(table["pi_upper"], expit(np.asarray(ref["pi_ub_z"])), rtol=1e-5)


def test_anchor_values_pritz_reml() -> None:
    """methods-anchors O4: leave-one-out and cumulative pooled proportions, tau2(-i)."""
    d = data("pritz1997")
    loo = leave_one_out(d["xi"], d["ni"])
    np.testing.assert_allclose(loo["estimate"], [
        0.7416, 0.7533, 0.7730, 0.7661, 0.7475, 0.7771, 0.7443, 0.7463, 0.7778, 0.7572, 0.7552,
        0.7591, 0.7369, 0.7710], atol=5e-5, rtol=0)
    np.testing.assert_allclose(loo["tau2"], [
        0.3098, 0.3901, 0.3757, 0.4768, 0.3374, 0.3691, 0.3263, 0.3309, 0.2626, 0.3906, 0.3836,
        0.4382, 0.3083, 0.4123], atol=5e-5, rtol=0)
    cum = cumulative(d["xi"], d["ni"], d["index"])
    np.testing.assert_allclose(cum["estimate"], [
        0.9412, 0.8838, 0.7918, 0.7585, 0.7895, 0.7387, 0.7740, 0.7999, 0.7630, 0.7599, 0.7614,
        0.7555, 0.7710, 0.7575], atol=5e-5, rtol=0)


def test_cumulative_orders_by_dates_with_stable_ties() -> None:
    d = data("debruin2009")
    dates = [pd.Timestamp(year=int(y), month=1, day=1) for y in d["year"]]
    by_date = cumulative(d["xi"], d["ni"], dates, labels=d["label"])
    by_year = cumulative(d["xi"], d["ni"], d["year"], labels=d["label"])
    pd.testing.assert_frame_equal(by_date, by_year)
    years = d["year"]
    expected = sorted(range(len(years)), key=lambda i: (years[i], i))
    assert by_year["added"].tolist() == [d["label"][i] for i in expected]
    assert by_year["k"].tolist() == list(range(1, len(years) + 1))
    none = cumulative(d["xi"], d["ni"], None, labels=d["label"])
    assert none["added"].tolist() == d["label"]


def test_last_row_is_the_full_analysis_and_notes_are_kept() -> None:
    from analysis.engine.metaprop import metaprop

    d = data("pritz1997")
    cum = cumulative(d["xi"], d["ni"], d["index"], labels=d["label"])
    full = metaprop(d["xi"], d["ni"], labels=d["label"])
    assert cum.iloc[-1]["estimate"] == pytest.approx(full.estimate, rel=1e-12)
    assert "continuity correction" in cum.iloc[-1]["notes"]
    assert "continuity correction" not in cum.iloc[0]["notes"]  # 16/17 needs none
    loo = leave_one_out(d["xi"], d["ni"], labels=d["label"])
    assert "k = 1" not in " ".join(loo["notes"])


def test_data_frame_input() -> None:
    d = data("debruin2009")
    frame = pd.DataFrame({"x": d["xi"], "n": d["ni"], "lab": d["label"], "year": d["year"]})
    a = cumulative("x", "n", "year", labels="lab", data=frame)
    b = cumulative(d["xi"], d["ni"], d["year"], labels=d["label"])
    pd.testing.assert_frame_equal(a, b)
    c = leave_one_out("x", "n", labels="lab", data=frame, method="DL")
    assert c["omitted"].tolist() == d["label"]


def test_bad_input_names_the_study() -> None:
    with pytest.raises(ValueError, match="study 'B': the ordering value is missing"):
        cumulative([1, 2, 3], [5, 5, 5], [2001, None, 2003], labels=["A", "B", "C"])
    with pytest.raises(ValueError, match="study 'C': the ordering value is missing"):
        cumulative([1, 2, 3], [5, 5, 5], [2001, 2002, float("nan")], labels=["A", "B", "C"])
    with pytest.raises(ValueError, match="order has 2 values but there are 3 studies"):
        cumulative([1, 2, 3], [5, 5, 5], [1, 2])
    with pytest.raises(ValueError, match="cannot be compared"):
        cumulative([1, 2, 3], [5, 5, 5], [1, "2002", 3])
    with pytest.raises(ValueError, match="at least 2 studies"):
        leave_one_out([1], [5])
    with pytest.raises(ValueError, match="study 'B': events = 6 exceeds n = 5"):
        leave_one_out([1, 6], [5, 5], labels=["A", "B"])
