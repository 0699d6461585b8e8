"""Tests of analysis.book.plots.summary (the home page's one-row-per-outcome figure) and of the studies-only
forest plot. All rows are SYNTHETIC."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

from analysis.book.plots import (
    outcome_summary_plot,
    outcome_summary_plot_alt_text,
    study_plot,
    study_plot_alt_text,
)
from analysis.book.plots.summary import SMALLEST_TEXT
from analysis.evidence.fewstudies import exact_studies

ROWS = [
    {"label": "SYNTHETIC primary outcome with a long name that has to wrap on a phone screen", "display": "pooled",
     "estimate": 0.85, "lower": 0.7, "upper": 0.93, "studies": [], "k": 3, "n": 48, "certainty": "very low",
     "value": "85% (70% to 93%)"},
    {"label": "One study", "display": "single", "estimate": 1.0, "lower": 0.74, "upper": 1.0, "studies": [],
     "k": 1, "n": 12, "certainty": "low", "value": "100% (74% to 100%)"},
    {"label": "Two studies", "display": "side_by_side", "estimate": math.nan, "lower": math.nan, "upper": math.nan,
     "studies": [(1.0, 0.48, 1.0), (0.0, 0.0, 0.71)], "k": 2, "n": 8, "certainty": "", "value": "not pooled"},
]


def test_summary_plot_draws_one_row_per_outcome_and_is_phone_sized() -> None:
    fig = outcome_summary_plot(pd.DataFrame(ROWS))
    width, _ = fig.get_size_inches()
    assert width <= 4.5  # about 400 px: on a 390 px screen the text keeps nearly its size
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.startswith("SYNTHETIC primary outcome") and "\n" in t for t in texts)  # wrapped
    assert "85% (70% to 93%)" in texts and "not pooled" in texts
    assert "1 study, 12 patients; certainty: low" in texts
    assert len([a for a in fig.findobj() if a.get_gid() == "summary-diamond"]) == 1  # only the pooled row
    sizes = {t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()}  # ticks and axis label too
    assert min(sizes) >= SMALLEST_TEXT >= 11  # 12 CSS pixels or more when a phone shows it about 340 px wide
    long = outcome_summary_plot(pd.DataFrame([{**ROWS[0], "certainty": "very low"}]))
    assert "3 studies, 48 patients;\ncertainty: very low" in [t.get_text() for t in long.axes[0].texts]


def test_summary_plot_errors_are_named() -> None:
    with pytest.raises(ValueError, match="no rows"):
        outcome_summary_plot(pd.DataFrame(columns=list(ROWS[0])))
    bad = pd.DataFrame([{**ROWS[1], "display": "magic"}])
    with pytest.raises(ValueError, match="One study: unknown display 'magic'"):
        outcome_summary_plot(bad)
    outside = pd.DataFrame([{**ROWS[1], "estimate": 0.5, "lower": 0.6}])
    with pytest.raises(ValueError, match="One study"):
        outcome_summary_plot(outside)


def test_summary_alt_text_says_every_row() -> None:
    text = outcome_summary_plot_alt_text(pd.DataFrame(ROWS))
    assert "One study: 100% (74% to 100%) (1 study, 12 patients, certainty: low)" in text
    assert "Two studies: not pooled (2 studies, 8 patients)" in text


def test_study_plot_has_no_diamond_and_no_weights() -> None:
    rows = pd.DataFrame({"label": ["A", "B"], "events": [5, 0], "total": [5, 3]})
    studies = exact_studies(rows)
    fig = study_plot(studies, note="Not pooled: SYNTHETIC reason.")
    assert not [a for a in fig.findobj() if a.get_gid() in ("pooled-diamond", "prediction-interval", "pooled-line")]
    texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    assert not any(t.endswith("%") and "Weight" in t for t in texts)
    assert "Weight" not in texts
    assert any("Not pooled: SYNTHETIC reason." in t for t in texts)
    alt = study_plot_alt_text(studies, outcome="x", note="Not pooled.")
    assert alt.startswith("Forest plot of x with 2 studies, not pooled: A 5/5 (1.00, 95% CI 0.48 to 1.00)")
    np.testing.assert_allclose(studies["ci_lower"], [0.025 ** (1 / 5), 0.0])


def test_study_plot_errors_are_named() -> None:
    with pytest.raises(ValueError, match="no rows"):
        study_plot(exact_studies(pd.DataFrame({"label": [], "events": [], "total": []})))
