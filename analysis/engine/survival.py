"""Kaplan-Meier and Aalen-Johansen estimators with pointwise confidence intervals and median times.

Pure functions on arrays; no I/O. :func:`kaplan_meier` estimates the probability of staying free of
one event (overall survival); :func:`aalen_johansen` estimates the cumulative incidence of an event
of interest when another event (a competing event, such as death before the event of interest)
can prevent it. ``1 - kaplan_meier(...)`` of the event of interest, with the competing events
censored, overstates that incidence: it treats a patient who died as one who could still have the
event later [putter2007].

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

__all__ = ["CumulativeIncidence", "KaplanMeier", "aalen_johansen", "kaplan_meier"]

ConfType = Literal["log", "log-log", "plain"]
_TOLERANCE = float(np.finfo(float).eps) ** 0.5  # survfit's tolerance for S(t) == 0.5
#: A standard error below this is rounding residue of influences that cancel (a true one is at least of
#: the order of 1/n): it is set to 0, and the interval there is undefined.
_ZERO_SE = 1e-12


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
    return _checked("kaplan_meier", time, event, "event", (0.0, 1.0), "0 or 1", level, conf_type)


def _checked(
    who: str, time: ArrayLike, codes: ArrayLike, name: str, allowed: tuple[float, ...], words: str,
    level: float, conf_type: str,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``time`` and the event ``codes`` as flat float arrays, or a ValueError naming the first bad value."""
    t = np.asarray(time, dtype=float).ravel()
    d = np.asarray(codes, dtype=float).ravel()
    if t.size == 0:
        raise ValueError(f"{who} needs at least one patient")
    if t.size != d.size:
        raise ValueError(f"time has {t.size} values but {name} has {d.size}")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        bad = int(np.flatnonzero(~np.isfinite(t) | (t < 0))[0])
        raise ValueError(f"time must be finite and non-negative (position {bad}: {t[bad]})")
    if not np.all(np.isin(d, allowed)):
        bad = int(np.flatnonzero(~np.isin(d, allowed))[0])
        raise ValueError(f"{name} must be {words} (position {bad}: {d[bad]})")
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


# ------------------------------------------------------------------------------ competing risks


@dataclass(frozen=True)
class CumulativeIncidence:
    """Aalen-Johansen cumulative incidence of an event with a competing event (one row per distinct time).

    Attributes
    ----------
    time : numpy.ndarray of shape (m,)
        Distinct observed times (events of either kind or censorings), increasing.
    n_risk : numpy.ndarray of shape (m,)
        Number still free of both events and uncensored just before each time.
    n_event, n_competing, n_censor : numpy.ndarray of shape (m,)
        Events of interest, competing events and censorings at each time.
    incidence : numpy.ndarray of shape (m,)
        :math:`\\hat F_1(t)`, the probability of the event of interest by ``time`` (before any
        competing event).
    std_err : numpy.ndarray of shape (m,)
        Standard error of :math:`\\hat F_1(t)` on the probability scale (infinitesimal jackknife,
        ``survfit``'s ``std.err`` of a multi-state curve).
    ci_lower, ci_upper : numpy.ndarray of shape (m,)
        Pointwise confidence limits of :math:`F_1(t)`; NaN where the transformation is undefined
        (an estimate of 0, or of 1 for ``log-log``) or the standard error is 0 (see
        :func:`aalen_johansen`).
    competing_incidence, competing_std_err, competing_ci_lower, competing_ci_upper : numpy.ndarray
        The same for the competing event, :math:`\\hat F_2(t)`.
    event_free : numpy.ndarray of shape (m,)
        :math:`\\hat S(t) = 1 - \\hat F_1(t) - \\hat F_2(t)`, free of both events (Kaplan-Meier of the
        first event of either kind).
    median, median_ci_lower, median_ci_upper : float
        First time the incidence (or its upper, lower limit) reaches 0.5; NaN when never reached.
    level : float
    conf_type : str
    n : int
        Number of patients.
    events, competing : int
        Number of events of interest and of competing events.
    """

    time: NDArray[np.float64]
    n_risk: NDArray[np.int64]
    n_event: NDArray[np.int64]
    n_competing: NDArray[np.int64]
    n_censor: NDArray[np.int64]
    incidence: NDArray[np.float64]
    std_err: NDArray[np.float64]
    ci_lower: NDArray[np.float64]
    ci_upper: NDArray[np.float64]
    competing_incidence: NDArray[np.float64]
    competing_std_err: NDArray[np.float64]
    competing_ci_lower: NDArray[np.float64]
    competing_ci_upper: NDArray[np.float64]
    event_free: NDArray[np.float64]
    median: float
    median_ci_lower: float
    median_ci_upper: float
    level: float
    conf_type: str
    n: int
    events: int
    competing: int

    def at(self, t: float) -> float:
        """:math:`\\hat F_1(t)` at any time ``t`` (a step function, 0 before the first time)."""
        position = np.searchsorted(self.time, t, side="right") - 1
        return 0.0 if position < 0 else float(self.incidence[position])

    def interval_at(self, t: float) -> tuple[float, float]:
        """The pointwise confidence limits of :math:`F_1(t)` at ``t`` (NaN where undefined)."""
        position = np.searchsorted(self.time, t, side="right") - 1
        if position < 0:
            return float("nan"), float("nan")
        return float(self.ci_lower[position]), float(self.ci_upper[position])

    def estimable_at(self, t: float) -> bool:
        """Whether :math:`\\hat F_1(t)` is known: someone was observed up to ``t``, or everybody had an event."""
        return bool(t <= self.time[-1] or self.event_free[-1] == 0)

    def competing_at(self, t: float) -> float:
        """:math:`\\hat F_2(t)`, the competing event's incidence, at any time ``t``."""
        position = np.searchsorted(self.time, t, side="right") - 1
        return 0.0 if position < 0 else float(self.competing_incidence[position])


