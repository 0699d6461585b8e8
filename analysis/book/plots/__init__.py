"""Figures for a living systematic review of proportions, drawn with matplotlib.

Every figure function takes plain data (DataFrames, dicts, sequences, or result objects read by
attribute name) and returns a :class:`matplotlib.figure.Figure` that pyplot does not hold open.
No function here reads a file, computes a statistic or changes global matplotlib state; the one
function that writes files is :func:`save_figure`, which writes where the caller says.

Alt text: each figure function ``f`` has a companion ``f_alt_text`` taking the same data and
returning a plain-language description (what is plotted, k, the key numbers), so a page can
give every figure a caption and alt text. :func:`save_figure` can also embed that text in the
SVG and PNG metadata.

Modules: :mod:`.forest` (forest, subgroup, leave-one-out and cumulative plots), :mod:`.flow`
(PRISMA 2020 flow diagram), :mod:`.rob` (risk-of-bias traffic light and summary bars),
:mod:`.survival` (Kaplan-Meier curve), :mod:`.trend` (estimates across review versions),
:mod:`.specification` (specification curve of a robustness panel).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from analysis.book.plots.flow import prisma_flow, prisma_flow_alt_text
from analysis.book.plots.forest import (
    cumulative_plot,
    cumulative_plot_alt_text,
    forest_plot,
    forest_plot_alt_text,
    forest_plot_subgroups,
    forest_plot_subgroups_alt_text,
    leave_one_out_plot,
    leave_one_out_plot_alt_text,
    study_plot,
    study_plot_alt_text,
)
from analysis.book.plots.rob import (
    summary_bars,
    summary_bars_alt_text,
    traffic_light,
    traffic_light_alt_text,
)
from analysis.book.plots.specification import specification_curve, specification_curve_alt_text
from analysis.book.plots.summary import outcome_summary_plot, outcome_summary_plot_alt_text
from analysis.book.plots.survival import km_plot, km_plot_alt_text
from analysis.book.plots.trend import estimate_over_versions, estimate_over_versions_alt_text

__all__ = [
    "cumulative_plot",
    "cumulative_plot_alt_text",
    "estimate_over_versions",
    "estimate_over_versions_alt_text",
    "forest_plot",
    "forest_plot_alt_text",
    "forest_plot_subgroups",
    "forest_plot_subgroups_alt_text",
    "km_plot",
    "km_plot_alt_text",
    "leave_one_out_plot",
    "leave_one_out_plot_alt_text",
    "outcome_summary_plot",
    "outcome_summary_plot_alt_text",
    "prisma_flow",
    "prisma_flow_alt_text",
    "save_figure",
    "specification_curve",
    "specification_curve_alt_text",
    "study_plot",
    "study_plot_alt_text",
    "summary_bars",
    "summary_bars_alt_text",
    "traffic_light",
    "traffic_light_alt_text",
]

_FORMATS = ("svg", "png")


def save_figure(
    fig: Figure,
    stem: str | Path,
    *,
    formats: Sequence[str] = _FORMATS,
    dpi: int = 200,
    title: str | None = None,
    alt: str | None = None,
) -> list[Path]:
    """Write ``fig`` as ``<stem>.svg`` and ``<stem>.png`` (the book offers both downloads).

    The only function of :mod:`analysis.book.plots` that writes files. The SVG carries no creation
    date and a fixed hash salt, so the same figure gives the same bytes on every build.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save.
    stem : str or pathlib.Path
        Output path without suffix, chosen by the caller; missing parent folders are created.
    formats : sequence of {"svg", "png", "pdf"}, default ("svg", "png")
        Formats to write, in order.
    dpi : int, default 200
        Resolution of raster output (sharp on phone screens).
    title, alt : str, optional
        Written into the file metadata (SVG ``Title``/``Description``; PNG ``Title``/
        ``Description`` text chunks) so the description travels with a downloaded figure.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of ``formats``.
    """
    unknown = [f for f in formats if f not in ("svg", "png", "pdf")]
    if unknown:
        msg = f"save_figure: unsupported format(s) {', '.join(unknown)}; use svg, png or pdf"
        raise ValueError(msg)
    stem = Path(stem)
    if stem.suffix.lower() in (".svg", ".png", ".pdf"):
        msg = f"save_figure: give the path without a suffix (got {stem})"
        raise ValueError(msg)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = stem.with_name(stem.name + "." + fmt)
        meta: dict[str, str | None] = {}
        if fmt == "svg":
            meta = {"Date": None}
        elif fmt == "pdf":
            meta = {"CreationDate": None, "ModDate": None}
        if title:
            meta["Title"] = title
        if alt and fmt in ("svg", "png"):
            meta["Description"] = alt
        elif alt:
            meta["Subject"] = alt
        with mpl.rc_context({"svg.hashsalt": "analysis.book.plots"}):  # stable SVG element ids
            fig.savefig(
                path, format=fmt, dpi=dpi, bbox_inches="tight", pad_inches=0.15, metadata=meta
            )
        written.append(path)
    return written
