"""Tests of analysis.plots.forest (and save_figure): properties of the drawn figures.

All inputs are SYNTHETIC. The study counts are metafor's ``dat.pritz1997`` example data; the
pooled numbers of the stand-in result are arbitrary values chosen only to be distinguishable, so
the tests check that the figure draws exactly what it is given (diamond vertices, prediction
interval ends, row counts, texts), not that they are right.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from scipy import stats

from analysis.plots import (
    cumulative_plot,
    cumulative_plot_alt_text,
    forest_plot,
    forest_plot_alt_text,
    forest_plot_subgroups,
    forest_plot_subgroups_alt_text,
    leave_one_out_plot,
    leave_one_out_plot_alt_text,
    save_figure,
)

# metafor dat.pritz1997 (SYNTHETIC for this review: an unrelated example data set)
PRITZ_EVENTS = [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6]
PRITZ_N = [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10]


@dataclass(frozen=True)
class SyntheticResult:
    """SYNTHETIC stand-in with the attribute names of the engine's MetaPropResult."""

    k: int
    estimate: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    tau2: float
    i2: float
    q: float
    q_df: int
    q_pvalue: float
    method: str
    ci: str
    measure: str
    level: float
    total_events: int
    total_n: int
    studies: pd.DataFrame


def synthetic_result(events, n, labels=None, pooled=(0.81, 0.74, 0.87), pi=(0.46, 0.95)):
    """Build a SYNTHETIC result: exact (Clopper-Pearson) study CIs, weights proportional to n."""
    events, n = np.asarray(events), np.asarray(n)
    lower = np.where(events == 0, 0.0, stats.beta.ppf(0.025, np.maximum(events, 1), n - events + 1))
    upper = np.where(events == n, 1.0, stats.beta.ppf(0.975, events + 1, np.maximum(n - events, 1)))
    studies = pd.DataFrame(
        {
            "label": labels or [f"Synthetic {i + 1}" for i in range(len(n))],
            "events": events,
            "n": n,
            "proportion": events / n,
            "ci_lower": lower,
            "ci_upper": upper,
            "yi": 0.0,
            "vi": 1.0,
            "weight": 100 * n / n.sum(),
        }
    )
    k = len(n)
    if k == 1:
        pooled = (events[0] / n[0], lower[0], upper[0])
        pi = (lower[0], upper[0])
    return SyntheticResult(
        k=k,
        estimate=pooled[0],
        ci_lower=pooled[1],
        ci_upper=pooled[2],
        pi_lower=pi[0],
        pi_upper=pi[1],
        tau2=0.4213,
        i2=71.64,
        q=45.87,
        q_df=k - 1,
        q_pvalue=0.0123,
        method="REML",
        ci="z",
        measure="PLO",
        level=0.95,
        total_events=int(events.sum()),
        total_n=int(n.sum()),
        studies=studies,
    )


@pytest.fixture
def pritz():
    return synthetic_result(PRITZ_EVENTS, PRITZ_N)


def by_gid(fig: Figure, gid: str) -> list:
    return [a for a in fig.findobj() if a.get_gid() == gid]


def all_text(fig: Figure) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


def marker_offsets(fig: Figure) -> np.ndarray:
    return np.concatenate([c.get_offsets() for c in by_gid(fig, "study-markers")])


# --------------------------------------------------------------------------- forest_plot


def test_diamond_vertices_are_the_pooled_estimate_and_ci(pritz):
    fig = forest_plot(pritz)
    (diamond,) = by_gid(fig, "pooled-diamond")
    assert isinstance(diamond, Polygon)
    xs = diamond.get_xy()[:, 0]
    assert xs.min() == pytest.approx(pritz.ci_lower, abs=1e-12)
    assert xs.max() == pytest.approx(pritz.ci_upper, abs=1e-12)
    ys = diamond.get_xy()[:, 1]
    apex = xs[np.argmax(ys)]
    assert apex == pytest.approx(pritz.estimate, abs=1e-12)


def test_one_row_per_study_at_the_study_proportion(pritz):
    fig = forest_plot(pritz)
    offsets = marker_offsets(fig)
    assert len(offsets) == pritz.k
    assert len(set(offsets[:, 1])) == pritz.k  # distinct rows
    # top to bottom in the order given
    order = np.argsort(-offsets[:, 1])
    np.testing.assert_allclose(offsets[order, 0], pritz.studies["proportion"], atol=1e-12)


def test_prediction_interval_line_spans_pi_bounds_below_the_diamond(pritz):
    fig = forest_plot(pritz)
    (line,) = by_gid(fig, "prediction-interval")
    np.testing.assert_allclose(sorted(line.get_xdata()), [pritz.pi_lower, pritz.pi_upper])
    (diamond,) = by_gid(fig, "pooled-diamond")
    assert line.get_ydata()[0] < diamond.get_xy()[:, 1].min()