def aalen_johansen(
    time: ArrayLike, status: ArrayLike, *, level: float = 0.95, conf_type: ConfType = "log"
) -> CumulativeIncidence:
    """Estimate the cumulative incidence of an event with a competing event (Aalen-Johansen).

    With :math:`n_j` patients at risk just before time :math:`t_j`, :math:`d_{1j}` events of
    interest, :math:`d_{2j}` competing events and :math:`d_j = d_{1j} + d_{2j}`
    [aalen1978] [putter2007]:

    .. math::

        \\hat S(t) = \\prod_{t_j \\le t} \\left(1 - \\frac{d_j}{n_j}\\right), \\qquad
        \\hat F_k(t) = \\sum_{t_j \\le t} \\hat S(t_{j-1}) \\frac{d_{kj}}{n_j}.

    Events of both kinds at the same time share the same :math:`n_j` (no order is assumed between
    them); a censoring at an event time is counted at risk for that event. With no competing
    events :math:`\\hat F_1 = 1 - \\hat S`, the Kaplan-Meier complement.

    Variance: the infinitesimal jackknife [efron1982], as R's ``survfit`` computes it for a
    multi-state curve [therneau2000]: :math:`\\widehat{\\mathrm{var}}\\,\\hat F_k(t) =
    \\sum_i U_{ik}(t)^2`, with :math:`U_{ik}(t) = \\partial \\hat F_k(t) / \\partial w_i` the
    derivative of the estimate with respect to patient :math:`i`'s case weight at 1, obtained by
    differentiating the recursion above (:math:`\\partial (d_{kj}/n_j) / \\partial w_i =
    (dN_{ikj} - Y_{ij} d_{kj}/n_j) / n_j`). Limits on the scale of ``conf_type`` with :math:`z` the
    normal quantile and :math:`s = \\mathrm{se}/\\hat F`: ``log`` :math:`\\hat F e^{\\pm z s}` (upper
    capped at 1; ``survfit``'s default); ``log-log``
    :math:`\\exp\\{-\\exp(\\log(-\\log \\hat F) \\mp z s / \\log \\hat F)\\}`; ``plain``
    :math:`\\hat F \\pm z\\,\\mathrm{se}` clipped to [0, 1]. They equal ``survfit``'s, except
    where the standard error is 0 (the estimate is 0 before the first event, or 1 once every
    patient had the event): ``survfit`` then reports a zero-width interval (or NA for an
    estimate of 0 on the log scales); here both limits are NaN, an undefined band, as the
    Kaplan-Meier limits are where :math:`\\hat S = 0`.

    The median is the first time with :math:`\\hat F_1(t) \\ge 0.5` (the midpoint of the interval
    over which the curve is exactly 0.5, as for :func:`kaplan_meier`); its limits are the first
    times the upper and the lower pointwise limits reach 0.5. NaN when not reached.

    Parameters
    ----------
    time : array_like of shape (n,)
        Time to the first event of either kind, or to censoring (non-negative, finite).
    status : array_like of shape (n,)
        0 censored, 1 the event of interest, 2 a competing event (any event that prevents the event
        of interest from being observed).
    level : float, optional
        Confidence level. Default = 0.95.
    conf_type : {"log", "log-log", "plain"}, optional
        Scale of the pointwise interval. Default = ``"log"`` (as ``survfit``).

    Returns
    -------
    CumulativeIncidence

    Raises
    ------
    ValueError
        Empty input, lengths that differ, negative or non-finite times, a status other than
        0/1/2, a level outside (0, 1), an unknown ``conf_type``.
    """
    t, code = _check_competing(time, status, level, conf_type)
    times, inverse = np.unique(t, return_inverse=True)
    m = times.size
    d1 = np.bincount(inverse, weights=code == 1, minlength=m).astype(np.int64)
    d2 = np.bincount(inverse, weights=code == 2, minlength=m).astype(np.int64)
    total = np.bincount(inverse, minlength=m).astype(np.int64)
    n_risk = t.size - np.concatenate(([0], np.cumsum(total)[:-1]))
    f1, f2, s, se1, se2 = _aalen_johansen_path(inverse, code, d1, d2, n_risk)
    lower1, upper1 = _incidence_limits(f1, se1, level, conf_type)
    lower2, upper2 = _incidence_limits(f2, se2, level, conf_type)
    return CumulativeIncidence(
        time=times.astype(float),
        n_risk=n_risk,
        n_event=d1,
        n_competing=d2,
        n_censor=total - d1 - d2,
        incidence=f1,
        std_err=se1,
        ci_lower=lower1,
        ci_upper=upper1,
        competing_incidence=f2,
        competing_std_err=se2,
        competing_ci_lower=lower2,
        competing_ci_upper=upper2,
        event_free=s,
        median=_first_below_half(1.0 - f1, times),
        median_ci_lower=_first_below_half(1.0 - upper1, times),
        median_ci_upper=_first_below_half(1.0 - lower1, times),
        level=level,
        conf_type=conf_type,
        n=int(t.size),
        events=int(d1.sum()),
        competing=int(d2.sum()),
    )


