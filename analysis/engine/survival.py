"""Kaplan-Meier estimator with Greenwood confidence intervals and the median time.

Pure functions on arrays; no I/O. Used for time to recovery after a stem cell boost when
individual patient data are available (the "event" is then recovery, and the
cumulative proportion recovered is ``1 - survival``).

The estimator and its variance follow Kaplan & Meier (1958, J Am Stat Assoc 53:457-481)
and Greenwood's formula (1926); the confidence interval types and the median rule follow
R's ``survival::survfit`` (Therneau & Grambsch 2000), against which the tests check every
number, including boundary cases (one patient, no events, all events, ties, censoring after the
last event, an event last): where the estimate is 0 (or 1 for ``log-log``) the limits are NaN,
as ``survfit``'s NA.

Why not lifelines, the well-kept Python implementation: its current release (0.30.3) requires
``pandas<3.0`` (this project pins pandas 3.1.1, so installing it would downgrade pandas), and it
requires matplotlib, autograd and formulaic, which the engine, installable with numpy, scipy and
pandas alone, must not need. The estimator is about forty lines and matches ``survfit`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm

__all__ = ["KaplanMeier", "kaplan_meier"]

ConfType = Literal["log", "log-log", "plain"]
_TOLERANCE = float(np.finfo(float).eps) ** 0.5  # survfit's tolerance for S(t) == 0.5


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier curve (one row per distinct observed time, as ``survfit``).

    Attributes
    ----------
    time : numpy.ndarray of shape (m,)
        Distinct observed times (events or censorings), increasing.
    n_risk, n_event, n_censor : numpy.ndarray of shape (m,)
        Number at risk just before each time, events and censorings at it.
    survival : numpy.ndarray of shape (m,)
        :math:`\\hat S(t)`, the probability of no event up to and including ``time``.
    std_err : numpy.ndarray of shape (m,)
        Greenwood standard error of :math:`-\\log \\hat S(t)` (``survfit``'s ``std.err``);
        infinite once every patient at risk had the event.
    ci_lower, ci_upper : numpy.ndarray of shape (m,)
        Pointwise confidence limits of :math:`S(t)`; NaN where :math:`\\hat S(t) = 0` (and
        at 1 for ``log-log``), where the chosen transformation is undefined, as in ``survfit``.
    median, median_ci_lower, median_ci_upper : float
        Median time and its confidence limits (Brookmeyer-Crowley, read from the
        pointwise limits); NaN when the curve (or limit) never reaches 0.5.
    level : float
    conf_type : str
    n : int
        Number of patients.
    events : int
        Number of events.
    """

    time: NDArray[np.float64]
    n_risk: NDArray[np.int64]
    n_event: NDArray[np.int64]
    n_censor: NDArray[np.int64]
    survival: NDArray[np.float64]
    std_err: NDArray[np.float64]
    ci_lower: NDArray[np.float64]
    ci_upper: NDArray[np.float64]
    median: float
    median_ci_lower: float
    median_ci_upper: float
    level: float
    conf_type: str
    n: int
    events: int

    @property
    def cumulative_incidence(self) -> NDArray[np.float64]:
        """:math:`1 - \\hat S(t)`: the proportion with the event by each time."""
        return 1.0 - self.survival

    def at(self, t: float) -> float:
        """:math:`\\hat S(t)` at any time ``t`` (a step function, 1 before the first time)."""
        position = np.searchsorted(self.time, t, side="right") - 1
        return 1.0 if position < 0 else float(self.survival[position])