def test_table_shows_counts_ci_weights_and_heterogeneity(pritz):
    text = all_text(forest_plot(pritz))
    for e, n in zip(PRITZ_EVENTS, PRITZ_N, strict=True):
        assert f"{e}/{n}" in text
    assert "0.50 [0.16, 0.84]" in text  # 4/8 with its exact CI
    assert "17.8%" in text  # weight of 58/326 with weights proportional to n
    assert "0.81 [0.74, 0.87]" in text
    assert "[0.46, 0.95]" in text
    assert "I² = 72%" in text and "τ² = 0.421" in text
    assert "Q = 45.87 (df = 13), p = 0.012" in text
    assert "logit" in text


def test_without_weights_no_weight_column(pritz):
    text = all_text(forest_plot(pritz, show_weights=False))
    assert "Weight" not in text and "17.8%" not in text


def test_x_axis_runs_from_0_to_1(pritz):
    fig = forest_plot(pritz, xlabel="Neutrophil recovery")
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    assert -0.05 < lo <= 0.0 and 1.0 <= hi < 1.05
    assert ax.get_xlabel() == "Neutrophil recovery"


def test_single_study_drawn_alone_without_pooling():
    res = synthetic_result([3], [4])
    fig = forest_plot(res)
    assert by_gid(fig, "pooled-diamond") == []
    assert by_gid(fig, "prediction-interval") == []
    assert len(marker_offsets(fig)) == 1
    text = all_text(fig)
    assert "Random-effects" not in text and "Heterogeneity" not in text
    assert "nothing is pooled" in text


def test_proportions_zero_and_one_with_ci_touching_the_ends():
    res = synthetic_result([0, 5, 12], [7, 9, 12], pooled=(0.5, 0.1, 0.9), pi=(0.01, 0.99))
    fig = forest_plot(res)
    xs = sorted(marker_offsets(fig)[:, 0])
    assert xs[0] == 0.0 and xs[-1] == 1.0
    text = all_text(fig)
    assert "0.00 [0.00, 0.41]" in text and "1.00 [0.74, 1.00]" in text


def test_long_labels_are_shortened_with_an_ellipsis_but_kept_in_alt_text():
    long = "An extremely long study label naming every author of a multicentre registry 2025"
    res = synthetic_result([3, 5], [4, 9], labels=[long, "Short 2024"])
    fig = forest_plot(res, max_label_chars=30)
    text = all_text(fig)
    assert long not in text and long[:20] in text and "\u2026" in text
    assert long in forest_plot_alt_text(res)


def test_duplicate_labels_get_their_own_rows():
    res = synthetic_result([3, 3], [4, 4], labels=["Same 2020", "Same 2020"])
    offsets = marker_offsets(forest_plot(res))
    assert len(set(offsets[:, 1])) == 2


def test_alt_text_mentions_k_and_pooled_estimate(pritz):
    alt = forest_plot_alt_text(pritz, outcome="neutrophil recovery")
    assert "k = 14" in alt
    assert "Pooled proportion 0.81 (95% CI 0.74 to 0.87)" in alt
    assert "prediction interval 0.46 to 0.95" in alt
    assert "326 patients" in alt
    single = forest_plot_alt_text(synthetic_result([3], [4]))
    assert "k = 1" in single and "no pooled estimate" in single


def test_missing_attribute_is_named():
    res = synthetic_result([3, 5], [4, 9])
    bare = dataclasses.asdict(res)
    del bare["pi_lower"], bare["tau2"]
    stub = type("Partial", (), bare)()
    with pytest.raises(TypeError, match=r"pi_lower, tau2"):
        forest_plot(stub)


def test_value_outside_unit_interval_names_the_study():
    res = synthetic_result([3, 5], [4, 9], labels=["Alpha 2021", "Beta 2022"])
    studies = res.studies.copy()
    studies.loc[1, "proportion"] = 1.2
    bad = dataclasses.replace(res, studies=studies)
    with pytest.raises(ValueError, match=r"Beta 2022.*1\.2"):
        forest_plot(bad)


def test_missing_study_column_is_named():
    res = synthetic_result([3, 5], [4, 9])
    bad = dataclasses.replace(res, studies=res.studies.drop(columns=["weight"]))
    with pytest.raises(ValueError, match="weight"):
        forest_plot(bad)


def test_plotting_leaves_global_state_alone(pritz):
    before_err = np.geterr()
    before_filters = list(warnings.filters)
    forest_plot(pritz)
    assert np.geterr() == before_err
    assert list(warnings.filters) == before_filters
    assert matplotlib.pyplot.get_fignums() == []


# --------------------------------------------------------------------------- subgroups


