"""A specification curve: one outcome's estimate under every combination of defensible choices.

Input: the panel of :func:`analysis.evidence.multiverse.run_panel`, one row per specification with
``method``, ``inclusion``, ``definition`` (ids) and their ``*_label`` texts, ``plan`` (the plan's own
analysis), ``display`` (``pooled``, or why not), ``estimate``, ``ci_lower`` and ``ci_upper`` (missing for a
specification the few-study rules do not pool) [simonsohn2020].

The figure has two panels sharing one column per specification. Above, each pooled estimate with its CI,
sorted from lowest to highest; specifications that cannot be pooled come last, on a grey band, as an
open mark at the foot of the axis (no estimate is drawn for them). The plan's own analysis is a larger
blue diamond on a shaded column. Below, a dot matrix: one row per option of each dimension (method,
studies, outcome definition), a filled dot where the specification made that choice. Drawn narrow (about
4.5 inches with the row labels), so that a phone shows it without a sideways scroll at a readable size.

Artists: the estimates carry the gid ``"spec-estimates"``, the plan's marker ``"spec-plan"``, the marks of
unpooled specifications ``"spec-unpooled"``, the matrix dots ``"spec-choices"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.book.plots import _style as st
from analysis.evidence.words import lower_first as _lower_first

__all__ = [
    "DIMENSIONS",
    "sort_specifications",
    "specification_curve",
    "specification_curve_alt_text",
    "specification_sentence",
]

#: The dimensions of a panel: column of ids, column of labels, heading of its rows in the matrix.
DIMENSIONS: tuple[tuple[str, str, str], ...] = (
    ("method", "method_label", "Method"),
    ("inclusion", "inclusion_label", "Studies"),
    ("definition", "definition_label", "Outcome definition"),
)
_COLUMNS = ("method", "inclusion", "definition", "plan", "display", "estimate", "ci_lower", "ci_upper")
#: What a specification that is not pooled is, in words (its ``display``).
_UNPOOLED_WORDS = {"single": ("rests on a single study", "rest on a single study"),
                   "side_by_side": ("has too few or conflicting studies", "have too few or conflicting studies"),
                   "none": ("has no study", "have no study")}


def _check(panel: pd.DataFrame) -> pd.DataFrame:
    st.require_columns(panel, _COLUMNS, "robustness panel")
    if len(panel) == 0:
        msg = "robustness panel has no rows: there is nothing to plot"
        raise ValueError(msg)
    if int(panel["plan"].astype(bool).sum()) != 1:
        msg = f"robustness panel: exactly one row must be the plan's analysis, found {int(panel['plan'].sum())}"
        raise ValueError(msg)
    for pos, rec in enumerate(panel.to_dict("records")):
        where = f"robustness panel row {pos + 1} ({rec['method']}, {rec['inclusion']}, {rec['definition']})"
        pooled = rec["display"] == "pooled"
        values = [rec["estimate"], rec["ci_lower"], rec["ci_upper"]]
        known = [v is not None and not (isinstance(v, float) and math.isnan(v)) for v in values]
        if pooled and not all(known):
            msg = f"{where}: a pooled specification needs an estimate and both bounds"
            raise ValueError(msg)
        if not pooled and any(known):
            msg = f"{where}: a specification that is not pooled ({rec['display']}) must have no estimate"
            raise ValueError(msg)
        if pooled:
            st.check_interval(*values, where)
    return panel.reset_index(drop=True)


def sort_specifications(panel: pd.DataFrame) -> pd.DataFrame:
    """Pooled specifications by estimate (then lower bound), then the others by why they are not pooled."""
    frame = _check(panel).copy()
    frame["_unpooled"] = frame["display"] != "pooled"
    frame["_order"] = range(len(frame))
    frame = frame.sort_values(["_unpooled", "estimate", "ci_lower", "display", "_order"], kind="stable",
                              na_position="last")
    return frame.drop(columns=["_unpooled", "_order"]).reset_index(drop=True)


def _options(frame: pd.DataFrame, column: str, label: str) -> list[tuple[str, str]]:
    """(id, label) of a dimension's options in order of first appearance in the unsorted panel."""
    labels = frame[label] if label in frame.columns else frame[column]
    return list(dict.fromkeys(zip(frame[column].astype(str), labels.astype(str), strict=True)))


