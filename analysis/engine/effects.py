"""Effect sizes for single proportions and their back-transformations.

Vocabulary (metafor's): ``xi`` events, ``ni`` sample sizes, ``yi`` the effect on the measure's
scale, ``vi`` its sampling variance. Measures:

========  ==========================================  ===================================
measure   yi                                           vi
========  ==========================================  ===================================
``PLO``   :math:`\\log\\{p/(1-p)\\}`                      :math:`1/\\{n p (1-p)\\}`
``PAS``   :math:`\\arcsin\\sqrt{p}`                       :math:`1/(4n)`
``PFT``   :math:`\\tfrac12\\{\\arcsin\\sqrt{x/(n+1)}`       :math:`1/(4n+2)`
          :math:`+ \\arcsin\\sqrt{(x+1)/(n+1)}\\}`
``PR``    :math:`p`                                    :math:`p(1-p)/n`
========  ==========================================  ===================================

with :math:`p = x/n`. The PFT value carries metafor's factor 1/2, so it is half of Freeman and
Tukey's double arcsine [freeman1950] and a quarter of its variance
[miller1978]. All formulas follow metafor's ``escalc`` [viechtbauer2010].
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import expit

__all__ = [
    "MEASURES",
    "Measure",
    "back_transform",
    "continuity_mask",
    "display_domain",
    "escalc",
    "harmonic_mean",
    "pft",
]

Measure = Literal["PLO", "PAS", "PFT", "PR"]
#: Measures accepted by :func:`escalc`; only PLO and PR take a continuity correction (metafor
#: forces ``add=0`` for PAS and PFT, which are finite at 0 and n events).
MEASURES: tuple[str, ...] = ("PLO", "PAS", "PFT", "PR")
_CORRECTED: frozenset[str] = frozenset({"PLO", "PR"})

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]


def _check_measure(measure: str) -> None:
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}; got {measure!r}")


def continuity_mask(events: ArrayLike, n: ArrayLike, measure: str) -> npt.NDArray[np.bool_]:
    """Studies that receive the continuity correction.

    Parameters
    ----------
    events, n : array_like of shape (k,)
        Event counts and sample sizes.
    measure : {"PLO", "PAS", "PFT", "PR"}
        Effect-size measure.

    Returns
    -------
    numpy.ndarray of bool, shape (k,)
        True for studies with 0 or n events when the measure is PLO or PR (metafor
        ``to="only0"``, meta ``method.incr="only0"``); all False for PAS and PFT.
    """
    _check_measure(measure)
    x = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float) - x
    if measure not in _CORRECTED:
        return np.zeros(x.shape, dtype=bool)
    return (x == 0) | (m == 0)


def pft(p: ArrayLike, n: ArrayLike) -> FloatArray:
    """Freeman-Tukey double arcsine of a proportion ``p`` with sample size ``n`` (metafor scale).

    .. math:: t = \\tfrac12\\{\\arcsin\\sqrt{np/(n+1)} + \\arcsin\\sqrt{(np+1)/(n+1)}\\}

    [freeman1950]
    """
    p = np.asarray(p, dtype=float)
    n = np.asarray(n, dtype=float)
    x = p * n
    return 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))


def escalc(
    events: ArrayLike, n: ArrayLike, measure: str = "PLO", cc: float = 0.5
) -> tuple[FloatArray, FloatArray]:
    """Effect sizes ``yi`` and sampling variances ``vi`` of single proportions.

    Parameters
    ----------
    events, n : array_like of shape (k,)
        Event counts and sample sizes (validated by the caller, e.g. :func:`analysis.engine.metaprop`).
    measure : {"PLO", "PAS", "PFT", "PR"}, default "PLO"
        See the module table.
    cc : float, default 0.5
        Continuity correction added to the events and non-events of studies with 0 or n events,
        for PLO and PR only (so n grows by ``2 * cc``); never for PAS or PFT. ``cc=0`` switches
        it off (then PLO/PR variances of such studies are infinite or zero).

    Returns
    -------
    yi, vi : numpy.ndarray of shape (k,)

    Notes
    -----
    PR corrects both the estimate and its variance, as metafor's ``escalc``; meta's ``PRAW``
    corrects only the variance, a definitional difference. [viechtbauer2010]
    """
    _check_measure(measure)
    x = np.asarray(events, dtype=float)
    nn = np.asarray(n, dtype=float)
    add = np.where(continuity_mask(x, nn, measure), cc, 0.0)
    xc, nc = x + add, nn + 2 * add
    p = xc / nc
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "PLO":
            return np.log(xc / (nc - xc)), 1.0 / xc + 1.0 / (nc - xc)
        if measure == "PR":
            return p, p * (1 - p) / nc
        if measure == "PAS":
            return np.arcsin(np.sqrt(p)), 1.0 / (4 * nc)
        return pft(p, nc), 1.0 / (4 * nc + 2)


def harmonic_mean(n: ArrayLike) -> float:
    """Harmonic mean :math:`\\bar n_h = k / \\sum_i 1/n_i` of the sample sizes [miller1978]."""
    nn = np.asarray(n, dtype=float)
    return float(1.0 / np.mean(1.0 / nn))


def display_domain(measure: str, n_harmonic: float | None = None) -> tuple[float, float]:
    """Interval of the measure scale that maps onto proportions in [0, 1].

    Values outside it are clipped by :func:`back_transform` (PLO: the whole real line; PAS:
    :math:`[0, \\pi/2]`; PFT: :math:`[t(0, \\bar n_h), t(1, \\bar n_h)]`; PR: :math:`[0, 1]`).
    """
    _check_measure(measure)
    if measure == "PLO":
        return (-np.inf, np.inf)
    if measure == "PAS":
        return (0.0, np.pi / 2)
    if measure == "PR":
        return (0.0, 1.0)
    if n_harmonic is None:
        raise ValueError("measure 'PFT' needs n_harmonic (the harmonic mean of the sample sizes)")
    return (float(pft(0.0, n_harmonic)), float(pft(1.0, n_harmonic)))


def _ipft(t: FloatArray, nh: float) -> FloatArray:
    """Miller's (1978) inverse of the double arcsine for one sample size ``nh``."""
    s = np.sin(2 * t)
    safe = np.where(s == 0, 1.0, s)
    inner = 1 - (s + (s - 1 / safe) / nh) ** 2
    return 0.5 * (1 - np.sign(np.cos(2 * t)) * np.sqrt(np.clip(inner, 0.0, None)))


