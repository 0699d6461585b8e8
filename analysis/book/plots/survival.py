"""Step plot of a survival or cumulative incidence curve (Kaplan-Meier, Aalen-Johansen) with its band.

The estimator lives elsewhere; this module draws the arrays it is given. ``times[i]`` is the
time from which ``survival[i]`` (and ``lower[i]``, ``upper[i]``) holds, up to ``times[i + 1]``
(a right-continuous step function, as ``where="post"``); pass the start of follow-up (time 0,
with survival 1 or incidence 0) as the first element so that the curve starts there.

Artists carry gids: ``"km-curve"``, ``"km-band"``, ``"km-censor"``, ``"km-median"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.book.plots import _style as st

__all__ = ["km_plot", "km_plot_alt_text"]

_TOL = 1e-9


def _arrays(
    times: Sequence[float],
    survival: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    censor_times: Sequence[float] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check the step function and return float arrays (times, survival, lower, upper, censor)."""
    arrays = {}
    for name, values in (
        ("times", times),
        ("survival", survival),
        ("lower", lower),
        ("upper", upper),
    ):
        try:
            arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError) as err:
            msg = f"km_plot: {name} must be numbers ({err})"
            raise ValueError(msg) from None
        if arr.ndim != 1:
            msg = f"km_plot: {name} must be one-dimensional (got shape {arr.shape})"
            raise ValueError(msg)
        arrays[name] = arr
    t, s, lo, hi = arrays["times"], arrays["survival"], arrays["lower"], arrays["upper"]
    if len(t) == 0:
        msg = "km_plot: times is empty: there is no curve to draw"
        raise ValueError(msg)
    for name in ("survival", "lower", "upper"):
        if len(arrays[name]) != len(t):
            msg = f"km_plot: {name} has {len(arrays[name])} values but times has {len(t)}"
            raise ValueError(msg)
    for i in range(len(t)):
        where = f"km_plot: step {i} (time {t[i]:g})"
        if not math.isfinite(t[i]) or t[i] < 0:
            msg = f"{where}: time must be a finite number >= 0"
            raise ValueError(msg)
        if i and t[i] < t[i - 1]:
            msg = f"{where}: times must not decrease (previous time {t[i - 1]:g})"
            raise ValueError(msg)
        if not (math.isfinite(s[i]) and -_TOL <= s[i] <= 1 + _TOL):
            msg = f"{where}: survival must be between 0 and 1 (got {s[i]!r})"
            raise ValueError(msg)
        if math.isnan(lo[i]) and math.isnan(hi[i]):
            continue  # the band is undefined here (survfit's NA where the estimate is 0 or 1)
        for name, arr in (("lower", lo), ("upper", hi)):
            if not (math.isfinite(arr[i]) and -_TOL <= arr[i] <= 1 + _TOL):
                msg = (f"{where}: {name} must be between 0 and 1, or NaN together with "
                       f"{'upper' if name == 'lower' else 'lower'} where the band is undefined "
                       f"(got {arr[i]!r})")
                raise ValueError(msg)
        if not lo[i] - _TOL <= s[i] <= hi[i] + _TOL:
            msg = f"{where}: the band [{lo[i]:g}, {hi[i]:g}] does not contain {s[i]:g}"
            raise ValueError(msg)
    censor = np.asarray([] if censor_times is None else censor_times, dtype=float)
    for c in censor:
        if not math.isfinite(c) or c < t[0]:
            msg = f"km_plot: censoring time {c:g} is before the first time {t[0]:g} or not finite"
            raise ValueError(msg)
    return t, s, lo, hi, censor