def test_subgroups_one_diamond_per_pooled_group_and_overall(pritz):
    groups = {
        "Autologous": synthetic_result([16, 10, 4], [17, 12, 8], pooled=(0.8, 0.6, 0.9)),
        "Allogeneic": synthetic_result([43, 10], [58, 10], pooled=(0.77, 0.64, 0.86)),
        "Unknown source": synthetic_result([25], [42]),
    }
    between = "Test for subgroup differences: Q = 0.42, df = 1, p = 0.517"
    fig = forest_plot_subgroups(groups, between_text=between, overall=pritz)
    diamonds = by_gid(fig, "pooled-diamond")
    assert len(diamonds) == 3  # two groups with k >= 2, plus overall
    assert sorted(round(d.get_xy()[:, 0].max(), 6) for d in diamonds) == [0.86, 0.87, 0.9]
    assert len(marker_offsets(fig)) == 6
    text = all_text(fig)
    assert between in text
    assert "Unknown source: a single study, not pooled" in text
    assert "Subtotal (k = 3)" in text
    alt = forest_plot_subgroups_alt_text(groups, between_text=between)
    assert "Autologous: k = 3, pooled proportion 0.80" in alt and "k = 1" in alt


def test_subgroups_need_a_group():
    with pytest.raises(ValueError, match="at least one group"):
        forest_plot_subgroups({})


# --------------------------------------------------------------------------- leave-one-out, cumulative


@pytest.fixture
def loo_frame():
    return pd.DataFrame(
        {
            "label": ["Synthetic 1", "Synthetic 2", "Synthetic 3"],
            "estimate": [0.71, 0.83, 0.79],
            "ci_lower": [0.55, 0.70, 0.60],
            "ci_upper": [0.83, 0.91, 0.90],
            "k": [2, 2, 2],
            "i2": [12.0, 0.0, 55.5],
        }
    )


def test_leave_one_out_draws_each_row_and_the_overall_diamond(loo_frame, pritz):
    fig = leave_one_out_plot(loo_frame, overall=pritz)
    offsets = marker_offsets(fig)
    assert sorted(offsets[:, 0]) == sorted(loo_frame["estimate"])
    (diamond,) = by_gid(fig, "pooled-diamond")
    assert diamond.get_xy()[:, 0].min() == pytest.approx(pritz.ci_lower)
    text = all_text(fig)
    assert "0.71 [0.55, 0.83]" in text and "56%" in text and "Study omitted" in text
    alt = leave_one_out_plot_alt_text(loo_frame)
    assert "3 rows" in alt and "0.71 (Synthetic 1)" in alt and "0.83 (Synthetic 2)" in alt


def test_cumulative_plot_keeps_the_given_order(loo_frame):
    fig = cumulative_plot(loo_frame[["label", "estimate", "ci_lower", "ci_upper"]])
    offsets = marker_offsets(fig)
    order = np.argsort(-offsets[:, 1])
    np.testing.assert_allclose(offsets[order, 0], loo_frame["estimate"])
    assert by_gid(fig, "pooled-diamond") == []
    alt = cumulative_plot_alt_text(loo_frame)
    assert "3 steps" in alt and "Synthetic 3 (0.79, CI 0.60 to 0.90)" in alt


def test_interval_table_outside_its_ci_is_rejected(loo_frame):
    bad = loo_frame.copy()
    bad.loc[2, "estimate"] = 0.95
    with pytest.raises(ValueError, match=r"Synthetic 3.*does not contain"):
        cumulative_plot(bad)


def test_interval_table_needs_its_columns(loo_frame):
    with pytest.raises(ValueError, match="ci_upper"):
        leave_one_out_plot(loo_frame.drop(columns=["ci_upper"]))


# --------------------------------------------------------------------------- save_figure


def test_save_figure_writes_svg_and_png_with_alt_text(pritz, tmp_path):
    fig = forest_plot(pritz)
    alt = forest_plot_alt_text(pritz)
    paths = save_figure(fig, tmp_path / "figs" / "forest", alt=alt, title="Forest plot")
    assert [p.name for p in paths] == ["forest.svg", "forest.png"]
    svg = paths[0].read_text()
    assert "k = 14" in svg and "<dc:title>Forest plot</dc:title>" in svg
    png = paths[1].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and b"Description" in png
    # same figure, same bytes: builds are reproducible
    again = save_figure(fig, tmp_path / "again", formats=["svg"], alt=alt, title="Forest plot")
    assert again[0].read_text() == svg


def test_save_figure_rejects_a_suffix_and_unknown_formats(pritz, tmp_path):
    fig = forest_plot(pritz)
    with pytest.raises(ValueError, match="without a suffix"):
        save_figure(fig, tmp_path / "forest.png")
    with pytest.raises(ValueError, match="jpeg"):
        save_figure(fig, tmp_path / "forest", formats=["jpeg"])


def test_no_nan_reaches_the_figure(pritz):
    text = all_text(forest_plot(pritz))
    assert "nan" not in text.lower() and not math.isnan(pritz.estimate)
