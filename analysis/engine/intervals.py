"""Confidence intervals for one study's proportion (displayed beside each study).

Clopper-Pearson is the default, as in meta's ``metaprop`` (``method.ci="CP"``, identical to R's
``binom.test``); Wilson's score interval is available on request. Both are computed from the raw
counts, without continuity correction, and always lie in [0, 1].
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import betaincinv, ndtri

__all__ = ["STUDY_CI_METHODS", "clopper_pearson", "study_ci", "wilson"]

#: Accepted values of ``study_ci`` in :func:`analysis.engine.metaprop`.
STUDY_CI_METHODS: tuple[str, ...] = ("clopper-pearson", "wilson")

FloatArray = npt.NDArray[np.float64]


def _counts(events: npt.ArrayLike, n: npt.ArrayLike, level: float) -> tuple[FloatArray, FloatArray]:
    x = np.atleast_1d(np.asarray(events, dtype=float))
    nn = np.atleast_1d(np.asarray(n, dtype=float))
    if x.shape != nn.shape:
        raise ValueError(f"events and n differ in length ({x.size} vs {nn.size})")
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1 (e.g. 0.95); got {level}")
    bad = ~((nn >= 1) & (x >= 0) & (x <= nn))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"position {i}: need 0 <= events <= n and n >= 1; got {x[i]:g}/{nn[i]:g}")
    return x, nn


def clopper_pearson(
    events: npt.ArrayLike, n: npt.ArrayLike, level: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Exact (Clopper-Pearson) interval for a binomial proportion.

    .. math::
        p_L = B^{-1}(\\alpha/2;\\, x,\\, n-x+1), \\qquad
        p_U = B^{-1}(1-\\alpha/2;\\, x+1,\\, n-x)

    with :math:`B^{-1}` the beta quantile, :math:`p_L = 0` when :math:`x = 0` and
    :math:`p_U = 1` when :math:`x = n` [clopper1934].

    Parameters
    ----------
    events, n : array_like of shape (k,)
        Event counts and sample sizes (0 <= events <= n, n >= 1).
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    lower, upper : numpy.ndarray of shape (k,)
    """
    x, nn = _counts(events, n, level)
    alpha = 1 - level
    # betaincinv(a, b, q) is the ufunc behind scipy.stats.beta.ppf(q, a, b): same values
    lo, hi = np.zeros(x.shape), np.ones(x.shape)
    some, short = x > 0, x < nn
    lo[some] = betaincinv(x[some], nn[some] - x[some] + 1, alpha / 2)
    hi[short] = betaincinv(x[short] + 1, nn[short] - x[short], 1 - alpha / 2)
    return lo, hi


def wilson(
    events: npt.ArrayLike, n: npt.ArrayLike, level: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval for a binomial proportion.

    .. math::
        \\frac{\\hat p + z^2/(2n) \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/(4n^2)}}{1 + z^2/n}

    with :math:`z = \\Phi^{-1}(1-\\alpha/2)` [wilson1927].

    Parameters
    ----------
    events, n : array_like of shape (k,)
    level : float, default 0.95

    Returns
    -------
    lower, upper : numpy.ndarray of shape (k,)
    """
    x, nn = _counts(events, n, level)
    z = ndtri(1 - (1 - level) / 2)  # as scipy.stats.norm.ppf
    p = x / nn
    centre = p + z**2 / (2 * nn)
    half = z * np.sqrt(p * (1 - p) / nn + z**2 / (4 * nn**2))
    denom = 1 + z**2 / nn
    lo = np.clip((centre - half) / denom, 0.0, 1.0)
    hi = np.clip((centre + half) / denom, 0.0, 1.0)
    return np.where(x == 0, 0.0, lo), np.where(x == nn, 1.0, hi)


def study_ci(
    events: npt.ArrayLike, n: npt.ArrayLike, method: str = "clopper-pearson", level: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Dispatch to :func:`clopper_pearson` or :func:`wilson` by name."""
    if method == "clopper-pearson":
        return clopper_pearson(events, n, level)
    if method == "wilson":
        return wilson(events, n, level)
    raise ValueError(f"study_ci must be one of {', '.join(STUDY_CI_METHODS)}; got {method!r}")