def _band_steps(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The band as a post-step fill that stops exactly where it becomes undefined (NaN).

    ``fill_between(step="post", where=...)`` fills between ``x[i]`` and ``x[i+1]`` only when both
    are marked, but in a post step the value at ``x[i]`` holds over that whole interval. So a
    defined step followed by an undefined one is closed by marking the undefined point (with the
    previous limits): the band then runs up to the time where it becomes undefined, and not beyond.
    """
    defined = np.isfinite(lo) & np.isfinite(hi)
    closes = ~defined & np.concatenate(([False], defined[:-1]))
    lo_f, hi_f = lo.copy(), hi.copy()
    previous = np.flatnonzero(closes) - 1
    lo_f[closes], hi_f[closes] = lo[previous], hi[previous]
    drawn = defined | closes
    return np.where(drawn, lo_f, 0.0), np.where(drawn, hi_f, 0.0), drawn


def _step_value(t: np.ndarray, s: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Value of the right-continuous step function (t, s) at the times ``at`` (a lookup)."""
    idx = np.searchsorted(t, at, side="right") - 1
    return s[np.clip(idx, 0, len(s) - 1)]


def km_plot(
    times: Sequence[float],
    survival: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    *,
    censor_times: Sequence[float] | None = None,
    median: float | None = None,
    xlabel: str = "Days",
    ylabel: str = "Probability",
    title: str | None = None,
    at_risk: Mapping[float, int] | None = None,
    level: float = 0.95,
    estimator: str = "Kaplan-Meier",
) -> Figure:
    """Kaplan-Meier (or other step-function estimate's) curve with its pointwise confidence band.

    Parameters
    ----------
    times, survival, lower, upper : sequence of float
        The step function and its band (same length; times non-decreasing; values in [0, 1]).
        For cumulative incidence pass the incidence and its band, and say so in ``ylabel``.
        Where the band is undefined (a Kaplan-Meier estimate of 0 or 1 has no log or log-log
        interval; ``survfit`` reports NA) pass NaN for both limits: no band is drawn there.
    censor_times : sequence of float, optional
        Times of censored observations, marked with ticks on the curve.
    median : float, optional
        Median time (where the curve crosses 0.5), computed by the caller; drawn as dotted
        guide lines and written on the plot. ``None`` or NaN: not reached, and so stated.
    xlabel, ylabel, title : str
    at_risk : mapping of float to int, optional
        Time -> number at risk, printed as a row under the x axis.
    level : float, default 0.95
        Confidence level of the band, for the legend.
    estimator : str, default "Kaplan-Meier"
        Name of the estimator, for the legend (``"Aalen-Johansen"`` for a cumulative incidence
        with a competing event).
    """
    t, s, lo, hi, censor = _arrays(times, survival, lower, upper, censor_times)
    x_max = float(max(t.max(), censor.max() if len(censor) else 0.0))
    # the last value holds until the end of follow-up (the last censoring time)
    t_draw, s_draw, lo_draw, hi_draw = t, s, lo, hi
    if x_max > t[-1]:
        t_draw = np.append(t, x_max)
        s_draw, lo_draw, hi_draw = (np.append(a, a[-1]) for a in (s, lo, hi))
    with st.style():
        extra = 0.5 if at_risk else 0.0
        fig = st.new_figure(6.4, 4.2 + extra)
        ax = fig.add_axes((0.13, (0.75 + extra) / (4.2 + extra), 0.82, 3.0 / (4.2 + extra)))
        band_lo, band_hi, band_on = _band_steps(lo_draw, hi_draw)
        ax.fill_between(
            t_draw,
            band_lo,
            band_hi,
            where=band_on,
            step="post",
            color=st.POOLED,
            alpha=0.18,
            linewidth=0,
            label=f"{st.level_pct(level)} confidence band",
            gid="km-band",
        )
        ax.step(
            t_draw,
            s_draw,
            where="post",
            color=st.POOLED,
            linewidth=2.0,
            label=f"{estimator} estimate",
            gid="km-curve",
        )
        if len(censor):
            ax.plot(
                censor,
                _step_value(t, s, censor),
                linestyle="none",
                marker="|",
                markersize=9,
                markeredgewidth=1.6,
                color=st.INK,
                label="Censored",
                gid="km-censor",
            )
        if median is not None and math.isfinite(median):
            ax.plot(
                [0, median, median],
                [0.5, 0.5, 0],
                color=st.MUTED,
                linestyle=(0, (2, 2)),
                linewidth=1.0,
                gid="km-median",
            )
            late = median > 0.6 * x_max  # label to the left, inside the axes, when the median is late
            ax.annotate(
                f"Median {median:g} {xlabel.lower()}",
                xy=(median, 0.5),
                xytext=(-6, -6) if late else (6, -6),
                textcoords="offset points",
                ha="right" if late else "left",
                va="top",
                fontsize=st.FONT_SIZE - 1,
                color=st.INK,
            )
        elif median is not None:
            ax.text(
                0.98,
                0.04,
                "Median not reached",
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=st.FONT_SIZE - 1,
                color=st.INK,
            )
        ax.set_xlim(0, x_max * 1.03 if x_max > 0 else 1)
        ax.set_ylim(0, 1.02)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", color=st.LIGHT, linewidth=0.7)
        ax.set_axisbelow(True)
        ax.legend(loc="best", fontsize=st.FONT_SIZE - 1.5)
        if title:
            ax.set_title(title, loc="left", pad=10)
        if at_risk:
            _at_risk_row(fig, ax, at_risk)
    return st.release(fig)


def _at_risk_row(fig: Figure, ax: Axes, at_risk: Mapping[float, int]) -> None:
    for time, count in at_risk.items():
        if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
            msg = f"km_plot: number at risk at time {time!r} must be a non-negative integer (got {count!r})"
            raise ValueError(msg)
        ax.annotate(
            str(count),
            xy=(float(time), 0),
            xycoords=("data", "axes fraction"),
            xytext=(0, -64),
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=st.FONT_SIZE - 1.5,
            color=st.INK,
            annotation_clip=False,
        )
    ax.annotate(
        "Number at risk",
        xy=(0, 0),
        xycoords="axes fraction",
        xytext=(0, -46),
        textcoords="offset points",
        ha="left",
        va="top",
        fontsize=st.FONT_SIZE - 1.5,
        color=st.MUTED,
        annotation_clip=False,
    )


def km_plot_alt_text(
    times: Sequence[float],
    survival: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    *,
    censor_times: Sequence[float] | None = None,
    median: float | None = None,
    xlabel: str = "Days",
    ylabel: str = "Probability",
    level: float = 0.95,
    estimator: str = "Kaplan-Meier",
) -> str:
    """Alt text for :func:`km_plot`: start and end of the curve, the median and censoring."""
    t, s, lo, hi, censor = _arrays(times, survival, lower, upper, censor_times)
    unit = xlabel.lower()
    band = (f"{st.level_pct(level)} CI {st.fmt_num(lo[-1])} to {st.fmt_num(hi[-1])}"
            if math.isfinite(lo[-1]) and math.isfinite(hi[-1]) else "confidence interval undefined there")
    text = (
        f"{estimator} plot of {ylabel.lower()} against {unit}, from {st.fmt_num(s[0])} at "
        f"{t[0]:g} to {st.fmt_num(s[-1])} at {t[-1]:g} ({band})."
    )
    if median is not None and math.isfinite(median):
        text += f" Median {median:g} {unit}."
    elif median is not None:
        text += " The median was not reached."
    if len(censor):
        text += f" {len(censor)} censored observation(s) marked."
    return text
