"""Forest plots of proportions: one meta-analysis, subgroups, leave-one-out and cumulative.

The figures are drawn with the ``forestplot`` package (the table of labels and numbers, the
study confidence intervals) and finished with matplotlib: study squares sized by weight, the
pooled diamond (a :class:`~matplotlib.patches.Polygon`; forestplot has no diamond), the
prediction interval and the heterogeneity lines. Every number shown is taken from the result
object or data frame passed in; nothing is estimated here.

Results are read by duck typing, through the attribute names of the engine contract
(``analysis.engine.results.MetaPropResult``): ``k``, ``estimate``, ``ci_lower``, ``ci_upper``,
``pi_lower``, ``pi_upper``, ``tau2``, ``i2``, ``q``, ``q_df``, ``q_pvalue``, ``method``, ``ci``,
``measure``, ``level``, ``total_events``, ``total_n`` and ``studies`` (a DataFrame with columns
``label, events, n, proportion, ci_lower, ci_upper, weight``; weight in percent).

Each figure function has an ``*_alt_text`` companion taking the same data and returning a plain
sentence description for the figure's alt text. Artists that tests and readers may want to find
carry a ``gid``: ``"study-markers"``, ``"pooled-diamond"`` (one per pooled row),
``"prediction-interval"``, ``"pooled-line"``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon

from analysis.book.plots import _style as st
from analysis.book.report import (
    MIN_K_HETEROGENEITY,
    no_prediction_reason,
    shows_prediction_interval,
)

__all__ = [
    "cumulative_plot",
    "cumulative_plot_alt_text",
    "forest_plot",
    "forest_plot_alt_text",
    "forest_plot_subgroups",
    "forest_plot_subgroups_alt_text",
    "leave_one_out_plot",
    "leave_one_out_plot_alt_text",
    "study_plot",
    "study_plot_alt_text",
]

RESULT_ATTRIBUTES = (
    "k",
    "estimate",
    "ci_lower",
    "ci_upper",
    "pi_lower",
    "pi_upper",
    "tau2",
    "i2",
    "q",
    "q_df",
    "q_pvalue",
    "method",
    "ci",
    "measure",
    "level",
    "total_events",
    "total_n",
    "studies",
)
STUDY_COLUMNS = ("label", "events", "n", "proportion", "ci_lower", "ci_upper", "weight")
INTERVAL_COLUMNS = ("label", "estimate", "ci_lower", "ci_upper")

_MEASURES = {
    "PLO": "logit-transformed proportions",
    "PAS": "arcsine-transformed proportions",
    "PFT": "Freeman-Tukey double-arcsine-transformed proportions",
    "PR": "untransformed proportions",
}
_CI_METHODS = {"z": "Wald-type (z)", "t": "Wald-type, t(k-1)", "hksj": "Hartung-Knapp-Sidik-Jonkman",
               "hksj_adhoc": "Hartung-Knapp-Sidik-Jonkman, ad hoc correction",
               "credible": "equal-tailed credible interval"}
_XTICKS = [0.0, 0.25, 0.5, 0.75, 1.0]
_XLIM = (-0.03, 1.03)
_NBSP = "\u00a0"
_ROW_HEIGHT = 0.3  # inches per table row
_PLOT_WIDTH = 3.2  # inches of the interval panel; the table extends the figure to the sides
_DIAMOND_HALF_HEIGHT = 0.34  # in row units
_MAX_MARKER_AREA = 150.0  # points^2 for the study with the largest weight
_MIN_MARKER_AREA = 14.0


# --------------------------------------------------------------------------- rows


@dataclass
class _Row:
    """One line of a forest plot table."""

    label: str
    kind: str  # "study", "point", "pooled", "pi", "header", "text"
    cells: dict[str, str] = field(default_factory=dict)
    estimate: float = math.nan
    lower: float = math.nan
    upper: float = math.nan
    area: float = 0.0
    bold: bool = False


def _forestplot_module() -> ModuleType:
    """Import forestplot without letting it change process-wide state.

    forestplot 0.4.1 calls ``warnings.filterwarnings("ignore")`` and ``numpy.seterr(all="ignore")``
    when imported, which would silence every warning of the caller (and of a book build). Both
    are restored here.
    """
    old_err = np.geterr()
    with warnings.catch_warnings():
        import forestplot
    np.seterr(**old_err)
    return forestplot


def _short(label: str, max_chars: int | None) -> str:
    """Shorten a label to ``max_chars`` characters, marking the cut with an ellipsis."""
    text = " ".join(str(label).split())
    if max_chars is None or len(text) <= max_chars:
        return text
    return text[: max_chars - 1].rstrip() + "\u2026"


def _unique_labels(labels: Sequence[str]) -> list[str]:
    """Make labels distinct by appending non-breaking spaces (invisible) to repeats.

    forestplot places rows on a categorical axis keyed by the label text, so two equal labels
    would be drawn on top of each other.
    """
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        count = seen.get(label, 0)
        seen[label] = count + 1
        out.append(label + _NBSP * count)
    return out


def _marker_areas(weights: Sequence[float]) -> list[float]:
    """Marker areas proportional to the weights (display scaling only)."""
    w = np.asarray(weights, dtype=float)
    top = float(np.nanmax(w)) if len(w) and np.nanmax(w) > 0 else 1.0
    return [max(_MIN_MARKER_AREA, _MAX_MARKER_AREA * float(x) / top) for x in w]


# --------------------------------------------------------------------------- result reading


def _check_result(result: Any, what: str = "result") -> pd.DataFrame:
    """Check a MetaPropResult-like object and return its studies frame."""
    st.require_attributes(result, RESULT_ATTRIBUTES, what)
    studies = result.studies
    st.require_columns(studies, STUDY_COLUMNS, f"{what}.studies")
    if len(studies) == 0:
        msg = f"{what}.studies has no rows: there is nothing to plot"
        raise ValueError(msg)
    if int(result.k) != len(studies):
        msg = f"{what}.k is {result.k} but {what}.studies has {len(studies)} rows"
        raise ValueError(msg)
    for row in studies.itertuples(index=False):
        st.check_interval(row.proportion, row.ci_lower, row.ci_upper, f"study {row.label!r}")
        if not (
            isinstance(row.weight, numbers.Real) and math.isfinite(row.weight) and row.weight >= 0
        ):
            msg = f"study {row.label!r}: weight must be a non-negative number (got {row.weight!r})"
            raise ValueError(msg)
    if int(result.k) >= 2:
        st.check_interval(result.estimate, result.ci_lower, result.ci_upper, f"{what} (pooled)")
        st.check_interval(result.estimate, result.pi_lower, result.pi_upper, f"{what} (prediction)")
    return studies


def _model_label(result: Any) -> str:
    method = str(getattr(result, "tau2_estimator", None) or result.method).upper()
    if method == "EXACT":
        return "Exact interval of the summed counts (no model)"
    if method == "EE":
        return "Common-effect model"
    if method in ("BAYES", "BAYES_BN"):
        return "Bayesian random-effects model"
    if method == "GLMM":
        return "Random-effects model (GLMM)"
    return "Random-effects model"


def _heterogeneity_text(result: Any, min_k: int = MIN_K_HETEROGENEITY) -> str:
    """``tau^2 = 0.53; I^2 = 73% [40%, 88%]; Q = 48.33 (df = 13), p < 0.001`` from the result's numbers.

    With fewer than ``min_k`` studies (the plan's ``few_studies.min_studies_heterogeneity``) heterogeneity
    cannot be estimated and the words say so, with no statistic. Otherwise tau², I² with its interval
    from the same model (:func:`analysis.evidence.fewstudies.i2_interval`; a result-like object without
    what the interval needs gets no I²) and the model's own test: the likelihood-ratio test for the GLMM,
    Cochran's Q otherwise, none for a Bayesian model.
    """
    from analysis.evidence.fewstudies import i2_interval

    k = int(result.k)
    if k < min_k:
        return f"cannot be estimated from {k} studies (at least {min_k} needed)"
    i2 = ""
    try:
        bounds = i2_interval(result)
    except (AttributeError, TypeError):
        bounds = None
    if bounds is not None:
        i2 = f"I\u00b2 = {st.fmt_pct(result.i2)} [{st.fmt_pct(bounds[0])}, {st.fmt_pct(bounds[1])}]; "
    df = "" if result.q_df is None else f" (df = {int(result.q_df)})"
    method = str(result.method).upper()
    if method in ("BAYES", "BAYES_BN"):
        test = ""
    elif method == "GLMM" and getattr(result, "lrt", None) is not None:
        test = f"LRT = {st.fmt_num(result.lrt, 2)}{df}, {st.fmt_p(result.lrt_pvalue)}"
    else:
        test = f"Q = {st.fmt_num(result.q, 2)}{df}, {st.fmt_p(result.q_pvalue)}"
    return f"\u03c4\u00b2 = {st.fmt_num(result.tau2, 3)}; {i2}{test}".rstrip("; ")


def _model_text(result: Any) -> str:
    """One line naming the model, transformation and interval methods (formatting only)."""
    lvl = st.level_pct(result.level)
    method = str(getattr(result, "tau2_estimator", None) or result.method).upper()
    if method == "EXACT":
        return (f"No model: proportion of the summed counts; {lvl} CI: exact (Clopper-Pearson)")
    model = {
        "EE": "common effect",
        "GLMM": "binomial-normal GLMM",
        "BAYES": "Bayesian normal-normal",
        "BAYES_BN": "Bayesian binomial-normal",
    }
    if method in ("BAYES", "BAYES_BN"):
        interval = f"{lvl} credible interval: equal-tailed posterior interval"
    else:
        interval = f"{lvl} CI: {_CI_METHODS.get(str(result.ci).lower(), str(result.ci))}"
    parts = [
        f"Model: {model.get(method, f'random effects, {method} estimator of τ²')}",
        _MEASURES.get(str(result.measure).upper(), f"measure {result.measure}"),
        interval,
    ]
    return "; ".join(parts)


def _study_rows(studies: pd.DataFrame, max_label_chars: int | None, indent: str = "") -> list[_Row]:
    """Table rows of the studies; a lone study gets no weight (it is not pooled)."""
    single = len(studies) == 1
    areas = [_MAX_MARKER_AREA / 2] if single else _marker_areas(studies["weight"].tolist())
    rows = []
    for area, s in zip(areas, studies.itertuples(index=False), strict=True):
        rows.append(
            _Row(
                label=indent + _short(s.label, max_label_chars),
                kind="study",
                cells={
                    "events": f"{int(s.events)}/{int(s.n)}",
                    "est": st.fmt_est_ci(s.proportion, s.ci_lower, s.ci_upper),
                    "weight": "" if single else f"{float(s.weight):.1f}%",
                },
                estimate=float(s.proportion),
                lower=float(s.ci_lower),
                upper=float(s.ci_upper),
                area=area,
            )
        )
    return rows


def _pooled_rows(result: Any, label: str, with_pi: bool, indent: str = "") -> list[_Row]:
    rows = [
        _Row(
            label=indent + label,
            kind="pooled",
            cells={
                "events": f"{int(result.total_events)}/{int(result.total_n)}",
                "est": st.fmt_est_ci(result.estimate, result.ci_lower, result.ci_upper),
                "weight": "100%",
            },
            estimate=float(result.estimate),
            lower=float(result.ci_lower),
            upper=float(result.ci_upper),
            bold=True,
        )
    ]
    if with_pi:
        rows.append(
            _Row(
                label=indent + "Prediction interval",
                kind="pi",
                cells={"est": st.fmt_ci(result.pi_lower, result.pi_upper)},
                lower=float(result.pi_lower),
                upper=float(result.pi_upper),
            )
        )
    return rows


# --------------------------------------------------------------------------- drawing


@dataclass
class _Column:
    key: str
    header: str
    side: str  # "left" or "right"


def _draw(
    rows: list[_Row],
    columns: list[_Column],
    *,
    label_header: str,
    xlabel: str,
    title: str | None,
    footer: list[str],
    pooled_line: float | None = None,
) -> Figure:
    """Draw the table and intervals with forestplot, then add markers, diamonds and text."""
    labels = _unique_labels([r.label for r in rows])
    frame = pd.DataFrame(
        {
            "_label": labels,
            "_est": [r.estimate if r.kind in ("study", "point") else math.nan for r in rows],
            "_lo": [r.lower if r.kind in ("study", "point") else math.nan for r in rows],
            "_hi": [r.upper if r.kind in ("study", "point") else math.nan for r in rows],
            "_row": list(range(len(rows))),
        }
    )
    for col in columns:
        frame[col.key] = [r.cells.get(col.key, "") for r in rows]
    left = [c for c in columns if c.side == "left"]
    right = [c for c in columns if c.side == "right"]

    with st.style():
        # Fixed inches per row whatever the number of rows: the axes is placed by hand.
        units = len(rows) + 1 + 0.35  # rows, the header row and forestplot's margins
        bottom, top = 0.8, 0.5
        height = units * _ROW_HEIGHT + bottom + top
        # forestplot pads tick labels by their width in pixels but matplotlib reads the pad in
        # points; near 72 dpi the two nearly agree, so the table sits next to the panel with a
        # small gap (about 8% of the table width) instead of an empty band (dpi reset later).
        fig = st.new_figure(_PLOT_WIDTH, height, dpi=78)
        ax = fig.add_axes((0.0, bottom / height, 1.0, units * _ROW_HEIGHT / height))
        fp = _forestplot_module()
        with warnings.catch_warnings():
            # forestplot labels the categorical y axis with set_yticklabels, which matplotlib
            # flags because the ticks are not fixed; the categories are fixed, so it is benign.
            warnings.filterwarnings(
                "ignore", message=r"set_ticklabels\(\) should only be used", category=UserWarning
            )
            out, ax = fp.forestplot(
                frame,
                estimate="_est",
                ll="_lo",
                hl="_hi",
                varlabel="_label",
                annote=[c.key for c in left] or None,
                annoteheaders=[c.header for c in left] or None,
                rightannote=[c.key for c in right] or None,
                right_annoteheaders=[c.header for c in right] or None,
                ci_report=False,
                variable_header=label_header,
                xlabel=xlabel,
                xticks=_XTICKS,
                xlim=_XLIM,
                xline=None,
                markersize=0,
                markeralpha=0,
                linecolor=st.INK,
                lw=1.3,
                fontsize=st.FONT_SIZE - 1,
                xtick_size=st.FONT_SIZE - 1,
                xlabel_size=st.FONT_SIZE,
                table=True,
                color_alt_rows=True,
                return_df=True,
                ax=ax,
            )
        ypos = _row_positions(ax, out, len(rows))
        _draw_markers(ax, rows, ypos)
        _draw_pooled(ax, rows, ypos)
        if pooled_line is not None:
            study_y = [ypos[i] for i, r in enumerate(rows) if r.kind in ("study", "point")]
            if study_y:
                ax.vlines(
                    pooled_line,
                    min(study_y) - 0.5,
                    max(study_y) + 0.5,
                    colors=st.POOLED,
                    linestyles=(0, (2, 3)),
                    linewidth=0.9,
                    zorder=1,
                    gid="pooled-line",
                )
        _embolden(ax, out, rows)
        _add_title_and_footer(fig, ax, title, footer, table_top=len(out) - 0.4)
    return st.release(fig)


def _row_positions(ax: Axes, out: pd.DataFrame, n: int) -> dict[int, float]:
    """y position (data coordinates) of each row, found through forestplot's returned frame."""
    ypos: dict[int, float] = {}
    for _, rec in out.iterrows():
        row = rec.get("_row")
        if row is None or (isinstance(row, float) and math.isnan(row)):
            continue  # the header row
        ypos[int(row)] = float(np.asarray(ax.yaxis.convert_units(rec["yticklabel"])).item())
    if len(ypos) != n or len(set(ypos.values())) != n:
        msg = "forest plot rows collided on the y axis (forestplot keys rows by label text)"
        raise RuntimeError(msg)
    return ypos


def _draw_markers(ax: Axes, rows: list[_Row], ypos: dict[int, float]) -> None:
    idx = [i for i, r in enumerate(rows) if r.kind in ("study", "point")]
    if not idx:
        return
    squares = [i for i in idx if rows[i].kind == "study"]
    points = [i for i in idx if rows[i].kind == "point"]
    if squares:
        ax.scatter(
            [rows[i].estimate for i in squares],
            [ypos[i] for i in squares],
            s=[rows[i].area for i in squares],
            marker="s",
            color=st.INK,
            zorder=3,
            clip_on=False,
            gid="study-markers",
        )
    if points:
        ax.scatter(
            [rows[i].estimate for i in points],
            [ypos[i] for i in points],
            s=36,
            marker="o",
            color=st.INK,
            zorder=3,
            clip_on=False,
            gid="study-markers",
        )


def _draw_pooled(ax: Axes, rows: list[_Row], ypos: dict[int, float]) -> None:
    h = _DIAMOND_HALF_HEIGHT
    for i, r in enumerate(rows):
        y = ypos[i]
        if r.kind == "pooled":
            diamond = Polygon(
                [(r.lower, y), (r.estimate, y + h), (r.upper, y), (r.estimate, y - h)],
                closed=True,
                facecolor=st.POOLED,
                edgecolor=st.POOLED,
                linewidth=0.8,
                zorder=3,
                clip_on=False,
                gid="pooled-diamond",
            )
            ax.add_patch(diamond)
        elif r.kind == "pi":
            ax.add_line(
                Line2D(
                    [r.lower, r.upper],
                    [y, y],
                    color=st.PREDICTION,
                    linewidth=3.0,
                    solid_capstyle="butt",
                    zorder=3,
                    clip_on=False,
                    gid="prediction-interval",
                )
            )
            for x in (r.lower, r.upper):
                ax.add_line(
                    Line2D(
                        [x, x], [y - 0.22, y + 0.22], color=st.PREDICTION, linewidth=1.4, zorder=3
                    )
                )


def _embolden(ax: Axes, out: pd.DataFrame, rows: list[_Row]) -> None:
    """Set bold type on the table text of header and pooled rows (left and right columns)."""
    bold_labels = set()
    for _, rec in out.iterrows():
        row = rec.get("_row")
        if row is None or (isinstance(row, float) and math.isnan(row)):
            continue
        if rows[int(row)].bold:
            bold_labels.add(rec["yticklabel"])
    bold_y = {float(np.asarray(ax.yaxis.convert_units(lab)).item()) for lab in bold_labels}
    for tick in ax.get_yticklabels():
        if tick.get_text() in bold_labels:
            tick.set_fontweight("bold")
    for text in ax.texts:
        y = text.get_position()[1]
        if isinstance(y, str):
            y = float(np.asarray(ax.yaxis.convert_units(y)).item())
        if float(y) in bold_y:
            text.set_fontweight("bold")


def _add_title_and_footer(
    fig: Figure, ax: Axes, title: str | None, footer: list[str], table_top: float
) -> None:
    """Place the title above the table and footer lines under the x-axis label, left-aligned."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    inv = ax.transAxes.inverted()
    left_px = min(t.get_window_extent(renderer).x0 for t in ax.get_yticklabels())
    x = float(inv.transform((left_px, 0.0))[0])
    if title:
        ax.annotate(
            title,
            xy=(x, table_top),
            xycoords=("axes fraction", "data"),  # above forestplot's top table rule
            xytext=(0, 10),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize=st.FONT_SIZE + 2,
            fontweight="bold",
            annotation_clip=False,
        )
    if footer:
        label_bottom = ax.xaxis.label.get_window_extent(renderer).y0
        y = float(inv.transform((0.0, label_bottom))[1])
        ax.annotate(
            "\n".join(footer),
            xy=(x, y),
            xycoords="axes fraction",
            xytext=(0, -8),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=st.FONT_SIZE - 1,
            color=st.MUTED,
            linespacing=1.5,
            annotation_clip=False,
            gid="forest-footer",
        )


# --------------------------------------------------------------------------- public figures


def forest_plot(
    result: Any,
    *,
    title: str | None = None,
    xlabel: str = "Proportion",
    show_weights: bool = True,
    subgroup: str | None = None,
    max_label_chars: int | None = 40,
    min_studies_heterogeneity: int = MIN_K_HETEROGENEITY,
) -> Figure:
    """Forest plot of one meta-analysis of proportions.

    One row per study (events/N, proportion with its confidence interval, weight in percent,
    a square whose area is proportional to the weight), then the pooled estimate as a diamond
    spanning its confidence interval, the prediction interval as a bar on its own row, and
    footer lines with the heterogeneity statistics (tau^2, I^2, Q with its p-value) and the
    model. With ``k = 1`` the single study is drawn alone: no diamond, no prediction interval
    and no heterogeneity, because one study is not pooled.

    Parameters
    ----------
    result : MetaPropResult-like
        Object with the attributes listed in :data:`RESULT_ATTRIBUTES` (the engine's
        ``analysis.engine.results.MetaPropResult``); proportions on the display scale.
    title : str, optional
        Printed above the table.
    xlabel : str, default "Proportion"
        Label of the x axis, which always runs from 0 to 1.
    show_weights : bool, default True
        Show the weight column (never shown for a single study, which has no weight).
    subgroup : str, optional
        Name of the subgroup this result belongs to; shown in the pooled row's label.
    max_label_chars : int or None, default 40
        Study labels longer than this are shortened with an ellipsis (the alt text keeps them
        whole). ``None`` keeps them whole.
    min_studies_heterogeneity : int, default 5
        Fewest studies from which heterogeneity (and so the prediction interval) is estimated; with
        fewer the footer says it cannot be estimated (the plan's ``few_studies.min_studies_heterogeneity``).

    Returns
    -------
    matplotlib.figure.Figure
        Not registered with pyplot; save it with :func:`analysis.book.plots.save_figure`.

    Raises
    ------
    TypeError
        ``result`` lacks a required attribute (all missing names are listed).
    ValueError
        A study or pooled value is outside [0, 1] or outside its interval (the study label and
        value are named), or ``k`` disagrees with the number of study rows.
    """
    studies = _check_result(result)
    lvl = st.level_pct(result.level)
    rows = _study_rows(studies, max_label_chars)
    footer: list[str]
    pooled_line = None
    if int(result.k) >= 2:
        label = _model_label(result) if subgroup is None else f"{_model_label(result)}: {subgroup}"
        # a common-effect model has no between-study variance, so no prediction interval
        with_pi = shows_prediction_interval(result, min_k_heterogeneity=min_studies_heterogeneity)
        rows += _pooled_rows(result, label, with_pi=with_pi)
        footer = [f"Heterogeneity: {_heterogeneity_text(result, min_studies_heterogeneity)}", _model_text(result)]
        pooled_line = float(result.estimate)
    else:
        footer = ["A single study: its own result is shown; nothing is pooled."]
    columns = [
        _Column("events", "Events/N", "left"),
        _Column("est", f"Proportion [{lvl} CI]", "right"),
    ]
    if show_weights and int(result.k) >= 2:
        columns.append(_Column("weight", "Weight", "right"))
    return _draw(
        rows,
        columns,
        label_header="Study",
        xlabel=xlabel,
        title=title,
        footer=footer,
        pooled_line=pooled_line,
    )


def forest_plot_alt_text(
    result: Any, *, title: str | None = None, outcome: str | None = None,
    min_studies_heterogeneity: int = MIN_K_HETEROGENEITY,
) -> str:
    """Alt text for :func:`forest_plot`: what is shown, k, participants, and the pooled numbers.

    Parameters
    ----------
    result : MetaPropResult-like
        The same object passed to :func:`forest_plot`.
    title : str, optional
        Opening words (for example the outcome), used as given.
    outcome : str, optional
        Name of the proportion (for example "neutrophil recovery").
    """
    studies = _check_result(result)
    lvl = st.level_pct(result.level)
    what = f" of {outcome}" if outcome else ""
    head = f"{title}. " if title else ""
    k = int(result.k)
    labels = "; ".join(
        f"{s.label} {int(s.events)}/{int(s.n)} ({st.fmt_num(s.proportion)})"
        for s in studies.itertuples(index=False)
    )
    if k == 1:
        s = studies.iloc[0]  # the figure shows the study row, with the study's own interval
        return (
            f"{head}Forest plot{what} with k = 1 study ({int(result.total_n)} patients): "
            f"{labels}, {lvl} CI {st.fmt_num(s['ci_lower'])} to {st.fmt_num(s['ci_upper'])}. "
            "A single study is shown alone; no pooled estimate."
        )
    return (
        f"{head}Forest plot{what} with k = {k} studies ({int(result.total_n)} patients, "
        f"{int(result.total_events)} events). Studies: {labels}. "
        f"Pooled proportion {st.fmt_num(result.estimate)} "
        f"({lvl} CI {st.fmt_num(result.ci_lower)} to {st.fmt_num(result.ci_upper)}); "
        + (f"{lvl} prediction interval {st.fmt_num(result.pi_lower)} to {st.fmt_num(result.pi_upper)}. "
           if shows_prediction_interval(result, min_k_heterogeneity=min_studies_heterogeneity)
           else f"no prediction interval: {no_prediction_reason(result, min_k_heterogeneity=min_studies_heterogeneity)}. ")
        + f"Heterogeneity: {_heterogeneity_text(result, min_studies_heterogeneity)}."
    )


def forest_plot_subgroups(
    results: Mapping[str, Any],
    *,
    between_text: str | None = None,
    overall: Any | None = None,
    title: str | None = None,
    xlabel: str = "Proportion",
    show_weights: bool = True,
    max_label_chars: int | None = 40,
    min_studies_heterogeneity: int = MIN_K_HETEROGENEITY,
) -> Figure:
    """Forest plot with studies grouped by subgroup, a diamond per subgroup with k >= 2.

    Each group gets a bold heading, its studies (weights are within the group, as computed by
    the engine for that group's result) and, when it has at least two studies, a subtotal
    diamond; a group with one study shows that study only and says so in the footer. The footer
    lists each group's heterogeneity and prediction interval and then ``between_text`` (the
    test for subgroup differences, formatted by the caller).

    Parameters
    ----------
    results : mapping of str to MetaPropResult-like
        Group name -> that group's result, in display order.
    between_text : str, optional
        Text of the between-subgroup test, printed as given.
    overall : MetaPropResult-like, optional
        The overall result; adds an overall diamond and prediction interval at the bottom.
    title, xlabel, show_weights, max_label_chars
        As in :func:`forest_plot`.
    """
    if not results:
        msg = "forest_plot_subgroups needs at least one group (got an empty mapping)"
        raise ValueError(msg)
    rows: list[_Row] = []
    footer: list[str] = []
    level = None
    for name, res in results.items():
        studies = _check_result(res, f"group {name!r}")
        level = res.level if level is None else level
        rows.append(_Row(label=str(name), kind="header", bold=True))
        rows += _study_rows(studies, max_label_chars, indent="  ")
        if int(res.k) >= 2:
            rows += _pooled_rows(res, f"Subtotal (k = {int(res.k)})", with_pi=False, indent="  ")
            pi = (f"; {st.level_pct(res.level)} PI {st.fmt_ci(res.pi_lower, res.pi_upper)}"
                  if shows_prediction_interval(res, min_k_heterogeneity=min_studies_heterogeneity)
                  else f"; no PI: {no_prediction_reason(res, min_k_heterogeneity=min_studies_heterogeneity)}")
            footer.append(f"{name}: {_heterogeneity_text(res, min_studies_heterogeneity)}{pi}")
        else:
            footer.append(f"{name}: a single study, not pooled")
    pooled_line = None
    if overall is not None:
        _check_result(overall, "overall")
        if int(overall.k) >= 2:
            with_pi = shows_prediction_interval(overall, min_k_heterogeneity=min_studies_heterogeneity)
            rows += _pooled_rows(overall, f"Overall: {_model_label(overall)}", with_pi=with_pi)
            footer.append(f"Overall: {_heterogeneity_text(overall, min_studies_heterogeneity)}")
            pooled_line = float(overall.estimate)
    if between_text:
        footer.append(between_text)
    first = next(iter(results.values()))
    footer.append(_model_text(first))
    columns = [
        _Column("events", "Events/N", "left"),
        _Column("est", f"Proportion [{st.level_pct(level)} CI]", "right"),
    ]
    if show_weights:
        columns.append(_Column("weight", "Weight", "right"))
    return _draw(
        rows,
        columns,
        label_header="Study",
        xlabel=xlabel,
        title=title,
        footer=footer,
        pooled_line=pooled_line,
    )


def forest_plot_subgroups_alt_text(
    results: Mapping[str, Any], *, between_text: str | None = None, outcome: str | None = None
) -> str:
    """Alt text for :func:`forest_plot_subgroups`: each group's k and pooled numbers."""
    parts = []
    for name, res in results.items():
        _check_result(res, f"group {name!r}")
        lvl = st.level_pct(res.level)
        if int(res.k) >= 2:
            parts.append(
                f"{name}: k = {int(res.k)}, pooled proportion {st.fmt_num(res.estimate)} "
                f"({lvl} CI {st.fmt_num(res.ci_lower)} to {st.fmt_num(res.ci_upper)})"
            )
        else:
            s = res.studies.iloc[0]
            parts.append(
                f"{name}: k = 1, single study {s['label']} {int(s['events'])}/{int(s['n'])} "
                f"({st.fmt_num(s['proportion'])}), not pooled"
            )
    what = f" of {outcome}" if outcome else ""
    tail = f" {between_text}." if between_text else ""
    return f"Subgroup forest plot{what}. " + "; ".join(parts) + "." + tail


def _interval_rows(df: pd.DataFrame, what: str, max_label_chars: int | None) -> list[_Row]:
    st.require_columns(df, INTERVAL_COLUMNS, what)
    if len(df) == 0:
        msg = f"{what} has no rows: there is nothing to plot"
        raise ValueError(msg)
    rows = []
    for rec in df.to_dict("records"):
        st.check_interval(
            rec["estimate"], rec["ci_lower"], rec["ci_upper"], f"{what} row {rec['label']!r}"
        )
        cells = {"est": st.fmt_est_ci(rec["estimate"], rec["ci_lower"], rec["ci_upper"])}
        if "k" in rec:
            cells["k"] = str(int(rec["k"]))
        if "i2" in rec:  # heterogeneity is not estimable from few studies: no number then
            few = "k" in rec and int(rec["k"]) < MIN_K_HETEROGENEITY
            cells["i2"] = "n.e." if few or pd.isna(rec["i2"]) else st.fmt_pct(rec["i2"])
        rows.append(
            _Row(
                label=_short(rec["label"], max_label_chars),
                kind="point",
                cells=cells,
                estimate=float(rec["estimate"]),
                lower=float(rec["ci_lower"]),
                upper=float(rec["ci_upper"]),
            )
        )
    return rows


def _interval_plot(
    df: pd.DataFrame,
    *,
    what: str,
    label_header: str,
    overall: Any | None,
    title: str | None,
    xlabel: str,
    level: float,
    note: str,
    max_label_chars: int | None,
) -> Figure:
    rows = _interval_rows(df, what, max_label_chars)
    footer = [note]
    pooled_line = None
    if overall is not None:
        _check_result(overall, "overall")
        level = overall.level
        if int(overall.k) >= 2:
            rows += _pooled_rows(overall, f"All studies: {_model_label(overall)}", with_pi=False)
            pooled_line = float(overall.estimate)
            footer.append(_model_text(overall))
    columns = []
    if "k" in df.columns:
        columns.append(_Column("k", "k", "left"))
    columns.append(_Column("est", f"Proportion [{st.level_pct(level)} CI]", "right"))
    if "i2" in df.columns:
        columns.append(_Column("i2", "I\u00b2", "right"))
    return _draw(
        rows,
        columns,
        label_header=label_header,
        xlabel=xlabel,
        title=title,
        footer=footer,
        pooled_line=pooled_line,
    )


def leave_one_out_plot(
    df: pd.DataFrame,
    *,
    overall: Any | None = None,
    title: str | None = None,
    xlabel: str = "Proportion",
    level: float = 0.95,
    max_label_chars: int | None = 40,
) -> Figure:
    """Leave-one-out plot: the pooled estimate with each study omitted in turn.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per omitted study with columns ``label`` (the omitted study), ``estimate``,
        ``ci_lower``, ``ci_upper``; optional ``k`` and ``i2`` (percent) are shown when present.
    overall : MetaPropResult-like, optional
        The analysis with all studies; drawn as a diamond and a dotted reference line.
    level : float, default 0.95
        Confidence level of the intervals in ``df`` (for the column header; taken from
        ``overall`` when given).
    title, xlabel, max_label_chars
        As in :func:`forest_plot`.
    """
    return _interval_plot(
        df,
        what="leave-one-out table",
        label_header="Study omitted",
        overall=overall,
        title=title,
        xlabel=xlabel,
        level=level,
        note="Each row: the pooled estimate without the study named.",
        max_label_chars=max_label_chars,
    )


def cumulative_plot(
    df: pd.DataFrame,
    *,
    overall: Any | None = None,
    title: str | None = None,
    xlabel: str = "Proportion",
    level: float = 0.95,
    max_label_chars: int | None = 40,
) -> Figure:
    """Cumulative meta-analysis plot: the pooled estimate as studies are added in order.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per step, in the order the studies were added, with columns ``label`` (the study
        added at that step), ``estimate``, ``ci_lower``, ``ci_upper``; optional ``k`` and ``i2``.
    overall, title, xlabel, level, max_label_chars
        As in :func:`leave_one_out_plot`.
    """
    return _interval_plot(
        df,
        what="cumulative table",
        label_header="Study added",
        overall=overall,
        title=title,
        xlabel=xlabel,
        level=level,
        note="Each row: the pooled estimate of all studies up to and including the one named.",
        max_label_chars=max_label_chars,
    )


def _interval_alt_text(df: pd.DataFrame, what: str, intro: str) -> str:
    st.require_columns(df, INTERVAL_COLUMNS, what)
    if len(df) == 0:
        msg = f"{what} has no rows"
        raise ValueError(msg)
    est = df["estimate"].astype(float)
    lo_row = df.loc[est.idxmin()]
    hi_row = df.loc[est.idxmax()]
    return (
        f"{intro} with {len(df)} rows. Estimates range from {st.fmt_num(lo_row['estimate'])} "
        f"({lo_row['label']}) to {st.fmt_num(hi_row['estimate'])} ({hi_row['label']})."
    )


def leave_one_out_plot_alt_text(df: pd.DataFrame) -> str:
    """Alt text for :func:`leave_one_out_plot`: rows and the range of the estimates."""
    return _interval_alt_text(
        df,
        "leave-one-out table",
        "Leave-one-out plot (pooled proportion omitting each study in turn)",
    )


def cumulative_plot_alt_text(df: pd.DataFrame) -> str:
    """Alt text for :func:`cumulative_plot`: steps, first and last estimate."""
    st.require_columns(df, INTERVAL_COLUMNS, "cumulative table")
    if len(df) == 0:
        msg = "cumulative table has no rows"
        raise ValueError(msg)
    first, last = df.iloc[0], df.iloc[-1]
    return (
        f"Cumulative meta-analysis plot with {len(df)} steps, from {first['label']} "
        f"({st.fmt_num(first['estimate'])}) to {last['label']} ({st.fmt_num(last['estimate'])}, "
        f"CI {st.fmt_num(last['ci_lower'])} to {st.fmt_num(last['ci_upper'])})."
    )


def study_plot(
    studies: pd.DataFrame,
    *,
    xlabel: str = "Proportion",
    note: str = "Not pooled.",
    title: str | None = None,
    max_label_chars: int | None = 40,
) -> Figure:
    """Forest plot of studies that are not pooled: each study's proportion with its own interval.

    For an outcome with one study, or with studies the few-study rules do not pool: no
    diamond, no weights, no prediction interval and no heterogeneity line; ``note`` (the reason)
    is the footer.

    Parameters
    ----------
    studies : pandas.DataFrame
        Columns ``label, events, n, proportion, ci_lower, ci_upper`` (for example
        :func:`analysis.evidence.fewstudies.exact_studies`).
    """
    st.require_columns(studies, ("label", "events", "n", "proportion", "ci_lower", "ci_upper"),
                       "studies")
    if len(studies) == 0:
        msg = "studies has no rows: there is nothing to plot"
        raise ValueError(msg)
    for row in studies.itertuples(index=False):
        st.check_interval(row.proportion, row.ci_lower, row.ci_upper, f"study {row.label!r}")
    lvl = "95%"
    rows = _study_rows(studies.assign(weight=1.0) if len(studies) > 1 else studies.assign(weight=0.0),
                       max_label_chars)
    for r in rows:
        r.cells["weight"] = ""
    columns = [_Column("events", "Events/N", "left"), _Column("est", f"Proportion [{lvl} CI]", "right")]
    return _draw(rows, columns, label_header="Study", xlabel=xlabel, title=title, footer=[note])


def study_plot_alt_text(studies: pd.DataFrame, *, outcome: str | None = None, note: str = "Not pooled.") -> str:
    """Alt text for :func:`study_plot`: each study's numbers and why nothing is pooled."""
    what = f" of {outcome}" if outcome else ""
    listed = "; ".join(
        f"{s.label} {int(s.events)}/{int(s.n)} ({st.fmt_num(s.proportion)}, 95% CI {st.fmt_num(s.ci_lower)} to "
        f"{st.fmt_num(s.ci_upper)})" for s in studies.itertuples(index=False))
    return f"Forest plot{what} with {len(studies)} {'study' if len(studies) == 1 else 'studies'}, not pooled: {listed}. {note}"
