"""Risk-of-bias figures in the style of robvis: a traffic-light grid and summary bars.

Input is a long table with one row per study and checklist item (columns ``study_id``,
``item``, ``judgement``), judgements in :data:`JUDGEMENTS`, and a mapping of item id to the
item's wording (its order is the order of the columns/bars). Colours are the Okabe-Ito palette
and every judgement also carries a symbol (``+``, ``-``, ``?``, ``NA``), so the figures read
without colour vision and in greyscale.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from analysis.book.plots import _style as st

__all__ = [
    "JUDGEMENTS",
    "summary_bars",
    "summary_bars_alt_text",
    "traffic_light",
    "traffic_light_alt_text",
]


#: judgement -> (legend label, fill colour, symbol, symbol colour)
JUDGEMENTS: dict[str, tuple[str, str, str, str]] = {
    "yes": ("Yes", st.OKABE_ITO["bluish_green"], "+", "white"),
    "no": ("No", st.OKABE_ITO["vermillion"], "\u2212", "white"),
    "unclear": ("Unclear", st.OKABE_ITO["yellow"], "?", "black"),
    "not_applicable": ("Not applicable", "#BBBBBB", "NA", "black"),
}
_COLUMNS = ("study_id", "item", "judgement")


def _grid(
    rob_long: pd.DataFrame, item_labels: Mapping[str, str]
) -> tuple[list[str], list[str], dict[tuple[str, str], str]]:
    """Check the long table and return (studies, items, {(study, item): judgement})."""
    st.require_columns(rob_long, _COLUMNS, "risk-of-bias table")
    if len(rob_long) == 0:
        msg = "risk-of-bias table has no rows: there is nothing to plot"
        raise ValueError(msg)
    if not item_labels:
        msg = "item_labels is empty: give the checklist items in display order"
        raise ValueError(msg)
    items = [str(i) for i in item_labels]
    cells: dict[tuple[str, str], str] = {}
    studies: list[str] = []
    for pos, rec in enumerate(rob_long[list(_COLUMNS)].to_dict("records")):
        study, item, judgement = str(rec["study_id"]), str(rec["item"]), rec["judgement"]
        where = f"risk-of-bias row {pos + 1} (study {study!r}, item {item!r})"
        if judgement not in JUDGEMENTS:
            allowed = ", ".join(JUDGEMENTS)
            msg = f"{where}: judgement {judgement!r} is not one of {allowed}"
            raise ValueError(msg)
        if item not in item_labels:
            msg = f"{where}: item {item!r} is not in item_labels ({', '.join(items)})"
            raise ValueError(msg)
        if (study, item) in cells:
            msg = f"{where}: this study and item are judged twice"
            raise ValueError(msg)
        cells[(study, item)] = judgement
        if study not in studies:
            studies.append(study)
    for study in studies:
        missing = [i for i in items if (study, i) not in cells]
        if missing:
            msg = f"risk-of-bias table: study {study!r} has no judgement for {', '.join(missing)}"
            raise ValueError(msg)
    return studies, items, cells


def _legend(ax: Axes, y: float, used: list[str]) -> None:
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="none",
            markersize=13,
            markerfacecolor=JUDGEMENTS[j][1],
            markeredgecolor="white",
            label=f"{JUDGEMENTS[j][2]}  {JUDGEMENTS[j][0]}",
        )
        for j in used
    ]
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.0, y),
        ncol=len(handles),
        frameon=False,
        handletextpad=0.3,
        columnspacing=1.2,
        fontsize=st.FONT_SIZE - 1,
        borderaxespad=0.0,
    )


def _item_key(item_labels: Mapping[str, str], width: int = 70) -> str:
    lines = []
    for item, wording in item_labels.items():
        wrapped = textwrap.wrap(
            f"{item}  {wording}", width, subsequent_indent=" " * (len(str(item)) + 2)
        )
        lines += wrapped
    return "\n".join(lines)


def traffic_light(
    rob_long: pd.DataFrame,
    item_labels: Mapping[str, str],
    *,
    study_labels: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Figure:
    """Traffic-light grid: one circle per study and item, coloured and marked by judgement.

    Parameters
    ----------
    rob_long : pandas.DataFrame
        Columns ``study_id``, ``item``, ``judgement`` (one of :data:`JUDGEMENTS`); other
        columns are ignored. Studies appear top to bottom in order of first appearance.
    item_labels : mapping of str to str
        Item id -> wording, in column order (for example ``{"Q1": "Clear inclusion
        criteria?"}``); the wordings are printed as a key under the grid.
    study_labels : mapping of str to str, optional
        study_id -> display label (for example "Rejeski 2022"); ids without one are shown as is.
    title : str, optional

    Raises
    ------
    ValueError
        Missing columns, unknown judgement or item, a study judged twice on one item, or a
        study without a judgement on some item (the row, study and item are named).
    """
    studies, items, cells = _grid(rob_long, item_labels)
    labels = [(study_labels or {}).get(s, s) for s in studies]
    n_s, n_i = len(studies), len(items)
    key = _item_key(item_labels)
    key_lines = key.count("\n") + 1
    cell = 0.46  # inches per grid cell
    width = max(6.0, 1.6 + cell * (n_i + 0.5))
    grid_h = cell * (n_s + 0.6)
    key_h = 0.55 + key_lines * st.FONT_SIZE * 1.3 / 72
    title_h = 0.45 if title else 0.0
    height = grid_h + key_h + 0.7 + title_h
    with st.style():
        fig = st.new_figure(width, height)
        left = 1.6 / width
        ax = fig.add_axes(
            (left, (key_h + 0.2) / height, cell * (n_i + 0.5) / width, grid_h / height)
        )
        xs, ys, colours, marks = [], [], [], []
        for row, study in enumerate(studies):
            for col, item in enumerate(items):
                judgement = cells[(study, item)]
                xs.append(col)
                ys.append(row)
                colours.append(JUDGEMENTS[judgement][1])
                marks.append(judgement)
        ax.scatter(
            xs,
            ys,
            s=330,
            c=colours,
            edgecolors="white",
            linewidths=0.8,
            zorder=2,
            gid="rob-markers",
        )
        for x, y, j in zip(xs, ys, marks, strict=True):
            _, _, symbol, ink = JUDGEMENTS[j]
            size = st.FONT_SIZE - 3 if len(symbol) > 1 else st.FONT_SIZE + 1
            ax.text(
                x,
                y,
                symbol,
                ha="center",
                va="center",
                fontsize=size,
                fontweight="bold",
                color=ink,
                zorder=3,
            )
        ax.set_xlim(-0.6, n_i - 0.4)
        ax.set_ylim(n_s - 0.5, -0.6)
        ax.set_xticks(range(n_i), items)
        ax.set_yticks(range(n_s), labels)
        ax.xaxis.tick_top()
        ax.tick_params(length=0, labelsize=st.FONT_SIZE - 0.5)
        for spine in ax.spines.values():
            spine.set_visible(False)
        for row in range(n_s):
            ax.axhline(row, color=st.LIGHT, linewidth=0.8, zorder=1)
        _legend(ax, -0.04, list(JUDGEMENTS))
        fig.text(
            0.02,
            (key_h - 0.45) / height,
            key,
            ha="left",
            va="top",
            fontsize=st.FONT_SIZE - 1.5,
            color=st.MUTED,
            linespacing=1.3,
        )
        if title:
            fig.text(
                0.02,
                1 - 0.12 / height,
                title,
                ha="left",
                va="top",
                fontsize=st.FONT_SIZE + 2,
                fontweight="bold",
            )
    return st.release(fig)


def traffic_light_alt_text(
    rob_long: pd.DataFrame,
    item_labels: Mapping[str, str],
    *,
    study_labels: Mapping[str, str] | None = None,
) -> str:
    """Alt text for :func:`traffic_light`: per study, the items judged no or unclear."""
    studies, items, cells = _grid(rob_long, item_labels)
    parts = []
    for study in studies:
        label = (study_labels or {}).get(study, study)
        by = {j: [i for i in items if cells[(study, i)] == j] for j in JUDGEMENTS}
        text = f"{label}: {len(by['yes'])} of {len(items)} items yes"
        for j in ("no", "unclear", "not_applicable"):
            if by[j]:
                text += f"; {JUDGEMENTS[j][0].lower()}: {', '.join(by[j])}"
        parts.append(text)
    return (
        f"Risk-of-bias traffic-light plot of {len(studies)} studies on {len(items)} items. "
        + ". ".join(parts)
        + "."
    )


def _counts(studies: list[str], items: list[str], cells: dict) -> dict[str, dict[str, int]]:
    return {i: {j: sum(cells[(s, i)] == j for s in studies) for j in JUDGEMENTS} for i in items}


def summary_bars(
    rob_long: pd.DataFrame,
    item_labels: Mapping[str, str],
    *,
    title: str | None = None,
    max_label_chars: int = 48,
) -> Figure:
    """Summary bars: per item, the share of studies with each judgement (robvis "summary").

    Each bar is 100% of the studies; segments are labelled with their symbol and number of
    studies when wide enough. Bars are unweighted (each study counts once).

    Parameters
    ----------
    rob_long, item_labels
        As in :func:`traffic_light`.
    title : str, optional
    max_label_chars : int, default 48
        Item wordings longer than this are wrapped onto a second line.
    """
    studies, items, cells = _grid(rob_long, item_labels)
    counts = _counts(studies, items, cells)
    n = len(studies)
    labels = [
        "\n".join(textwrap.wrap(f"{i}  {item_labels[i]}", max_label_chars)[:2]) for i in items
    ]
    height = 0.5 * len(items) + 1.6
    with st.style():
        fig = st.new_figure(8.0, height)
        ax = fig.add_axes((0.42, 1.05 / height, 0.55, (height - 1.55) / height))
        left = np.zeros(len(items))
        for j, (name, colour, symbol, ink) in JUDGEMENTS.items():
            widths = np.array([100.0 * counts[i][j] / n for i in items])
            bars = ax.barh(
                range(len(items)),
                widths,
                left=left,
                color=colour,
                edgecolor="white",
                linewidth=1.0,
                height=0.72,
                label=f"{symbol}  {name}",
                gid=f"rob-bars-{j}",
            )
            for bar, count in zip(bars, (counts[i][j] for i in items), strict=True):
                if count and bar.get_width() >= 9:
                    ax.text(
                        bar.get_x() + bar.get_width() / 2,
                        bar.get_y() + bar.get_height() / 2,
                        f"{symbol} {count}",
                        ha="center",
                        va="center",
                        fontsize=st.FONT_SIZE - 1.5,
                        fontweight="bold",
                        color=ink,
                    )
            left += widths
        ax.set_yticks(range(len(items)), labels, fontsize=st.FONT_SIZE - 1.5)
        ax.set_ylim(len(items) - 0.5, -0.5)
        ax.set_xlim(0, 100)
        ax.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
        ax.set_xlabel(f"Studies (n = {n})")
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        fig.legend(
            loc="lower left",
            bbox_to_anchor=(0.02, 0.08 / height),
            ncol=4,
            frameon=False,
            fontsize=st.FONT_SIZE - 1,
            handlelength=1.2,
        )
        if title:
            ax.set_title(title, loc="left", pad=10)
    return st.release(fig)


def summary_bars_alt_text(rob_long: pd.DataFrame, item_labels: Mapping[str, str]) -> str:
    """Alt text for :func:`summary_bars`: the number of studies per judgement for each item."""
    studies, items, cells = _grid(rob_long, item_labels)
    counts = _counts(studies, items, cells)
    parts = []
    for i in items:
        shown = [f"{counts[i][j]} {JUDGEMENTS[j][0].lower()}" for j in JUDGEMENTS if counts[i][j]]
        parts.append(f"{i}: {', '.join(shown)}")
    return (
        f"Risk-of-bias summary bars for {len(items)} items across {len(studies)} studies. "
        + "; ".join(parts)
        + "."
    )
