"""Figures of a simulation study of meta-analysis methods (small multiples by scenario).

Input: the summary table of :mod:`analysis.engine.simulation` (one row per scenario and method, with
``k``, ``proportion``, ``tau``, ``method`` and the measure plotted with its ``<measure>_mcse``).
One panel per (k, tau); within a panel the x axis is the true pooled proportion and each method
is a marker series, slightly dodged, with a bar of plus or minus two Monte Carlo SEs. The
nominal level is a dashed line for coverage measures. The method given as ``highlight`` is drawn
in black with a larger marker.

Artists: each method's markers carry the gid ``"sim-<method>"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from analysis.book.plots import _style as st

__all__ = ["MEASURE_LABELS", "simulation_plot", "simulation_plot_alt_text"]

#: Axis labels of the measures that can be plotted.
MEASURE_LABELS: dict[str, str] = {
    "coverage_ci": "Coverage of the confidence interval",
    "coverage_pi": "Coverage of the prediction interval",
    "bias": "Bias of the pooled proportion",
    "width_ci": "Median width of the confidence interval",
    "width_pi": "Median width of the prediction interval",
    "interval_score": "Mean interval score of the confidence interval (smaller is better)",
    "failure_rate": "Failure rate",
}
_COLOURS = [st.OKABE_ITO[c] for c in ("orange", "sky_blue", "bluish_green", "vermillion",
                                      "blue", "reddish_purple", "yellow")]
_MARKERS = ["o", "s", "^", "v", "P", "X", "h", "<", ">"]


def _check(summary: pd.DataFrame, measure: str) -> list[str]:
    if measure not in MEASURE_LABELS:
        msg = f"measure must be one of {', '.join(MEASURE_LABELS)}; got {measure!r}"
        raise ValueError(msg)
    st.require_columns(summary, ("k", "proportion", "tau", "method", measure), "simulation summary")
    if len(summary) == 0:
        msg = "simulation summary has no rows: there is nothing to plot"
        raise ValueError(msg)
    dup = summary.duplicated(["k", "proportion", "tau", "method"])
    if dup.any():
        row = summary[dup].iloc[0]
        msg = (f"simulation summary: method {row['method']!r} appears twice for k = {row['k']}, "
               f"proportion {row['proportion']}, tau {row['tau']}")
        raise ValueError(msg)
    return list(dict.fromkeys(summary["method"]))


def simulation_plot(
    summary: pd.DataFrame,
    measure: str = "coverage_ci",
    *,
    methods: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    highlight: str | None = None,
    level: float = 0.95,
    band: tuple[float, float] | None = None,
) -> Figure:
    """Small multiples of one performance measure: rows k, columns tau, x the true proportion.

    Parameters
    ----------
    summary : pandas.DataFrame
        Columns ``k, proportion, tau, method`` and ``measure`` (``<measure>_mcse`` optional:
        without it no error bars are drawn).
    measure : {"coverage_ci", "coverage_pi", "bias", "width_ci", "width_pi", "failure_rate"}
    methods : sequence of str, optional
        Methods to draw, in this order (default: order of first appearance).
    labels : mapping of str to str, optional
        Method -> legend label.
    highlight : str, optional
        Method drawn in black with a larger marker (the review's choice).
    level : float, default 0.95
        Nominal level, drawn as a dashed line for coverage measures.
    band : (float, float), optional
        Shaded horizontal band (e.g. the nominal level +/- 2 Monte Carlo SEs at that level).
    """
    present = _check(summary, measure)
    order = list(methods) if methods is not None else present
    unknown = [m for m in order if m not in present]
    if unknown:
        msg = f"method(s) {', '.join(unknown)} not in the simulation summary"
        raise ValueError(msg)
    names = dict(labels or {})
    ks = sorted(summary["k"].unique())
    taus = sorted(summary["tau"].unique())
    props = sorted(summary["proportion"].unique())
    with st.style():
        fig = st.new_figure(3.2 * len(taus) + 0.6, 2.4 * len(ks) + 1.4)
        axes = fig.subplots(len(ks), len(taus), squeeze=False, sharex=True, sharey=True)
        for i, k in enumerate(ks):
            for j, tau in enumerate(taus):
                ax = axes[i, j]
                panel = summary[(summary["k"] == k) & (summary["tau"] == tau)]
                if panel.empty:  # a grid that is not fully factorial
                    ax.set_visible(False)
                    continue
                _panel(ax, panel, measure, order, props, highlight)
                if measure.startswith("coverage"):
                    ax.axhline(level, color=st.INK, linestyle="--", linewidth=1.0, zorder=1)
                if band is not None:
                    ax.axhspan(band[0], band[1], color=st.LIGHT, alpha=0.6, zorder=0,
                               gid="sim-band")
                if i == 0:
                    ax.set_title(f"tau = {tau:g}", fontsize=st.FONT_SIZE)
                if j == 0:
                    ax.set_ylabel(f"k = {k}")
                if i == len(ks) - 1:
                    ax.set_xlabel("True pooled proportion")
        axes[0, 0].set_xticks(range(len(props)), [f"{p:g}" for p in props])
        fig.suptitle(MEASURE_LABELS[measure], x=0.02, ha="left", fontweight="bold",
                     fontsize=st.FONT_SIZE + 2)
        handles = [_handle(m, order, highlight) for m in order]
        fig.legend(handles, [names.get(m, m) for m in order], loc="lower center",
                   ncol=2, fontsize=st.FONT_SIZE - 2, bbox_to_anchor=(0.5, 0.0))
        height = fig.get_figheight()
        fig.tight_layout(rect=(0, (0.15 + 0.24 * np.ceil(len(order) / 2)) / height, 1, 1))
    return st.release(fig)


def _style_of(method: str, order: Sequence[str], highlight: str | None) -> dict:
    i = list(order).index(method)
    if method == highlight:
        return {"color": st.INK, "marker": "D", "size": 7.5}
    return {"color": _COLOURS[i % len(_COLOURS)], "marker": _MARKERS[i % len(_MARKERS)],
            "size": 5.5}


def _handle(method: str, order: Sequence[str], highlight: str | None) -> Line2D:
    s = _style_of(method, order, highlight)
    return Line2D([], [], color=s["color"], marker=s["marker"], markersize=s["size"],
                  linestyle="none")


def _panel(ax: Axes, panel: pd.DataFrame, measure: str, order: Sequence[str],
           props: Sequence[float], highlight: str | None) -> None:
    width = 0.7
    offsets = np.linspace(-width / 2, width / 2, len(order)) if len(order) > 1 else [0.0]
    mcse_col = f"{measure}_mcse"
    for off, method in zip(offsets, order, strict=True):
        rows = panel[panel["method"] == method].set_index("proportion").reindex(props)
        x = np.arange(len(props)) + off
        y = rows[measure].to_numpy(dtype=float)
        s = _style_of(method, order, highlight)
        if mcse_col in rows:
            err = 2 * rows[mcse_col].to_numpy(dtype=float)
            ax.errorbar(x, y, yerr=err, fmt="none", ecolor=s["color"], elinewidth=1.0, zorder=2)
        ax.plot(x, y, linestyle="none", marker=s["marker"], markersize=s["size"],
                color=s["color"], zorder=3, gid=f"sim-{method}")
    ax.grid(axis="y", color=st.LIGHT, linewidth=0.7)
    ax.set_axisbelow(True)
    ax.set_xlim(-0.6, len(props) - 0.4)


def simulation_plot_alt_text(
    summary: pd.DataFrame,
    measure: str = "coverage_ci",
    *,
    labels: Mapping[str, str] | None = None,
    highlight: str | None = None,
) -> str:
    """Alt text for :func:`simulation_plot`: the layout and, per method, the range of the measure."""
    present = _check(summary, measure)
    names = dict(labels or {})
    ks = ", ".join(str(k) for k in sorted(summary["k"].unique()))
    taus = ", ".join(f"{t:g}" for t in sorted(summary["tau"].unique()))
    props = ", ".join(f"{p:g}" for p in sorted(summary["proportion"].unique()))
    parts = []
    for m in present:
        v = summary.loc[summary["method"] == m, measure]
        mark = " (the review's method)" if m == highlight else ""
        parts.append(f"{names.get(m, m)}{mark}: {v.min():.3f} to {v.max():.3f}")
    return (f"{MEASURE_LABELS[measure]} in a grid of panels: rows k = {ks} studies, columns "
            f"tau = {taus}; in each panel the true pooled proportion ({props}) on the x axis and "
            f"one marker per method with bars of two Monte Carlo standard errors. Range over "
            f"scenarios by method: " + "; ".join(parts) + ".")
