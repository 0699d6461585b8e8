"""Heterogeneity statistics: Cochran's Q, I^2 (two definitions), H^2 and a Q-profile CI for tau^2.

Two I^2 definitions are in use and give different numbers on the same data:

* ``i2`` (**ours, the headline**; metafor, Cochrane RevMan since 2025): from the estimated
  :math:`\\tau^2` and the "typical" within-study variance :math:`s^2`
  [higgins2002, viechtbauer2010],

  .. math:: I^2 = 100\\,\\frac{\\hat\\tau^2}{\\hat\\tau^2 + s^2}, \\qquad
            s^2 = \\frac{(k-1)\\sum w_i}{(\\sum w_i)^2 - \\sum w_i^2}, \\quad w_i = 1/v_i;

* ``i2_q`` (meta's default ``method.I2="Q"``, statsmodels, PyMARE): from Q alone,
  :math:`I^2_Q = 100\\max\\{0, (Q - (k-1))/Q\\}` [higgins2002].

They coincide for the DerSimonian-Laird estimator only. For the common-effect model ("EE"),
metafor reports the Q-based values (tau2 is 0 by assumption), and so do we.

The Q-profile interval needs two root searches, which cost more than the rest of a fit. It is
therefore computed on first access: :func:`heterogeneity` stores a :class:`Deferred` value in
the result, a :class:`LazyField` attribute resolves it once and keeps the tuple. The result
stays frozen, compares and prints with the computed tuple, and pickles with its inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import optimize
from scipy.special import chdtrc, chdtri, gammaincinv

from analysis.engine.tau2 import generalised_q

__all__ = [
    "Deferred",
    "Heterogeneity",
    "LazyField",
    "cochran_q",
    "h2_from_tau2",
    "heterogeneity",
    "i2_from_q",
    "i2_from_tau2",
    "tau2_qprofile_ci",
    "typical_within_variance",
]


class Deferred:
    """A value computed once, on demand: ``Deferred(f, *args).resolve()`` is ``f(*args)``.

    Give module-level functions and picklable arguments so results holding one still pickle.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self._fn, self._args = fn, args
        self._done, self._value = False, None

    def resolve(self) -> Any:
        """The value, computed on the first call only."""
        if not self._done:
            self._value = self._fn(*self._args)
            self._done = True
            self._args = ()
        return self._value


def _item(source: Deferred, index: int) -> Any:
    return source.resolve()[index]


