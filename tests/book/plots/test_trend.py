"""Tests of analysis.book.plots.trend: estimates drawn per outcome in natural version order.

The version table is SYNTHETIC (made-up estimates for made-up versions).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from analysis.book.plots import estimate_over_versions, estimate_over_versions_alt_text
from analysis.book.plots.trend import version_key

ROWS = [  # SYNTHETIC; deliberately not in version order
    ("1.10.0", "primary", 0.79, 0.68, 0.87, 9),
    ("1.0.0", "primary", 0.74, 0.55, 0.87, 4),
    ("1.2.0", "primary", 0.78, 0.65, 0.87, 7),
    ("1.0.0", "harm", 0.10, 0.02, 0.35, 1),
    ("1.2.0", "harm", 0.07, 0.03, 0.15, 4),
]


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        ROWS, columns=["version", "outcome", "estimate", "ci_lower", "ci_upper", "k"]
    )


def by_gid(fig: Figure, gid: str) -> list:
    return [a for a in fig.findobj() if a.get_gid() == gid]


def all_text(fig: Figure) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


def test_versions_sort_naturally():
    assert sorted(["1.10.0", "1.2.0", "1.0.0", "2.0.0"], key=version_key) == [
        "1.0.0",
        "1.2.0",
        "1.10.0",
        "2.0.0",
    ]


def test_one_panel_per_outcome_with_estimates_in_version_order(table):
    fig = estimate_over_versions(table, outcome_labels={"primary": "Primary outcome"})
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title(loc="left") for ax in visible] == ["Primary outcome", "harm"]
    assert [t.get_text() for t in visible[0].get_xticklabels()] == ["1.0.0", "1.2.0", "1.10.0"]
    (points,) = by_gid(fig, "trend-primary")
    np.testing.assert_allclose(points.get_offsets(), [[0, 0.74], [1, 0.78], [2, 0.79]])
    (harm,) = by_gid(fig, "trend-harm")
    np.testing.assert_allclose(harm.get_offsets(), [[0, 0.10], [1, 0.07]])


def test_ci_bars_and_k_labels(table):
    fig = estimate_over_versions(table)
    ax = fig.axes[0]
    (bars,) = ax.collections[:1]
    segments = sorted(tuple(map(tuple, seg)) for seg in bars.get_segments())
    assert segments == [((0, 0.55), (0, 0.87)), ((1, 0.65), (1, 0.87)), ((2, 0.68), (2, 0.87))]
    text = all_text(fig)
    for k in (9, 4, 7, 1):
        assert f"k = {k}" in text


def test_single_study_estimate_is_hollow(table):
    fig = estimate_over_versions(table)
    (harm,) = by_gid(fig, "trend-harm")
    faces = harm.get_facecolors()
    np.testing.assert_allclose(faces[0], to_rgba("white"))  # k = 1
    assert not np.allclose(faces[1], to_rgba("white"))  # k = 4
    assert "Hollow diamond: a single study, not pooled." in all_text(fig)


def test_one_outcome_one_version():
    df = pd.DataFrame(
        [("1.0.0", "only", 0.5, 0.2, 0.8, 2)],
        columns=[c for c in ("version", "outcome", "estimate", "ci_lower", "ci_upper", "k")],
    )
    fig = estimate_over_versions(df)
    assert len(fig.axes) == 1
    assert "Hollow" not in all_text(fig)


def test_alt_text(table):
    alt = estimate_over_versions_alt_text(table, outcome_labels={"primary": "Primary outcome"})
    assert "3 review version(s) for 2 outcome(s)" in alt
    assert (
        "Primary outcome: 0.74 (k = 4) in version 1.0.0 to 0.79 (CI 0.68 to 0.87, k = 9) in version 1.10.0"
        in alt
    )
    assert "harm: 0.10 (k = 1) in version 1.0.0" in alt


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"k": 0}, r"k must be a whole number >= 1"),
        ({"estimate": 0.95}, r"version '1.10.0', outcome 'primary'.*does not contain"),
        ({"ci_upper": 1.3}, r"upper bound must be a number between 0 and 1"),
    ],
)
def test_bad_rows_are_named(table, change, message):
    bad = table.copy()
    for col, value in change.items():
        bad.loc[0, col] = value
    with pytest.raises(ValueError, match=message):
        estimate_over_versions(bad)


def test_duplicate_version_outcome_is_rejected(table):
    with pytest.raises(ValueError, match="appear twice"):
        estimate_over_versions(pd.concat([table, table.iloc[[0]]]))


def test_missing_column_is_named(table):
    with pytest.raises(ValueError, match=r"lacks the column\(s\) k"):
        estimate_over_versions(table.drop(columns=["k"]))