def specification_curve(
    panel: pd.DataFrame,
    *,
    xlabel: str = "Specifications, sorted by estimate",
    ylabel: str = "Estimate (95% CI)",
    short_labels: Mapping[tuple[str, str], str] | None = None,
    width: float = 3.0,
) -> Figure:
    """Draw the specification curve of one outcome's panel (see the module docstring).

    Parameters
    ----------
    panel : pandas.DataFrame
        One row per specification (columns above).
    xlabel, ylabel : str
        Axis labels.
    short_labels : mapping, optional
        ``(dimension column, option id) -> the text of its matrix row`` (default: the ``*_label`` column,
        else the id).
    width : float, default 3.0
        Figure width in inches.
    """
    order = sort_specifications(panel)
    dims = [(c, lab, head, _options(panel, c, lab)) for c, lab, head in DIMENSIONS if c in panel.columns]
    dims = [d for d in dims if d[3]]
    n_rows = sum(len(d[3]) for d in dims)
    short = dict(short_labels or {})
    x = np.arange(len(order))
    pooled = order["display"] == "pooled"
    with st.style():
        curve_h, row_h = 2.6, 0.2
        fig = st.new_figure(width, curve_h + row_h * (n_rows + 2 * len(dims)) + 0.9)
        grid = fig.add_gridspec(2, 1, height_ratios=[curve_h, row_h * (n_rows + 2 * len(dims))], hspace=0.08)
        top = fig.add_subplot(grid[0])
        bottom = fig.add_subplot(grid[1], sharex=top)
        plan_x = int(np.flatnonzero(order["plan"].astype(bool).to_numpy())[0])
        for ax in (top, bottom):
            ax.axvspan(plan_x - 0.5, plan_x + 0.5, color=st.LIGHT, alpha=0.7, zorder=0, linewidth=0)
        if (~pooled).any():
            first = int(np.flatnonzero((~pooled).to_numpy())[0])
            top.axvspan(first - 0.5, len(order) - 0.5, color=st.LIGHT, alpha=0.35, zorder=0, linewidth=0)
            top.scatter(x[~pooled], np.full(int((~pooled).sum()), 0.02), marker="o", s=14, facecolors="none",
                        edgecolors=st.MUTED, linewidths=0.8, zorder=3, gid="spec-unpooled")
            top.text((first + len(order) - 1) / 2, 0.1, "not pooled\n(few-study rules)", ha="center",
                     va="bottom", fontsize=st.FONT_SIZE - 1, color=st.MUTED)
        est = order.loc[pooled, "estimate"].to_numpy(float)
        lo, hi = order.loc[pooled, "ci_lower"].to_numpy(float), order.loc[pooled, "ci_upper"].to_numpy(float)
        top.vlines(x[pooled], lo, hi, color=st.INK, linewidth=1.0, zorder=2)
        top.scatter(x[pooled], est, s=12, color=st.INK, zorder=3, gid="spec-estimates")
        if bool(pooled.iloc[plan_x]):
            row = order.iloc[plan_x]
            top.vlines([plan_x], [row["ci_lower"]], [row["ci_upper"]], color=st.POOLED, linewidth=2.2, zorder=4)
            top.scatter([plan_x], [row["estimate"]], marker="D", s=46, color=st.POOLED, zorder=5, gid="spec-plan",
                        label="The plan's analysis")
        else:
            top.scatter([plan_x], [0.02], marker="D", s=46, facecolors="none", edgecolors=st.POOLED, zorder=5,
                        gid="spec-plan", label="The plan's analysis (not pooled)")
        top.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=1, borderaxespad=0.2)
        top.set_ylim(0, 1)
        top.set_yticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
        top.set_ylabel(ylabel)
        top.grid(axis="y", color=st.LIGHT, linewidth=0.6)
        top.tick_params(axis="x", bottom=False, labelbottom=False)
        _matrix(bottom, order, dims, short)
        bottom.set_xlim(-0.5, len(order) - 0.5)
        bottom.set_xlabel(f"{xlabel} ({len(order)})")
        bottom.tick_params(axis="x", bottom=False, labelbottom=False)
    return st.release(fig)