class LazyField:
    """Descriptor for a frozen-dataclass field that may be initialised with a :class:`Deferred`.

    Reading the attribute resolves a deferred value once and stores the result on the
    instance, so every later read (and ``==``, ``repr``, ``dataclasses.replace``) sees plain
    values. Class access raises AttributeError, so the dataclass sees no default.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            raise AttributeError(self._name)
        value = obj.__dict__[self._name]
        if isinstance(value, Deferred):
            value = value.resolve()
            obj.__dict__[self._name] = value
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        # only the dataclass __init__ gets here: a frozen class refuses assignment earlier
        obj.__dict__[self._name] = value


def raw_field(obj: Any, name: str) -> Any:
    """A :class:`LazyField` attribute without resolving it: a value or its :class:`Deferred`."""
    return obj.__dict__[name]


@dataclass(frozen=True)
class Heterogeneity:
    """Heterogeneity summary of one fit (all on the measure scale).

    Attributes
    ----------
    q, q_df, q_pvalue : float, int, float
        Cochran's Q, its degrees of freedom k - 1 and the chi-square p-value.
    i2 : float
        Percent, from tau2 (metafor); Q-based for "EE".
    i2_q : float
        Percent, from Q (meta).
    h2 : float
        :math:`(\\hat\\tau^2 + s^2)/s^2`; :math:`Q/(k-1)` for "EE".
    tau2_ci : tuple of float
        Q-profile confidence interval for tau2 (computed on first access).
    tau2_ci_capped : bool
        True when the upper Q-profile bound hit the search limit (see :func:`tau2_qprofile_ci`).
    """

    q: float
    q_df: int
    q_pvalue: float
    i2: float
    i2_q: float
    h2: float
    tau2_ci: tuple[float, float] = LazyField()  # type: ignore[assignment]
    tau2_ci_capped: bool = LazyField()  # type: ignore[assignment]


def cochran_q(yi: npt.ArrayLike, vi: npt.ArrayLike) -> tuple[float, int, float]:
    """Cochran's Q with inverse-variance weights :math:`w_i = 1/v_i`.

    .. math:: Q = \\sum w_i (y_i - \\hat\\mu_{EE})^2 \\sim \\chi^2_{k-1} \\text{ under homogeneity}

    Returns ``(q, df, pvalue)``; for k = 1 this is ``(0.0, 0, 1.0)``, as metafor reports it.
    """
    y = np.asarray(yi, dtype=float)
    if y.size < 2:
        return 0.0, 0, 1.0
    q = max(0.0, generalised_q(0.0, y, vi))
    return q, y.size - 1, float(chdtrc(y.size - 1, q))


def typical_within_variance(vi: npt.ArrayLike) -> float:
    """Typical within-study variance :math:`s^2 = (k-1)\\sum w_i / \\{(\\sum w_i)^2 - \\sum w_i^2\\}`
    [higgins2002]."""
    w = 1.0 / np.asarray(vi, dtype=float)
    sw = w.sum()
    return float((w.size - 1) * sw / (sw**2 - (w**2).sum()))


def i2_from_tau2(tau2: float, vi: npt.ArrayLike) -> float:
    """I^2 in percent from tau2 (metafor's definition): :math:`100\\tau^2/(\\tau^2 + s^2)`."""
    if np.asarray(vi).size < 2:
        return 0.0
    return float(100 * tau2 / (tau2 + typical_within_variance(vi)))


def h2_from_tau2(tau2: float, vi: npt.ArrayLike) -> float:
    """H^2 from tau2 (metafor): :math:`(\\tau^2 + s^2)/s^2`."""
    if np.asarray(vi).size < 2:
        return 1.0
    return float(tau2 / typical_within_variance(vi) + 1)


def i2_from_q(q: float, df: int) -> float:
    """I^2 in percent from Q (meta's default): :math:`100\\max\\{0, (Q-\\mathrm{df})/Q\\}`; 0 if
    df = 0 or Q = 0 [higgins2002]."""
    if df < 1 or q <= 0:
        return 0.0
    return float(max(0.0, 100 * (q - df) / q))


def tau2_qprofile_ci(
    yi: npt.ArrayLike, vi: npt.ArrayLike, level: float = 0.95, tau2: float = 0.0
) -> tuple[tuple[float, float], bool]:
    """Q-profile confidence interval for tau2 [viechtbauer2007].

    The bounds solve :math:`Q(\\tau^2_L) = \\chi^2_{k-1;\\,1-\\alpha/2}` and
    :math:`Q(\\tau^2_U) = \\chi^2_{k-1;\\,\\alpha/2}` for the generalised Q
    (:func:`analysis.engine.tau2.generalised_q`), with a bound set to 0 when :math:`Q(0)` is already
    below its target. As in metafor's ``confint``, the search is limited to
    :math:`[0, \\max(100, 10\\hat\\tau^2)]`; a bound at that limit is returned as the limit and
    flagged.

    Returns
    -------
    (lower, upper), capped : tuple of float, bool
    """
    y, v = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    k = y.size
    if k < 2:
        return (0.0, 0.0), False
    alpha = 1 - level
    tmax = max(100.0, 10 * tau2)
    bounds, capped = [], False
    # chi2 upper and lower alpha/2 quantiles, as scipy.stats.chi2.isf and .ppf compute them
    q0 = generalised_q(0.0, y, v)
    for target in (chdtri(k - 1, alpha / 2), 2 * gammaincinv((k - 1) / 2, alpha / 2)):
        if q0 <= target:
            bounds.append(0.0)
        elif generalised_q(tmax, y, v) >= target:
            bounds.append(tmax)
            capped = True
        else:
            root = optimize.brentq(
                lambda t, c=target: generalised_q(t, y, v) - c, 0.0, tmax, xtol=1e-15, rtol=1e-13
            )
            bounds.append(float(root))
    return (bounds[0], bounds[1]), capped


def heterogeneity(
    yi: npt.ArrayLike, vi: npt.ArrayLike, tau2: float, method: str, level: float = 0.95
) -> Heterogeneity:
    """All heterogeneity statistics of a fit with estimated ``tau2`` by ``method``.

    ``tau2_ci`` and ``tau2_ci_capped`` (:func:`tau2_qprofile_ci`) are computed on first access.
    """
    q, df, p = cochran_q(yi, vi)
    i2q = i2_from_q(q, df)
    if method == "EE":
        i2, h2 = i2q, (q / df if df > 0 else 1.0)
    elif df < 1:
        i2, h2 = 0.0, 1.0
    else:
        s2 = typical_within_variance(vi)  # i2_from_tau2 and h2_from_tau2, sharing s^2
        i2, h2 = float(100 * tau2 / (tau2 + s2)), float(tau2 / s2 + 1)
    y, v = np.array(yi, dtype=float), np.array(vi, dtype=float)  # copies: the caller may mutate
    profile = Deferred(tau2_qprofile_ci, y, v, level, tau2)
    return Heterogeneity(q, df, p, i2, i2q, h2, Deferred(_item, profile, 0),
                         Deferred(_item, profile, 1))