def _check_competing(
    time: ArrayLike, status: ArrayLike, level: float, conf_type: str
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    t, code = _checked("aalen_johansen", time, status, "status", (0.0, 1.0, 2.0),
                       "0 (censored), 1 (event) or 2 (competing event)", level, conf_type)
    return t, code.astype(np.int64)


def _aalen_johansen_path(
    inverse: NDArray[np.int64], code: NDArray[np.int64], d1: NDArray[np.int64], d2: NDArray[np.int64],
    n_risk: NDArray[np.int64],
) -> tuple[NDArray[np.float64], ...]:
    """F1, F2, S and the infinitesimal-jackknife standard errors of F1 and F2 at each distinct time.

    ``u_s``, ``u_1``, ``u_2`` hold each patient's influence (derivative with respect to the
    patient's weight) on S, F1 and F2 at the current time, updated by the product rule.
    """
    m, n = d1.size, inverse.size
    f1, f2, s = np.zeros(m), np.zeros(m), np.ones(m)
    se1, se2 = np.zeros(m), np.zeros(m)
    u_s, u_1, u_2 = np.zeros(n), np.zeros(n), np.zeros(n)
    s_prev, f1_prev, f2_prev = 1.0, 0.0, 0.0
    for j in range(m):
        if d1[j] + d2[j] > 0:
            at_risk = inverse >= j
            here = inverse == j
            h1, h2 = d1[j] / n_risk[j], d2[j] / n_risk[j]
            dh1 = ((here & (code == 1)) - at_risk * h1) / n_risk[j]
            dh2 = ((here & (code == 2)) - at_risk * h2) / n_risk[j]
            u_1 = u_1 + u_s * h1 + s_prev * dh1
            u_2 = u_2 + u_s * h2 + s_prev * dh2
            u_s = u_s * (1.0 - h1 - h2) - s_prev * (dh1 + dh2)
            f1_prev, f2_prev = f1_prev + s_prev * h1, f2_prev + s_prev * h2
            s_prev = s_prev * (1.0 - h1 - h2)
        f1[j], f2[j], s[j] = f1_prev, f2_prev, s_prev
        se1[j], se2[j] = np.sqrt(np.sum(u_1**2)), np.sqrt(np.sum(u_2**2))
    # influences that cancel exactly (every patient had an event) leave rounding residue: 0; sums of
    # increments that reach 1 may overshoot it by an ulp
    se1[se1 < _ZERO_SE], se2[se2 < _ZERO_SE] = 0.0, 0.0
    return np.minimum(f1, 1.0), np.minimum(f2, 1.0), s, se1, se2


def _incidence_limits(
    p: NDArray[np.float64], se: NDArray[np.float64], level: float, conf_type: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Limits of a probability from its standard error (``survfit_confint`` with ``logse=FALSE``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lower, upper = _limits(p, se / p, level, conf_type)
    undefined = (se == 0) | (p == 0)
    return np.where(undefined, np.nan, lower), np.where(undefined, np.nan, upper)
