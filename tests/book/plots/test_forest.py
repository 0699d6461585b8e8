"""Tests of analysis.book.plots.forest (and save_figure): properties of the drawn figures.

All inputs are SYNTHETIC: metafor's ``dat.pritz1997`` counts (an unrelated example data set) and
small made-up counts, pooled by the engine (:func:`analysis.engine.metaprop`). The tests check that a
figure draws exactly what the result holds (diamond vertices, prediction interval ends, row
counts, texts); the engine's numbers are checked against metafor in the engine's own tests.
"""

from __future__ import annotations

import math
import types
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from analysis import metaprop
from analysis.book.plots import (
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
from analysis.book.plots.forest import RESULT_ATTRIBUTES

# metafor dat.pritz1997 (SYNTHETIC for this review: an unrelated example data set)
PRITZ_EVENTS = [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6]
PRITZ_N = [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10]


def synthetic_result(events, n, labels=None, **options):
    """Run the engine on SYNTHETIC counts (labels default to "Synthetic i")."""
    labels = labels or [f"Synthetic {i + 1}" for i in range(len(n))]
    return metaprop(events, n, labels=labels, **options)


@pytest.fixture(scope="module")
def pritz():
    return synthetic_result(PRITZ_EVENTS, PRITZ_N)


def with_studies(res, studies):
    """A copy of ``res`` (as a plain namespace) whose study table is replaced."""
    fields = {name: getattr(res, name) for name in RESULT_ATTRIBUTES}
    return types.SimpleNamespace(**{**fields, "studies": studies})


def est_ci(x, lo, hi):
    return f"{x:.2f} [{lo:.2f}, {hi:.2f}]"


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
    for row in pritz.studies.itertuples():
        assert f"{row.events}/{row.n}" in text
        assert est_ci(row.proportion, row.ci_lower, row.ci_upper) in text
        assert f"{row.weight:.1f}%" in text
    assert "0.50 [0.16, 0.84]" in text  # 4/8 with its exact (Clopper-Pearson) CI
    assert est_ci(pritz.estimate, pritz.ci_lower, pritz.ci_upper) in text
    assert f"[{pritz.pi_lower:.2f}, {pritz.pi_upper:.2f}]" in text
    # I² with its interval (metafor 3.8-1 confint: 12.87% to 87.99% on these data)
    assert f"I² = {pritz.i2:.0f}% [13%, 88%]" in text and f"τ² = {pritz.tau2:.3f}" in text
    assert f"Q = {pritz.q:.2f} (df = 13), p = {pritz.q_pvalue:.3f}" in text
    assert "246/326" in text and "logit" in text


def test_glmm_footer_gives_the_likelihood_ratio_test_and_few_studies_no_heterogeneity(pritz):
    """GLMM on dat.pritz1997: metafor rma.glmm LRT 42.23 on 13 df (tests/reference/glmm_heterogeneity_reference.json);
    the Wald Q is not shown. Three studies: heterogeneity cannot be estimated, and no prediction interval is drawn."""
    glmm = metaprop(list(pritz.studies["events"]), list(pritz.studies["n"]), method="GLMM", ci="t")
    text = all_text(forest_plot(glmm))
    assert "LRT = 42.23 (df = 13), p < 0.001" in text and "Q = " not in text
    assert f"I² = {glmm.i2:.0f}% [30%, 89%]" in text  # the GLMM's profile-likelihood interval
    three = metaprop([12, 26, 4], [12, 31, 5], method="GLMM", ci="t")  # SYNTHETIC; ML tau² = 0
    fig = forest_plot(three)
    assert "Heterogeneity: cannot be estimated from 3 studies (at least 5 needed)" in all_text(fig)
    assert "I² = 0%" not in all_text(fig) and by_gid(fig, "prediction-interval") == []
    alt = forest_plot_alt_text(three)
    assert "no prediction interval: heterogeneity cannot be estimated from three studies" in alt


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
    assert "Weight" not in text and "100.0%" not in text  # a lone study is not weighted


def test_proportions_zero_and_one_with_ci_touching_the_ends():
    res = synthetic_result([0, 5, 12], [7, 9, 12])
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
    res = synthetic_result([3, 3], [4, 4])
    studies = res.studies.assign(label=["Same 2020", "Same 2020"])  # the engine forbids this
    offsets = marker_offsets(forest_plot(with_studies(res, studies)))
    assert len(set(offsets[:, 1])) == 2


def test_alt_text_mentions_k_and_pooled_estimate(pritz):
    alt = forest_plot_alt_text(pritz, outcome="neutrophil recovery")
    assert "k = 14" in alt
    assert (
        f"Pooled proportion {pritz.estimate:.2f} "
        f"(95% CI {pritz.ci_lower:.2f} to {pritz.ci_upper:.2f})"
    ) in alt
    assert f"prediction interval {pritz.pi_lower:.2f} to {pritz.pi_upper:.2f}" in alt
    assert "326 patients" in alt
    one = synthetic_result([3], [4])
    single = forest_plot_alt_text(one)
    assert "k = 1" in single and "no pooled estimate" in single
    row = one.studies.iloc[0]  # the interval drawn in the figure is the study's own
    assert f"95% CI {row['ci_lower']:.2f} to {row['ci_upper']:.2f}" in single


def test_missing_attribute_is_named():
    res = synthetic_result([3, 5], [4, 9])
    names = [n for n in RESULT_ATTRIBUTES if n not in ("pi_lower", "tau2")]
    stub = types.SimpleNamespace(**{n: getattr(res, n) for n in names})
    with pytest.raises(TypeError, match=r"pi_lower, tau2"):
        forest_plot(stub)


def test_value_outside_unit_interval_names_the_study():
    res = synthetic_result([3, 5], [4, 9], labels=["Alpha 2021", "Beta 2022"])
    studies = res.studies.copy()
    studies.loc[1, "proportion"] = 1.2
    bad = with_studies(res, studies)
    with pytest.raises(ValueError, match=r"Beta 2022.*1\.2"):
        forest_plot(bad)


def test_missing_study_column_is_named():
    res = synthetic_result([3, 5], [4, 9])
    bad = with_studies(res, res.studies.drop(columns=["weight"]))
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
        "Autologous": synthetic_result([16, 10, 4], [17, 12, 8]),
        "Allogeneic": synthetic_result([43, 10], [58, 10], labels=["Synthetic 4", "Synthetic 5"]),
        "Unknown source": synthetic_result([25], [42], labels=["Synthetic 6"]),
    }
    between = "Test for subgroup differences: Q = 0.42, df = 1, p = 0.517"
    fig = forest_plot_subgroups(groups, between_text=between, overall=pritz)
    diamonds = by_gid(fig, "pooled-diamond")
    assert len(diamonds) == 3  # two groups with k >= 2, plus overall
    expected = [groups["Autologous"], groups["Allogeneic"], pritz]
    drawn = sorted((d.get_xy()[:, 0].min(), d.get_xy()[:, 0].max()) for d in diamonds)
    np.testing.assert_allclose(drawn, sorted((r.ci_lower, r.ci_upper) for r in expected))
    assert len(marker_offsets(fig)) == 6
    text = all_text(fig)
    assert between in text
    assert "Unknown source: a single study, not pooled" in text
    assert "Subtotal (k = 3)" in text
    auto = groups["Autologous"]
    # with the default threshold (five studies) no group's heterogeneity can be estimated: no PI
    assert "Autologous: cannot be estimated from 3 studies (at least 5 needed); no PI: heterogeneity cannot be " \
           "estimated from three studies (at least five needed)" in text
    assert "Allogeneic: cannot be estimated from 2 studies" in text
    loose = all_text(forest_plot_subgroups(groups, overall=pritz, min_studies_heterogeneity=3))
    assert f"PI [{auto.pi_lower:.2f}, {auto.pi_upper:.2f}]" in loose  # three studies: a prediction interval
    assert "Allogeneic: " in loose and "no PI: heterogeneity cannot be estimated from two studies" in loose
    alt = forest_plot_subgroups_alt_text(groups, between_text=between)
    auto = groups["Autologous"]
    assert f"Autologous: k = 3, pooled proportion {auto.estimate:.2f}" in alt
    assert "Unknown source: k = 1, single study Synthetic 6 25/42" in alt


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
    assert "0.71 [0.55, 0.83]" in text and "Study omitted" in text
    assert "56%" not in text and text.count("n.e.") == 3  # I² is not estimable from two studies
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


def test_common_effect_model_has_no_prediction_interval():
    res = synthetic_result(PRITZ_EVENTS, PRITZ_N, method="EE")
    fig = forest_plot(res)
    assert by_gid(fig, "prediction-interval") == []
    (diamond,) = by_gid(fig, "pooled-diamond")
    assert diamond.get_xy()[:, 0].min() == pytest.approx(res.ci_lower)
    assert "Common-effect model" in all_text(fig)


def test_bayesian_result_is_labelled_with_credible_intervals():
    res = synthetic_result(PRITZ_EVENTS[:5], PRITZ_N[:5], method="BAYES")
    fig = forest_plot(res)
    (line,) = by_gid(fig, "prediction-interval")
    np.testing.assert_allclose(sorted(line.get_xdata()), [res.pi_lower, res.pi_upper])
    text = all_text(fig)
    assert "Bayesian random-effects model" in text and "credible interval" in text
