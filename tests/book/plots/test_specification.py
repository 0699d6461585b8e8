"""Tests of analysis.book.plots.specification: the specification curve and its sentence.

The panels are SYNTHETIC (made-up estimates of made-up specifications).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis.book.plots.specification import (
    sort_specifications,
    specification_curve,
    specification_curve_alt_text,
    specification_sentence,
)

NAN = float("nan")
ROWS = [  # SYNTHETIC: method, inclusion, definition, plan, display, estimate, lower, upper
    ("GLMM-t", "primary", "hierarchy", True, "pooled", 0.88, 0.52, 0.98),
    ("DL-z", "primary", "hierarchy", False, "pooled", 0.85, 0.71, 0.93),
    ("GLMM-t", "without_x", "hierarchy", False, "side_by_side", NAN, NAN, NAN),
    ("DL-z", "without_x", "hierarchy", False, "side_by_side", NAN, NAN, NAN),
    ("GLMM-t", "with_reports", "hierarchy", False, "pooled", 0.90, 0.41, 0.99),
    ("DL-z", "with_reports", "hierarchy", False, "pooled", 0.80, 0.62, 0.91),
    ("GLMM-t", "primary", "strict", False, "single", NAN, NAN, NAN),
    ("DL-z", "primary", "strict", False, "single", NAN, NAN, NAN),
]
LABELS = {"GLMM-t": "GLMM, t CI", "DL-z": "DerSimonian-Laird, Wald CI", "primary": "The plan's studies",
          "without_x": "Without Synth X", "with_reports": "With single-patient reports",
          "hierarchy": "The outcome hierarchy", "strict": "Strict definition only"}


@pytest.fixture
def panel() -> pd.DataFrame:
    frame = pd.DataFrame(ROWS, columns=["method", "inclusion", "definition", "plan", "display", "estimate",
                                        "ci_lower", "ci_upper"])
    for column in ("method", "inclusion", "definition"):
        frame[f"{column}_label"] = frame[column].map(LABELS)
    return frame


def by_gid(fig: Figure, gid: str) -> list:
    return [a for a in fig.findobj() if a.get_gid() == gid]


def test_the_sentence_counts_ranges_and_names_the_lowest_bound(panel: pd.DataFrame) -> None:
    assert specification_sentence(panel) == (
        "In 4 of 8 specifications the estimate lies between 80% and 90% (the plan's own analysis: 88%, 95% CI 52% "
        "to 98%); the other 4 cannot be pooled under the plan's few-study rules (2 have too few or conflicting "
        "studies, 2 rest on a single study); the lowest lower bound is 41% (with single-patient reports).")
    bayes = panel.assign(method=panel["method"].where(~panel["plan"].astype(bool), "BAYES-BN-HN1.0"))
    assert "(the plan's own analysis: 88%, 95% CrI 52% to 98%)" in specification_sentence(bayes)


def test_the_sentence_when_the_plan_gives_the_lowest_bound_or_nothing_pools(panel: pd.DataFrame) -> None:
    low = panel.copy()
    low.loc[0, "ci_lower"] = 0.30
    assert specification_sentence(low).endswith("the lowest lower bound is 30% (the plan's own analysis).")
    none = panel.assign(display="single", estimate=NAN, ci_lower=NAN, ci_upper=NAN)
    assert specification_sentence(none) == (
        "None of the 8 specifications can be pooled under the plan's few-study rules (8 rest on a single study).")


def test_the_alt_text_says_the_sentence(panel: pd.DataFrame) -> None:
    alt = specification_curve_alt_text(panel, outcome="synthetic response")
    assert alt == ("Specification curve of synthetic response: every combination of 2 methods, 3 sets of studies, "
                   "2 outcome definitions. " + specification_sentence(panel))


def test_sorting_puts_pooled_by_estimate_then_the_rest(panel: pd.DataFrame) -> None:
    order = sort_specifications(panel)
    assert order["estimate"].iloc[:4].tolist() == [0.80, 0.85, 0.88, 0.90]
    assert order["display"].iloc[4:].tolist() == ["side_by_side", "side_by_side", "single", "single"]


def test_figure_draws_each_estimate_the_plan_and_no_estimate_for_unpooled(panel: pd.DataFrame) -> None:
    fig = specification_curve(panel, short_labels={("method", "DL-z"): "DL"})
    (estimates,) = by_gid(fig, "spec-estimates")
    assert sorted(estimates.get_offsets()[:, 1].tolist()) == [0.80, 0.85, 0.88, 0.90]
    (plan,) = by_gid(fig, "spec-plan")
    assert plan.get_offsets().tolist() == [[2.0, 0.88]]  # third of the sorted columns
    (unpooled,) = by_gid(fig, "spec-unpooled")
    assert unpooled.get_offsets()[:, 0].tolist() == [4.0, 5.0, 6.0, 7.0]
    (choices,) = by_gid(fig, "spec-choices")
    assert len(choices.get_offsets()) == 3 * len(panel)  # one dot per dimension and specification
    labels = [t.get_text().strip() for t in fig.axes[1].get_yticklabels()]
    assert labels == ["Method", "GLMM, t CI", "DL", "Studies", "The plan's studies", "Without Synth X",
                      "With single-patient reports", "Outcome definition", "The outcome hierarchy",
                      "Strict definition only"]


def test_an_unpooled_plan_is_marked_open(panel: pd.DataFrame) -> None:
    frame = panel.copy()
    frame.loc[0, ["display", "estimate", "ci_lower", "ci_upper"]] = ["single", NAN, NAN, NAN]
    (plan,) = by_gid(specification_curve(frame), "spec-plan")
    assert plan.get_offsets()[0, 1] == pytest.approx(0.02)
    assert "cannot be pooled" in specification_sentence(frame)


@pytest.mark.parametrize(("change", "message"), [
    ({"plan": False}, "exactly one row must be the plan's analysis"),
    ({"estimate": 0.5}, "not pooled .* must have no estimate"),
])
def test_bad_panels_are_refused(panel: pd.DataFrame, change: dict, message: str) -> None:
    frame = panel.copy()
    row = 0 if "plan" in change else 2
    for column, value in change.items():
        frame.loc[row, column] = value
    with pytest.raises(ValueError, match=message):
        specification_curve(frame)


def test_a_pooled_row_needs_its_interval(panel: pd.DataFrame) -> None:
    frame = panel.copy()
    frame.loc[1, "ci_upper"] = NAN
    with pytest.raises(ValueError, match=r"row 2 \(DL-z, primary, hierarchy\): a pooled specification needs"):
        specification_sentence(frame)
    frame.loc[1, "ci_upper"] = 0.80
    with pytest.raises(ValueError, match="does not contain the estimate"):
        specification_sentence(frame)
