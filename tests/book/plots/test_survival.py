"""Tests of analysis.book.plots.survival: the curve, band, censoring marks and median drawn as given.

All arrays are SYNTHETIC (a made-up cumulative-incidence step function).
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

from analysis.book.plots import km_plot, km_plot_alt_text

TIMES = [0, 7, 10, 14, 21, 28, 35, 60]
INCIDENCE = [0.0, 0.1, 0.2, 0.45, 0.55, 0.7, 0.75, 0.8]
LOWER = [0.0, 0.01, 0.05, 0.22, 0.3, 0.45, 0.5, 0.55]
UPPER = [0.0, 0.3, 0.42, 0.66, 0.75, 0.87, 0.9, 0.93]
CENSOR = [12, 30, 70]


def by_gid(fig: Figure, gid: str) -> list:
    return [a for a in fig.findobj() if a.get_gid() == gid]


def all_text(fig: Figure) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


def test_curve_is_the_given_step_function_extended_to_the_last_censoring():
    fig = km_plot(TIMES, INCIDENCE, LOWER, UPPER, censor_times=CENSOR)
    (curve,) = by_gid(fig, "km-curve")
    assert curve.get_drawstyle() == "steps-post"
    np.testing.assert_allclose(curve.get_xdata(), [*TIMES, 70])
    np.testing.assert_allclose(curve.get_ydata(), [*INCIDENCE, 0.8])


def test_band_spans_lower_to_upper():
    fig = km_plot(TIMES, INCIDENCE, LOWER, UPPER)
    (band,) = by_gid(fig, "km-band")
    ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
    assert ys.min() == pytest.approx(min(LOWER)) and ys.max() == pytest.approx(max(UPPER))


def test_censoring_marks_sit_on_the_curve():
    fig = km_plot(TIMES, INCIDENCE, LOWER, UPPER, censor_times=CENSOR)
    (marks,) = by_gid(fig, "km-censor")
    np.testing.assert_allclose(marks.get_xdata(), CENSOR)
    # 12 is in the step that starts at 10, 30 in the one at 28, 70 after the last (60)
    np.testing.assert_allclose(marks.get_ydata(), [0.2, 0.7, 0.8])


def test_median_guide_passes_through_half():
    fig = km_plot(TIMES, INCIDENCE, LOWER, UPPER, median=21, xlabel="Days")
    (guide,) = by_gid(fig, "km-median")
    np.testing.assert_allclose(guide.get_xdata(), [0, 21, 21])
    np.testing.assert_allclose(guide.get_ydata(), [0.5, 0.5, 0])
    assert "Median 21 days" in all_text(fig)


def test_median_not_reached_is_said():
    low = [0.0, 0.05, 0.1, 0.2, 0.25, 0.3, 0.3, 0.35]
    fig = km_plot(TIMES, low, [0.0] * len(TIMES), UPPER, median=math.nan)
    assert by_gid(fig, "km-median") == []
    assert "Median not reached" in all_text(fig)


def test_axes_and_number_at_risk():
    fig = km_plot(
        TIMES,
        INCIDENCE,
        LOWER,
        UPPER,
        ylabel="Cumulative incidence of recovery",
        at_risk={0: 20, 28: 6},
    )
    ax = fig.axes[0]
    assert ax.get_ylim() == pytest.approx((0, 1.02))
    assert ax.get_ylabel() == "Cumulative incidence of recovery"
    text = all_text(fig)
    assert "Number at risk" in text and "20" in text.split("\n") and "6" in text.split("\n")


def test_single_step_curve():
    fig = km_plot([0], [1.0], [1.0], [1.0])
    (curve,) = by_gid(fig, "km-curve")
    assert list(curve.get_xdata()) == [0]


def test_alt_text():
    alt = km_plot_alt_text(
        TIMES,
        INCIDENCE,
        LOWER,
        UPPER,
        censor_times=CENSOR,
        median=21,
        ylabel="Cumulative incidence",
    )
    assert "from 0.00 at 0 to 0.80 at 60 (95% CI 0.55 to 0.93)" in alt
    assert "Median 21 days" in alt and "3 censored" in alt
    assert "not reached" in km_plot_alt_text(TIMES, INCIDENCE, LOWER, UPPER, median=math.nan)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((TIMES, INCIDENCE[:-1], LOWER, UPPER), {}, r"survival has 7 values but times has 8"),
        (
            ([0, 7, 5], [0, 0.1, 0.2], [0, 0, 0], [0, 1, 1]),
            {},
            r"step 2 \(time 5\).*must not decrease",
        ),
        (
            ([0, 7], [0, 1.2], [0, 0.5], [0, 1]),
            {},
            r"step 1 \(time 7\): survival must be between 0 and 1",
        ),
        (([0, 7], [0, 0.5], [0, 0.6], [0, 1]), {}, r"step 1 \(time 7\): the band \[0.6, 1\]"),
        (([], [], [], []), {}, r"times is empty"),
        ((TIMES, INCIDENCE, LOWER, UPPER), {"censor_times": [-1]}, r"censoring time -1 is before"),
        (
            (TIMES, INCIDENCE, LOWER, UPPER),
            {"at_risk": {0: 2.5}},
            r"at time 0 must be a non-negative",
        ),
    ],
)
def test_bad_input_is_named(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        km_plot(*args, **kwargs)


def test_an_undefined_band_is_drawn_up_to_where_it_becomes_undefined_and_not_beyond():
    """A KM estimate that reaches 1 (S = 0) at the last time: no band there, but the band of the
    previous step holds until that time (a post step), as survfit's NA at the last row implies."""
    times, incidence = [0, 240, 832, 900], [0.0, 0.14, 1.0, 1.0]
    lower, upper = [0.0, 0.02, math.nan, math.nan], [0.0, 0.37, math.nan, math.nan]
    fig = km_plot(times, incidence, lower, upper)
    (band,) = [c for c in fig.axes[0].collections if c.get_gid() == "km-band"]
    xs = np.concatenate([p.vertices[:, 0] for p in band.get_paths()])
    ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
    assert xs.max() == pytest.approx(832)  # not beyond the time where the band becomes undefined
    corners = {(round(x, 6), round(y, 6)) for x, y in zip(xs, ys, strict=True)}
    assert {(832.0, 0.37), (832.0, 0.02), (240.0, 0.37)} <= corners  # the last step's band runs to 832
    assert "confidence interval undefined there" in km_plot_alt_text(times, incidence, lower, upper)


def test_the_estimator_is_named_in_the_legend_and_the_alt_text():
    legend = km_plot(TIMES, INCIDENCE, LOWER, UPPER).axes[0].get_legend()
    assert "Kaplan-Meier estimate" in [t.get_text() for t in legend.get_texts()]
    fig = km_plot(TIMES, INCIDENCE, LOWER, UPPER, estimator="Aalen-Johansen")
    assert "Aalen-Johansen estimate" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    alt = km_plot_alt_text(TIMES, INCIDENCE, LOWER, UPPER, estimator="Aalen-Johansen", ylabel="Cumulative incidence")
    assert alt.startswith("Aalen-Johansen plot of cumulative incidence")
