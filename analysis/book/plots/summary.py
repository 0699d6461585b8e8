"""One figure a reader takes in at a glance: every outcome with data, one row each.

Each row names the outcome, its number of studies and patients and the certainty of the evidence,
then draws what the review shows for it: the pooled estimate with its confidence interval (a
diamond), one study shown as its own proportion with its exact interval (a square), or, when the
few-study rules do not pool the studies, each study's proportion and interval side by side (open
circles) with the words "not pooled". The figure is narrow (about 4 inches once saved) and no text in
it is smaller than 11 pt, so that on a 390-pixel phone screen, where it is shown about 340 pixels
wide, its letters are at least 12 CSS pixels (:data:`SMALLEST_TEXT`): the size of the page's own
small print. Nothing is computed here; the numbers come from the frame passed in.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from analysis.book.plots import _style as st

__all__ = ["SMALLEST_TEXT", "SUMMARY_COLUMNS", "outcome_summary_plot", "outcome_summary_plot_alt_text"]

#: Columns of the frame: ``display`` is "pooled", "single" or "side_by_side"; ``estimate``,
#: ``lower``, ``upper`` hold the shown number (NaN when side by side); ``studies`` a list of
#: (proportion, lower, upper) per study; ``value`` the number as text.
SUMMARY_COLUMNS = ("label", "display", "estimate", "lower", "upper", "studies", "k", "n", "certainty", "value")

_WIDTH = 3.5  # inches; the value printed right of the axes widens the saved figure to about 4 inches
_BLOCK = 0.78  # inches per outcome (two lines of text and the interval)
_WRAP = 34  # characters per line of an outcome's name (12 pt)
_LINE = 0.27  # blocks per extra line of text (12 pt and 11 pt lines)
_FACTS = 38  # characters of the facts line (11 pt); longer facts are split at "; " over two lines
#: Smallest text of the figure, in points.
SMALLEST_TEXT = st.FONT_SIZE


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
    facts = [_facts(row) for row in frame.itertuples(index=False)]
    tops = [0.0]
    for lines, more in zip(labels, facts, strict=True):  # each extra line of text adds _LINE of a block
        tops.append(tops[-1] + 1 + (len(lines) - 1 + len(more) - 1) * _LINE)
    n = tops[-1]
    height = n * _BLOCK + 0.75
    with st.style():
        fig = st.new_figure(_WIDTH, height)
        ax = fig.add_axes((0.04, 0.55 / height, 0.60, (n * _BLOCK) / height))
        ax.set_xlim(0, 1)
        ax.set_ylim(n, 0)
        ax.set_yticks([])
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
        ax.tick_params(axis="x", labelsize=SMALLEST_TEXT)
        ax.set_xlabel(xlabel, fontsize=SMALLEST_TEXT)
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        ax.grid(axis="x", color="#E4E7EB", linewidth=0.8)
        for top, lines, more, row in zip(tops, labels, facts, frame.itertuples(index=False), strict=False):
            _draw_row(ax, top, lines, more, row)
    return st.release(fig)


def _facts(row: Any) -> list[str]:
    """The facts line of a row (studies, patients, certainty), split over two lines when long."""
    parts = [f"{int(row.k)} {'study' if int(row.k) == 1 else 'studies'}, {int(row.n)} patients"]
    if isinstance(row.certainty, str) and row.certainty:
        parts.append(f"certainty: {row.certainty}")
    one = "; ".join(parts)
    return [one] if len(one) <= _FACTS else [f"{parts[0]};", *parts[1:]]


def _draw_row(ax: Any, top: float, lines: list[str], facts: list[str], row: Any) -> None:
    i = top + (len(lines) - 1) * _LINE  # the facts start below the name's last line
    y = i + 0.72 + (len(facts) - 1) * _LINE  # interval line; the text lines sit above it
    ax.annotate("\n".join(lines), xy=(0, top + 0.08), xycoords="data", ha="left", va="top", fontsize=st.FONT_SIZE + 1,
                color=st.INK, annotation_clip=False)
    ax.annotate("\n".join(facts), xy=(0, i + 0.36), xycoords="data", ha="left", va="top", fontsize=SMALLEST_TEXT,
                color=st.MUTED, annotation_clip=False, linespacing=1.35)
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
                fontsize=SMALLEST_TEXT, color=st.INK, annotation_clip=False)


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