def _matrix(ax: object, order: pd.DataFrame, dims: Sequence[tuple], short: Mapping[tuple[str, str], str]) -> None:
    """The dot matrix: a heading per dimension, one row per option, a dot where a specification chose it."""
    y, ticks, labels, xs, ys = 0.0, [], [], [], []
    for column, _label, head, options in dims:
        ticks.append(y)
        labels.append(head)
        y -= 1.2
        for option, text in options:
            ticks.append(y)
            labels.append("  " + short.get((column, option), text))
            hit = np.flatnonzero(order[column].astype(str).to_numpy() == option)
            xs.extend(hit.tolist())
            ys.extend([y] * len(hit))
            y -= 1.0
        y -= 0.6
    ax.scatter(xs, ys, s=7, color=st.INK, marker="o", linewidths=0, gid="spec-choices")
    ax.set_yticks(ticks, labels)
    for tick, text in zip(ax.get_yticklabels(), labels, strict=True):
        if not text.startswith("  "):
            tick.set_fontweight("bold")
    ax.tick_params(axis="y", length=0, labelsize=st.FONT_SIZE - 1)
    ax.set_ylim(y + 0.4, 0.8)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)


# ------------------------------------------------------------------------------------------ in words


def _pct(x: float) -> str:
    return f"{100 * float(x):.0f}%"



def _deviations(row: Mapping[str, object], plan: Mapping[str, object]) -> list[str]:
    """The choices of ``row`` that differ from the plan's analysis, in words."""
    out = []
    for column, label, _head in DIMENSIONS:
        if column in row and str(row[column]) != str(plan[column]):
            text = str(row.get(label, row[column]))
            out.append(text if column == "method" else _lower_first(text))
    return out


def specification_sentence(panel: pd.DataFrame) -> str:
    """One sentence on the panel: how many specifications pool, the range of their estimates, where the
    plan's analysis is, and the lowest lower bound with the choices that gave it.

    Example: "In 24 of 48 specifications the estimate lies between 85% and 89% (the plan's own analysis:
    88%, 95% CI 52% to 98%; CrI, the credible interval, when its method is Bayesian, ``BAYES...``); the other 24 cannot be pooled under the plan's few-study rules (24 rest on a
    single study); the lowest lower bound is 48% (logit, REML, HKSJ CI with ad hoc correction)."
    """
    frame = _check(panel)
    n = len(frame)
    pooled = frame.loc[frame["display"] == "pooled"]
    plan = frame.loc[frame["plan"].astype(bool)].iloc[0].to_dict()
    if pooled.empty:
        return (f"None of the {n} specifications can be pooled under the plan's few-study rules "
                f"({_unpooled_words(frame)}).")
    low, high = _pct(pooled["estimate"].min()), _pct(pooled["estimate"].max())
    where = f"is {low}" if low == high else f"lies between {low} and {high}"
    text = f"In {len(pooled)} of {n} specifications the estimate {where}"
    if plan["display"] == "pooled":
        word = "CrI" if str(plan["method"]).upper().startswith("BAYES") else "CI"
        text += f" (the plan's own analysis: {_pct(plan['estimate'])}, 95% {word} {_pct(plan['ci_lower'])} to " \
                f"{_pct(plan['ci_upper'])})"
    else:
        text += " (the plan's own analysis cannot be pooled)"
    others = n - len(pooled)
    if others:
        text += (f"; the other {others} cannot be pooled under the plan's few-study rules "
                 f"({_unpooled_words(frame)})")
    lowest = pooled.assign(_dev=[len(_deviations(r, plan)) for r in pooled.to_dict("records")])
    lowest = lowest.sort_values(["ci_lower", "_dev"], kind="stable").iloc[0].to_dict()
    changes = _deviations(lowest, plan)
    because = "; ".join(changes) if changes else "the plan's own analysis"
    return text + f"; the lowest lower bound is {_pct(lowest['ci_lower'])} ({because})."


def _unpooled_words(frame: pd.DataFrame) -> str:
    counts = frame.loc[frame["display"] != "pooled", "display"].value_counts()
    words = [(n, _UNPOOLED_WORDS.get(str(d), (f"is {d}", f"are {d}"))) for d, n in counts.items()]
    return ", ".join(f"{n} {w[0] if n == 1 else w[1]}".replace("_", " ") for n, w in words)


def specification_curve_alt_text(panel: pd.DataFrame, *, outcome: str = "the outcome", **_: object) -> str:
    """Alt text of :func:`specification_curve`: what is drawn, then :func:`specification_sentence`."""
    nouns = {"method": ("method", "methods"), "inclusion": ("set of studies", "sets of studies"),
             "definition": ("outcome definition", "outcome definitions")}
    counts = [(len(_options(panel, c, lab)), nouns[c]) for c, lab, _head in DIMENSIONS if c in panel.columns]
    dims = [f"{n} {noun[0] if n == 1 else noun[1]}" for n, noun in counts]
    return (f"Specification curve of {outcome}: every combination of {', '.join(dims)}. "
            + specification_sentence(panel))