def back_transform(x: ArrayLike, measure: str, n_harmonic: float | None = None) -> FloatArray:
    """Map values on the measure's scale back to proportions in [0, 1].

    Parameters
    ----------
    x : array_like
        Values on the measure scale (estimate, interval bounds).
    measure : {"PLO", "PAS", "PFT", "PR"}
    n_harmonic : float, optional
        Required for PFT: the harmonic mean of the study sample sizes.

    Returns
    -------
    numpy.ndarray
        PLO: :math:`1/(1+e^{-x})`; PAS: :math:`\\sin^2 x`; PFT: Miller's inverse
        :math:`p = \\tfrac12\\bigl[1 - \\operatorname{sgn}(\\cos 2t)
        \\sqrt{1 - \\{\\sin 2t + (\\sin 2t - 1/\\sin 2t)/\\bar n_h\\}^2}\\bigr]`
        [miller1978]; PR: identity. Inputs outside :func:`display_domain` are clipped
        to it first, so the result never leaves [0, 1] (metafor's ``transf.iarcsin`` and
        ``transf.ipft.hm`` do the same).

    Notes
    -----
    The harmonic-mean back-transformation is a heuristic that can mislead when sample sizes
    differ a lot [schwarzer2019]; PFT should be a sensitivity analysis only.
    """
    lo, hi = display_domain(measure, n_harmonic)
    t = np.clip(np.asarray(x, dtype=float), lo, hi)
    if measure == "PLO":
        return np.asarray(expit(t), dtype=float)
    if measure == "PAS":
        return np.sin(t) ** 2
    if measure == "PR":
        return t
    assert n_harmonic is not None
    p = _ipft(t, float(n_harmonic))
    p = np.where(t >= hi, 1.0, np.where(t <= lo, 0.0, p))
    return np.asarray(p, dtype=float)
