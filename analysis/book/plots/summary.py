"""One figure a reader takes in at a glance: every outcome with data, one row each.

Each row names the outcome, its number of studies and patients and the certainty of the evidence,
then draws what the review shows for it: the pooled estimate with its confidence interval (a
diamond), one study shown as its own proportion with its exact interval (a square), or, when the
few-study rules do not pool the studies, each study's proportion and interval side by side (open
circles) with the words "not pooled". The figure is narrow (about 4 inches) with 10-11 pt text, so
that on a 390-pixel phone screen its letters stay the size of the page's own. Nothing is computed
here; the numbers come from the frame passed in.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from analysis.book.plots import _style as st

__all__ = ["SUMMARY_COLUMNS", "outcome_summary_plot", "outcome_summary_plot_alt_text"]

#: Columns of the frame: ``display`` is "pooled", "single" or "side_by_side"; ``estimate``,
#: ``lower``, ``upper`` hold the shown number (NaN when side by side); ``studies`` a list of
#: (proportion, lower, upper) per study; ``value`` the number as text.
SUMMARY_COLUMNS = ("label", "display", "estimate", "lower", "upper", "studies", "k", "n", "certainty", "value")

_WIDTH = 4.2  # inches: about 400 px at 96 dpi, so a phone shows it at nearly its natural size
_BLOCK = 0.78  # inches per outcome (two lines of text and the interval)
_WRAP = 46  # characters per line of an outcome's name


def outcome_summary_plot(frame: pd.DataFrame, *, xlabel: str = "Proportion of patients") -> Figure:
    """The summary figure of the home page (see the module docstring).

    Raises
    ------
    ValueError
        A column is missing, the frame is empty, a display is unknown or a value lies outside its
        interval (the outcome is named).
    """
    st.require_columns(frame, SUMMARY_COLUMNS, "summary frame")
    if frame.empty:
        msg = "summary frame has no rows: there is nothing to plot"
        raise ValueError(msg)
    labels = [textwrap.wrap(str(label), _WRAP) or [""] for label in frame["label"]]
    tops = [0.0]
    for lines in labels:  # each extra line of a wrapped label adds a third of a block
        tops.append(tops[-1] + 1 + (len(lines) - 1) / 3)
    n = tops[-1]
    height = n * _BLOCK + 0.75
    with st.style():
        fig = st.new_figure(_WIDTH, height)
        ax = fig.add_axes((0.04, 0.55 / height, 0.60, (n * _BLOCK) / height))
        ax.set_xlim(0, 1)
        ax.set_ylim(n, 0)
        ax.set_yticks([])
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
        ax.set_xlabel(xlabel)
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        ax.grid(axis="x", color="#E4E7EB", linewidth=0.8)
        for top, lines, row in zip(tops, labels, frame.itertuples(index=False), strict=False):
            _draw_row(ax, top, lines, row)
    return st.release(fig)


def _draw_row(ax: Any, top: float, lines: list[str], row: Any) -> None:
    extra = (len(lines) - 1) / 3
    i = top + extra
    y = i + 0.72  # interval line; the text lines sit above it
    ax.annotate("\n".join(lines), xy=(0, top + 0.08), xycoords="data", ha="left", va="top", fontsize=st.FONT_SIZE + 1,
                color=st.INK, annotation_clip=False)
    facts = f"{int(row.k)} {'study' if int(row.k) == 1 else 'studies'}, {int(row.n)} patients"
    if isinstance(row.certainty, str) and row.certainty:
        facts += f"; certainty: {row.certainty}"
    ax.annotate(facts, xy=(0, i + 0.36), xycoords="data", ha="left", va="top", fontsize=st.FONT_SIZE - 1,
                color=st.MUTED, annotation_clip=False)
    if row.display == "side_by_side":
        for offset, (p, lo, hi) in zip(_offsets(len(row.studies)), row.studies, strict=True):
            st.check_interval(p, lo, hi, f"{row.label} (study)")
            ax.hlines(y + offset, lo, hi, color=st.MUTED, linewidth=1.2)
            ax.plot([p], [y + offset], marker="o", markerfacecolor="white", markeredgecolor=st.INK, markersize=5)
    elif row.display in ("pooled", "single"):
        st.check_interval(row.estimate, row.lower, row.upper, str(row.label))
        ax.hlines(y, row.lower, row.upper, color=st.INK, linewidth=1.6)
        if row.display == "pooled":
            h = 0.13
            ax.add_patch(Polygon([(row.lower, y), (row.estimate, y - h), (row.upper, y), (row.estimate, y + h)],
                                 closed=True, facecolor=st.POOLED, edgecolor=st.POOLED, gid="summary-diamond"))
        else:
            ax.plot([row.estimate], [y], marker="s", color=st.INK, markersize=6)
    else:
        msg = f"{row.label}: unknown display {row.display!r}"
        raise ValueError(msg)
    ax.annotate(row.value, xy=(1.04, y), xycoords=("axes fraction", "data"), ha="left", va="center",
                fontsize=st.FONT_SIZE - 1, color=st.INK, annotation_clip=False)


def _offsets(k: int) -> list[float]:
    step = 0.1 if k <= 3 else 0.3 / k
    return [(j - (k - 1) / 2) * step for j in range(k)]


def outcome_summary_plot_alt_text(frame: pd.DataFrame) -> str:
    """Alt text for :func:`outcome_summary_plot`: one sentence per outcome."""
    parts = []
    for row in frame.itertuples(index=False):
        cert = f", certainty: {row.certainty}" if isinstance(row.certainty, str) and row.certainty else ""
        studies = "1 study" if int(row.k) == 1 else f"{int(row.k)} studies"
        parts.append(f"{row.label}: {row.value} ({studies}, {int(row.n)} patients{cert})")
    return "Summary of the outcomes with data. " + "; ".join(parts) + "."