def kaplan_meier(
    time: ArrayLike, event: ArrayLike, *, level: float = 0.95, conf_type: ConfType = "log"
) -> KaplanMeier:
    """Estimate a survival (or time-to-recovery) curve by the Kaplan-Meier method.

    .. math::

        \\hat S(t) = \\prod_{t_j \\le t} \\left(1 - \\frac{d_j}{n_j}\\right), \\qquad
        \\widehat{\\mathrm{se}}\\{-\\log \\hat S(t)\\} =
        \\sqrt{\\sum_{t_j \\le t} \\frac{d_j}{n_j (n_j - d_j)}}

    with :math:`d_j` events and :math:`n_j` patients at risk at time :math:`t_j`
    (Greenwood). Limits, with :math:`z` the normal quantile and :math:`s` that se:
    ``log`` :math:`\\hat S e^{\\pm z s}` (upper capped at 1; ``survfit``'s default);
    ``log-log`` :math:`\\exp\\{-\\exp(\\log(-\\log \\hat S) \\mp z s / \\log \\hat S)\\}`;
    ``plain`` :math:`\\hat S (1 \\pm z s)` clipped to [0, 1]. The median is the first
    time with :math:`\\hat S(t) \\le 0.5`; when the curve is exactly 0.5 over an interval,
    the midpoint of that interval, as ``survfit`` prints it.

    Parameters
    ----------
    time : array_like of shape (n,)
        Time to the event or to censoring (non-negative, finite).
    event : array_like of shape (n,)
        1 (or True) for an event, 0 (or False) for censoring.
    level : float, optional
        Confidence level. Default = 0.95.
    conf_type : {"log", "log-log", "plain"}, optional
        Scale of the pointwise interval. Default = ``"log"`` (as ``survfit``).

    Returns
    -------
    KaplanMeier

    Raises
    ------
    ValueError
        Empty input, lengths that differ, negative or non-finite times, events other
        than 0/1, a level outside (0, 1), an unknown ``conf_type``.
    """
    t, d = _check_inputs(time, event, level, conf_type)
    times, inverse = np.unique(t, return_inverse=True)
    n_event = np.bincount(inverse, weights=d, minlength=times.size).astype(np.int64)
    n_total = np.bincount(inverse, minlength=times.size).astype(np.int64)
    n_risk = t.size - np.concatenate(([0], np.cumsum(n_total)[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        survival = np.cumprod(1.0 - n_event / n_risk)
        terms = np.where(n_event == 0, 0.0, n_event / (n_risk * (n_risk - n_event)))
    std_err = np.sqrt(np.cumsum(terms))
    lower, upper = _limits(survival, std_err, level, conf_type)
    return KaplanMeier(
        time=times.astype(float),
        n_risk=n_risk,
        n_event=n_event,
        n_censor=n_total - n_event,
        survival=survival,
        std_err=std_err,
        ci_lower=lower,
        ci_upper=upper,
        median=_first_below_half(survival, times),
        median_ci_lower=_first_below_half(lower, times),
        median_ci_upper=_first_below_half(upper, times),
        level=level,
        conf_type=conf_type,
        n=int(t.size),
        events=int(d.sum()),
    )


def _check_inputs(
    time: ArrayLike, event: ArrayLike, level: float, conf_type: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    t = np.asarray(time, dtype=float).ravel()
    d = np.asarray(event, dtype=float).ravel()
    if t.size == 0:
        raise ValueError("kaplan_meier needs at least one patient")
    if t.size != d.size:
        raise ValueError(f"time has {t.size} values but event has {d.size}")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        bad = int(np.flatnonzero(~np.isfinite(t) | (t < 0))[0])
        raise ValueError(f"time must be finite and non-negative (position {bad}: {t[bad]})")
    if not np.all(np.isin(d, (0.0, 1.0))):
        bad = int(np.flatnonzero(~np.isin(d, (0.0, 1.0)))[0])
        raise ValueError(f"event must be 0 or 1 (position {bad}: {d[bad]})")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    if conf_type not in ("log", "log-log", "plain"):
        raise ValueError(f"conf_type must be 'log', 'log-log' or 'plain', got {conf_type!r}")
    return t, d


def _limits(
    s: NDArray[np.float64], se: NDArray[np.float64], level: float, conf_type: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    z = float(norm.ppf(1 - (1 - level) / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            half = z * se * s
            lower, upper = np.maximum(s - half, 0.0), np.minimum(s + half, 1.0)
            undefined = ~np.isfinite(half)
        elif conf_type == "log":
            lower, upper = s * np.exp(-z * se), np.minimum(s * np.exp(z * se), 1.0)
            undefined = s == 0
        else:
            shift = z * se / np.log(s)
            lower = np.exp(-np.exp(np.log(-np.log(s)) - shift))
            upper = np.exp(-np.exp(np.log(-np.log(s)) + shift))
            undefined = (s == 0) | (s == 1)
    lower = np.where(undefined, np.nan, lower)
    upper = np.where(undefined, np.nan, upper)
    return lower, upper


def _first_below_half(curve: NDArray[np.float64], times: NDArray[np.float64]) -> float:
    keep = ~np.isnan(curve) & (curve < 0.5 + _TOLERANCE)
    if not keep.any():
        return float("nan")
    y, x = curve[keep], times[keep]
    if abs(y[0] - 0.5) < _TOLERANCE and np.any(y < y[0]):
        return float((x[0] + x[np.flatnonzero(y < y[0])[0]]) / 2)
    return float(x[0])
