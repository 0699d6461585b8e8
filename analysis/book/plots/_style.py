"""Shared look, number formatting and input checks for the figures in :mod:`analysis.book.plots`.

Nothing here computes a statistic: the helpers only format numbers that the caller (the engine)
computed, pick colours and check that inputs have the shape a figure needs.

Colours are the Okabe-Ito palette, which stays distinguishable under the common forms of colour
vision deficiency; every figure that encodes a category by colour also encodes it by a symbol or
by text, so the figure still reads in greyscale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

#: Okabe-Ito colours (Okabe and Ito 2008), by name.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: Colour of study markers and confidence intervals.
INK = "#1F2933"
#: Colour of pooled estimates (diamonds, pooled lines).
POOLED = OKABE_ITO["blue"]
#: Colour of prediction intervals.
PREDICTION = OKABE_ITO["vermillion"]
#: Light grey used for bands, grid lines and neutral boxes.
LIGHT = "#D9DEE3"
#: Mid grey for secondary text.
MUTED = "#52606D"

#: Base font size in points. Figures are drawn at about the width of a book column (6.5 to 9 in)
#: and read on a phone after scaling, so text is not smaller than this.
FONT_SIZE = 11

_RC = {
    "font.family": "DejaVu Sans",
    "font.size": FONT_SIZE,
    "axes.titlesize": FONT_SIZE + 2,
    "axes.titleweight": "bold",
    "axes.labelsize": FONT_SIZE,
    "xtick.labelsize": FONT_SIZE - 1,
    "ytick.labelsize": FONT_SIZE - 1,
    "legend.fontsize": FONT_SIZE - 1,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "svg.hashsalt": "analysis.book.plots",
}


@contextmanager
def style() -> Iterator[None]:
    """Apply the package's matplotlib settings for the duration of a ``with`` block.

    The settings are restored afterwards, so importing or calling :mod:`analysis.book.plots` never
    changes the caller's global matplotlib state.
    """
    _load_backend()
    with mpl.rc_context(_RC):
        yield


def _load_backend() -> None:
    """Load pyplot's backend now, outside any ``rc_context``.

    pyplot loads its backend lazily, when the first figure is made, and some backends change
    rcParams as they load (Jupyter's inline backend sets 72 dpi, a transparent background and
    10 pt type). Inside :func:`style` that change would apply to the first figure of a session
    only, so the same plot would look different depending on what was drawn before it.
    """
    loader = getattr(plt, "_get_backend_mod", None)  # "private, may be made public" (matplotlib)
    if loader is not None:
        loader()


#: Resolution of figures as returned (notebooks render them at this dpi; files use save_figure's).
DISPLAY_DPI = 150


def new_figure(width: float, height: float, dpi: float = DISPLAY_DPI) -> Figure:
    """Create a figure that pyplot does not keep open.

    Figures are made through :func:`matplotlib.pyplot.figure` (forestplot draws on the current
    figure) and then :func:`release` detaches them, so a notebook does not display a figure
    twice and a long build does not accumulate open figures.
    """
    return plt.figure(figsize=(width, height), dpi=dpi)


def release(fig: Figure) -> Figure:
    """Detach ``fig`` from pyplot's figure manager and return it (it stays drawable and savable).

    The figure's dpi is set to :data:`DISPLAY_DPI` (figures drawn at another dpi keep their
    layout, which is in points and data coordinates).
    """
    fig.set_dpi(DISPLAY_DPI)
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------- number formatting


def fmt_num(x: float, digits: int = 2) -> str:
    """Format a number with a fixed number of decimals; ``"NA"`` for a missing value."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    return f"{float(x):.{digits}f}"


def fmt_ci(lower: float, upper: float, digits: int = 2) -> str:
    """Format an interval as ``"[0.12, 0.34]"``."""
    return f"[{fmt_num(lower, digits)}, {fmt_num(upper, digits)}]"


def fmt_est_ci(estimate: float, lower: float, upper: float, digits: int = 2) -> str:
    """Format an estimate with its interval: ``"0.82 [0.73, 0.89]"``."""
    return f"{fmt_num(estimate, digits)} {fmt_ci(lower, upper, digits)}"


def fmt_p(p: float) -> str:
    """Format a p-value: ``"p < 0.001"`` below 0.001, otherwise three decimals (``"p = 0.012"``)."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "p = NA"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}"


def fmt_pct(x: float, digits: int = 0) -> str:
    """Format a number already on the percent scale: ``73`` -> ``"73%"``."""
    return f"{fmt_num(x, digits)}%"


def level_pct(level: float) -> str:
    """Format a confidence level given as 0.95 or 95 as ``"95%"``."""
    value = level * 100 if level <= 1 else level
    return f"{value:g}%"


# --------------------------------------------------------------------------- input checks


def require_attributes(obj: Any, names: Iterable[str], what: str) -> None:
    """Raise ``TypeError`` naming every attribute of ``names`` that ``obj`` lacks."""
    missing = [name for name in names if not hasattr(obj, name)]
    if missing:
        msg = f"{what} lacks the attribute(s) {', '.join(missing)} (got {type(obj).__name__})"
        raise TypeError(msg)


def require_columns(frame: Any, columns: Sequence[str], what: str) -> None:
    """Raise ``ValueError`` naming every column of ``columns`` missing from ``frame``."""
    if not hasattr(frame, "columns"):
        msg = f"{what} must be a pandas DataFrame (got {type(frame).__name__})"
        raise TypeError(msg)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        msg = f"{what} lacks the column(s) {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}"
        raise ValueError(msg)


def check_unit_interval(value: float, where: str) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite number in [0, 1]; ``where`` names it."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or not -1e-9 <= number <= 1.0 + 1e-9:
        msg = f"{where} must be a number between 0 and 1 (got {value!r})"
        raise ValueError(msg)


def check_interval(estimate: float, lower: float, upper: float, where: str) -> None:
    """Check that ``lower <= estimate <= upper`` on the unit interval; ``where`` names the row."""
    check_unit_interval(estimate, f"{where}: estimate")
    check_unit_interval(lower, f"{where}: lower bound")
    check_unit_interval(upper, f"{where}: upper bound")
    tol = 1e-9  # floating-point slack: a bound computed as 0.99999999999 still contains 1.0
    if not float(lower) - tol <= float(estimate) <= float(upper) + tol:
        msg = f"{where}: the interval [{lower}, {upper}] does not contain the estimate {estimate}"
        raise ValueError(msg)
