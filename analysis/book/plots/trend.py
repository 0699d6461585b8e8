"""How pooled estimates changed across versions of a living review (small multiples).

Input: a long DataFrame with one row per version and outcome, columns ``version``,
``outcome``, ``estimate``, ``ci_lower``, ``ci_upper`` (proportions) and ``k`` (number of
studies). Versions are ordered naturally (``"26.2.0"`` before ``"26.10.0"``). An estimate from a
single study (``k = 1``) is drawn as a hollow marker: it is that study's result, not a pooled one.

Artists: each panel's markers carry the gid ``"trend-<outcome>"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.book.plots import _style as st

__all__ = ["estimate_over_versions", "estimate_over_versions_alt_text", "version_key"]

_COLUMNS = ("version", "outcome", "estimate", "ci_lower", "ci_upper", "k")


def version_key(version: str) -> tuple:
    """Natural sort key: digit runs compare as numbers (``"26.2.0" < "26.10.0"``)."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.findall(r"\d+|[^\d.]+", str(version))
    )


def _check(df: pd.DataFrame) -> tuple[list[str], list[str], dict[tuple[str, str], dict]]:
    st.require_columns(df, _COLUMNS, "version table")
    if len(df) == 0:
        msg = "version table has no rows: there is nothing to plot"
        raise ValueError(msg)
    cells: dict[tuple[str, str], dict] = {}
    outcomes: list[str] = []
    for pos, rec in enumerate(df[list(_COLUMNS)].to_dict("records")):
        version, outcome = str(rec["version"]), str(rec["outcome"])
        where = f"version table row {pos + 1} (version {version!r}, outcome {outcome!r})"
        st.check_interval(rec["estimate"], rec["ci_lower"], rec["ci_upper"], where)
        k = rec["k"]
        if isinstance(k, bool) or not float(k).is_integer() or int(k) < 1:
            msg = f"{where}: k must be a whole number >= 1 (got {k!r})"
            raise ValueError(msg)
        if (version, outcome) in cells:
            msg = f"{where}: this version and outcome appear twice"
            raise ValueError(msg)
        cells[(version, outcome)] = {**rec, "k": int(k)}
        if outcome not in outcomes:
            outcomes.append(outcome)
    versions = sorted({v for v, _ in cells}, key=version_key)
    return versions, outcomes, cells


def estimate_over_versions(
    df: pd.DataFrame,
    *,
    outcome_labels: Mapping[str, str] | None = None,
    title: str | None = None,
    ylabel: str = "Proportion",
) -> Figure:
    """One panel per outcome: the estimate and its CI in each review version, with k.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``version, outcome, estimate, ci_lower, ci_upper, k``; outcomes are drawn in
        order of first appearance.
    outcome_labels : mapping of str to str, optional
        outcome id -> panel title (ids without a label are shown as is).
    title : str, optional
        Figure title.
    ylabel : str, default "Proportion"
    """
    versions, outcomes, cells = _check(df)
    labels = outcome_labels or {}
    ncols = 1 if len(outcomes) == 1 else 2
    nrows = math.ceil(len(outcomes) / ncols)
    panel_w = max(3.4, 0.75 * len(versions) + 1.2)
    with st.style():
        fig = st.new_figure(panel_w * ncols, 2.7 * nrows + (0.5 if title else 0.2))
        axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
        for ax in axes.flat[len(outcomes) :]:
            ax.set_visible(False)
        for ax, outcome in zip(axes.flat, outcomes, strict=False):
            _panel(ax, outcome, labels.get(outcome, outcome), versions, cells)
        for row in axes:
            row[0].set_ylabel(ylabel)
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontweight="bold", fontsize=st.FONT_SIZE + 2)
        fig.tight_layout()
        note = "Diamonds: estimates; bars: confidence intervals; k: number of studies."
        if any(c["k"] == 1 for c in cells.values()):
            note += " Hollow diamond: a single study, not pooled."
        fig.text(0.02, 0.0, note, ha="left", va="top", fontsize=st.FONT_SIZE - 2, color=st.MUTED)
    return st.release(fig)


def _panel(ax: Axes, outcome: str, label: str, versions: list[str], cells: dict) -> None:
    present = [(i, cells[(v, outcome)]) for i, v in enumerate(versions) if (v, outcome) in cells]
    x = np.array([i for i, _ in present], dtype=float)
    est = np.array([c["estimate"] for _, c in present], dtype=float)
    lo = np.array([c["ci_lower"] for _, c in present], dtype=float)
    hi = np.array([c["ci_upper"] for _, c in present], dtype=float)
    ks = [c["k"] for _, c in present]
    ax.vlines(x, lo, hi, color=st.POOLED, linewidth=1.6, zorder=2)
    faces = ["white" if k == 1 else st.POOLED for k in ks]
    ax.scatter(
        x,
        est,
        s=46,
        marker="D",
        facecolors=faces,
        edgecolors=st.POOLED,
        linewidths=1.4,
        zorder=3,
        gid=f"trend-{outcome}",
    )
    for xi, hi_i, k in zip(x, hi, ks, strict=True):
        ax.annotate(
            f"k = {k}",
            xy=(xi, hi_i),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=st.FONT_SIZE - 2,
            color=st.MUTED,
        )
    ax.set_xticks(range(len(versions)), versions)
    ax.set_xlim(-0.6, len(versions) - 0.4)
    ax.set_ylim(0, 1.08)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.grid(axis="y", color=st.LIGHT, linewidth=0.7)
    ax.set_axisbelow(True)
    ax.set_title(label, loc="left", fontsize=st.FONT_SIZE, fontweight="bold")
    ax.tick_params(axis="x", labelsize=st.FONT_SIZE - 1.5)


def estimate_over_versions_alt_text(
    df: pd.DataFrame, *, outcome_labels: Mapping[str, str] | None = None
) -> str:
    """Alt text for :func:`estimate_over_versions`: per outcome, first and latest estimate."""
    versions, outcomes, cells = _check(df)
    labels = outcome_labels or {}
    parts = []
    for outcome in outcomes:
        rows = [(v, cells[(v, outcome)]) for v in versions if (v, outcome) in cells]
        (v0, first), (v1, last) = rows[0], rows[-1]
        text = (
            f"{labels.get(outcome, outcome)}: {st.fmt_num(first['estimate'])} "
            f"(k = {first['k']}) in version {v0}"
        )
        if len(rows) > 1:
            text += (
                f" to {st.fmt_num(last['estimate'])} (CI {st.fmt_num(last['ci_lower'])} to "
                f"{st.fmt_num(last['ci_upper'])}, k = {last['k']}) in version {v1}"
            )
        else:
            text += f" (CI {st.fmt_num(first['ci_lower'])} to {st.fmt_num(first['ci_upper'])})"
        parts.append(text)
    return (
        f"Estimates across {len(versions)} review version(s) for {len(outcomes)} outcome(s). "
        + "; ".join(parts)
        + "."
    )
