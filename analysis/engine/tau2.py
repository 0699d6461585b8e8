"""Estimators of the between-study variance :math:`\\tau^2` (random-effects model).

Model: :math:`y_i = \\mu + u_i + e_i`, :math:`u_i \\sim N(0, \\tau^2)`,
:math:`e_i \\sim N(0, v_i)` with known :math:`v_i`. Notation: :math:`w_i = 1/(v_i + \\tau^2)`,
:math:`\\hat\\mu_w = \\sum w_i y_i / \\sum w_i`, :math:`r_i = y_i - \\hat\\mu_w`, and
:math:`P = W - w w^\\top / \\sum w_i` (intercept-only model), so that :math:`P y = w \\odot r`.

Every estimator is truncated at 0 and returns a :class:`Tau2Estimate` that says whether it
converged and after how many iterations. The iterative estimators are solved far more tightly
than metafor's defaults (``threshold=1e-5``): to :math:`|\\Delta\\tau^2| \\le 10^{-12}(1+\\tau^2)`.

REML and ML use Fisher scoring, which can oscillate without converging when the optimum lies
close to 0 (about 1-3 % of small simulated meta-analyses of proportions near 0.95; metafor's
``rma`` stops with an error there). When scoring oscillates or reaches its iteration limit,
the (restricted) likelihood is maximised directly (:func:`_maximise`) and the estimate's
``note`` says so.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize

__all__ = [
    "TAU2_METHODS",
    "Tau2Estimate",
    "estimate_tau2",
    "generalised_q",
    "tau2_dl",
    "tau2_he",
    "tau2_ml",
    "tau2_pm",
    "tau2_reml",
    "tau2_sj",
]

#: Accepted ``method`` values (metafor names). "EE" is the common-effect model (tau2 = 0).
TAU2_METHODS: tuple[str, ...] = ("EE", "DL", "REML", "ML", "PM", "SJ", "HE")

_TOL = 1e-12
_MAXITER = 1000

FloatArray = npt.NDArray[np.float64]
_add = np.add.reduce  # ndarray.sum() without its Python wrapper (same pairwise summation)


@dataclass(frozen=True)
class Tau2Estimate:
    """Result of a :math:`\\tau^2` estimator.

    Attributes
    ----------
    tau2 : float
        Estimate, >= 0.
    converged : bool
        False only when an iterative solver (and, for REML and ML, its fallback) failed.
    iterations : int
        Iterations used (0 for closed forms; scoring plus Brent iterations after a fallback).
    method : str
        Estimator name.
    note : str
        Empty, or how the estimate was found when Fisher scoring failed (REML, ML).
    """

    tau2: float
    converged: bool
    iterations: int
    method: str
    note: str = ""


def _arrays(yi: npt.ArrayLike, vi: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    y = np.asarray(yi, dtype=float).ravel()
    v = np.asarray(vi, dtype=float).ravel()
    if y.shape != v.shape:
        raise ValueError(f"yi and vi differ in length ({y.size} vs {v.size})")
    if y.size == 0:
        raise ValueError("no studies (k = 0)")
    if not (np.isfinite(y).all() and np.isfinite(v).all() and (v > 0).all()):
        raise ValueError("yi must be finite and vi finite and > 0 for every study")
    return y, v


def _resid(y: FloatArray, w: FloatArray) -> FloatArray:
    # ndarray.sum() is np.sum without its dispatch overhead (same pairwise summation)
    return y - (w * y).sum() / w.sum()


def generalised_q(tau2: float, yi: npt.ArrayLike, vi: npt.ArrayLike) -> float:
    """Generalised Q, :math:`Q(\\tau^2) = \\sum_i w_i (y_i - \\hat\\mu_w)^2`, decreasing in tau2.

    :math:`Q(0)` is Cochran's Q; Paule-Mandel and the Q-profile interval invert it
    [paule1982, viechtbauer2007].
    """
    y, v = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    w = 1.0 / (v + tau2)
    return float(_add(w * (y - _add(w * y) / _add(w)) ** 2))


def tau2_dl(yi: npt.ArrayLike, vi: npt.ArrayLike) -> Tau2Estimate:
    """DerSimonian-Laird moment estimator [dersimonian1986].

    .. math:: \\hat\\tau^2 = \\max\\{0, (Q - (k-1)) / (\\sum w_i - \\sum w_i^2/\\sum w_i)\\},
              \\quad w_i = 1/v_i
    """
    y, v = _arrays(yi, vi)
    if y.size < 2:
        return Tau2Estimate(0.0, True, 0, "DL")
    w = 1.0 / v
    q = generalised_q(0.0, y, v)
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    return Tau2Estimate(max(0.0, float((q - (y.size - 1)) / c)), True, 0, "DL")


def tau2_he(yi: npt.ArrayLike, vi: npt.ArrayLike) -> Tau2Estimate:
    """Hedges (HE) unweighted moment estimator, as metafor's ``method="HE"``.

    .. math:: \\hat\\tau^2 = \\max\\Bigl\\{0, \\frac{\\sum (y_i-\\bar y)^2 - \\frac{k-1}{k}
              \\sum v_i}{k-1}\\Bigr\\}

    [viechtbauer2010]
    """
    y, v = _arrays(yi, vi)
    if y.size < 2:
        return Tau2Estimate(0.0, True, 0, "HE")
    return Tau2Estimate(_he(y, v), True, 0, "HE")


def _he(y: FloatArray, v: FloatArray) -> float:
    """The HE estimate of checked arrays with k >= 2."""
    k = y.size
    rss = ((y - y.mean()) ** 2).sum()
    return max(0.0, float((rss - (k - 1) / k * v.sum()) / (k - 1)))


def tau2_sj(yi: npt.ArrayLike, vi: npt.ArrayLike) -> Tau2Estimate:
    """Sidik-Jonkman estimator [sidik2005], one step from the unweighted start.

    .. math:: \\hat\\tau^2_0 = \\tfrac1k\\sum (y_i-\\bar y)^2, \\qquad
              \\hat\\tau^2 = \\hat\\tau^2_0 \\, \\frac{\\sum w_i r_i^2}{k-1},
              \\quad w_i = 1/(v_i + \\hat\\tau^2_0)
    """
    y, v = _arrays(yi, vi)
    k = y.size
    if k < 2:
        return Tau2Estimate(0.0, True, 0, "SJ")
    t0 = float(np.mean((y - y.mean()) ** 2))
    return Tau2Estimate(max(0.0, t0 * generalised_q(t0, y, v) / (k - 1)), True, 0, "SJ")


def _reml_step(tau2: float, y: FloatArray, v: FloatArray) -> float:
    """Fisher-scoring step for REML: :math:`(y^\\top PPy - \\mathrm{tr}P)/\\mathrm{tr}(PP)`."""
    w = 1.0 / (v + tau2)
    sw, sw2, sw3 = _add(w), _add(w**2), _add(w**3)
    py = w * (y - _add(w * y) / sw)
    tr_p = sw - sw2 / sw
    tr_pp = sw2 - 2 * sw3 / sw + sw2**2 / sw**2
    return float((_add(py**2) - tr_p) / tr_pp)


def _ml_step(tau2: float, y: FloatArray, v: FloatArray) -> float:
    """Fisher-scoring step for ML: :math:`(\\sum w_i^2 r_i^2 - \\sum w_i)/\\sum w_i^2`."""
    w = 1.0 / (v + tau2)
    sw = _add(w)
    w2 = w**2
    return float((_add(w2 * (y - _add(w * y) / sw) ** 2) - sw) / _add(w2))


def _score(tau2: float, y: FloatArray, v: FloatArray, reml: bool) -> float:
    """Twice the derivative of the (restricted) log-likelihood in tau2 [viechtbauer2005].

    .. math:: \\sum w_i^2 r_i^2 - \\sum w_i \\;(+ \\textstyle\\sum w_i^2 / \\sum w_i
              \\text{ for REML, so the last two terms are } -\\mathrm{tr}P)
    """
    w = 1.0 / (v + tau2)
    sw, w2 = _add(w), w * w
    score = _add(w2 * (y - _add(w * y) / sw) ** 2) - sw
    return float(score + _add(w2) / sw if reml else score)


def _loglik(tau2: float, y: FloatArray, v: FloatArray, reml: bool) -> float:
    """(Restricted) log-likelihood of the intercept-only model, up to a constant."""
    w = 1.0 / (v + tau2)
    ll = -0.5 * np.log(v + tau2).sum() - 0.5 * (w * _resid(y, w) ** 2).sum()
    return float(ll - 0.5 * np.log(w.sum()) if reml else ll)


def _oscillates(steps: list[float]) -> bool:
    """True when the last 20 scoring steps alternate in sign without shrinking: the iteration
    map has slope below -1 there, so Fisher scoring cannot converge (happens near tau2 = 0)."""
    last = steps[-20:]
    alternating = all(a * b < 0 for a, b in itertools.pairwise(last))
    return alternating and max(map(abs, last[10:])) >= max(map(abs, last[:10]))


def _fisher_scoring(
    y: FloatArray, v: FloatArray, step: Callable[[float, FloatArray, FloatArray], float], name: str
) -> Tau2Estimate:
    """REML or ML tau2 of the intercept-only model by :func:`scoring_with_fallback` from the HE
    estimate, with this module's step, score and (vectorised) likelihood."""
    reml = name == "REML"
    tau2, converged, iterations, note = scoring_with_fallback(
        _he(y, v),
        step=lambda t: step(t, y, v),
        score=lambda t: _score(t, y, v, reml),
        loglik=lambda t: _loglik(t, y, v, reml),
        loglik_grid=lambda g: _loglik_grid(g, y, v, reml),
        spread=10 * float(np.var(y)),
        name=name,
    )
    return Tau2Estimate(tau2, converged, iterations, name, note)


#: The points :math:`(j/64)^2`, j = 0..64, scaled by ``hi`` in the search grids below.
_GRID = (np.arange(65) / 64.0) ** 2


def scoring_with_fallback(
    start: float,
    *,
    step: Callable[[float], float],
    score: Callable[[float], float],
    loglik: Callable[[float], float],
    loglik_grid: Callable[[FloatArray], FloatArray],
    spread: float,
    name: str,
) -> tuple[float, bool, int, str]:
    """REML/ML tau2: Fisher scoring, checked, with direct maximisation as the fallback.

    Iterates :math:`\\tau^2 \\leftarrow \\tau^2 + \\text{step}(\\tau^2)` from ``start``, halving
    steps that would go below 0, until a step is below :math:`10^{-12}(1 + \\tau^2)`; then keeps
    0 if it has the higher likelihood (as metafor's ``ll0check``) [viechtbauer2005].
    The (restricted) likelihood can have two local maxima (rarely: studies with very unequal
    variances), and scoring converges to whichever it reaches first, so the likelihood is also
    evaluated at 65 points :math:`\\mathrm{hi}\\,(j/64)^2`, :math:`\\mathrm{hi} = \\max(1,
    \\text{spread}, 4\\tau^2)`. When it is higher at one of them, when scoring has not
    converged after :data:`_MAXITER` steps, or when it oscillates after 100 (see
    :func:`_oscillates`), the likelihood is maximised directly (:func:`maximise_over_tau2`).

    Parameters
    ----------
    start : float
        Starting value (the HE estimate).
    step, score, loglik : callable
        Fisher-scoring step, twice the derivative of the log-likelihood, and the (restricted)
        log-likelihood, as functions of tau2.
    loglik_grid : callable
        ``loglik`` at an array of tau2 values.
    spread : float
        Scale of the search (10 times the variance of the effects).
    name : {"REML", "ML"}
        For the note.

    Returns
    -------
    (tau2, converged, iterations, note) : tuple
        ``note`` is empty when scoring alone found the maximum, and says why the likelihood
        was maximised directly otherwise.
    """
    tau2, steps, why = start, [], "stopped without converging"
    for it in range(1, _MAXITER + 1):
        adj = step(tau2)
        while tau2 + adj < 0:
            adj /= 2
        tau2 += adj
        if abs(adj) <= _TOL * (1 + tau2):
            if tau2 > 0 and loglik(0.0) > loglik(tau2) + 1e-10:
                tau2 = 0.0
            hi = max(1.0, spread, 4 * tau2)
            if not loglik_grid(hi * _GRID).max() > loglik(tau2) + 1e-10:
                return tau2, True, it, ""
            why = "converged to a local maximum"
            break
        steps.append(adj)
        if it >= 100 and it % 10 == 0 and _oscillates(steps):
            break
    best, converged, extra, failed = maximise_over_tau2(score, loglik, max(1.0, spread))
    label = "restricted log-likelihood" if name == "REML" else "log-likelihood"
    note = (f"{name} tau2: Fisher scoring {why} after {it} iterations; the {label} was maximised "
            f"directly (grid bracket + Brent's method on the score){failed}")
    return best, converged, it + extra, note


def _loglik_grid(tau2: FloatArray, y: FloatArray, v: FloatArray, reml: bool) -> FloatArray:
    """:func:`_loglik` at every value of ``tau2`` at once, with
    :math:`\\sum w_i (y_i - \\hat\\mu)^2 = \\sum w_i y_i^2 - (\\sum w_i y_i)^2 / \\sum w_i`."""
    vt = v + tau2[:, None]
    w = 1.0 / vt
    sw, swy = w.sum(axis=1), w @ y
    ll = -0.5 * (np.log(vt).sum(axis=1) + w @ (y * y) - swy * swy / sw)
    return ll - 0.5 * np.log(sw) if reml else ll


def maximise_over_tau2(score: Callable[[float], float], loglik: Callable[[float], float],
                       hi: float) -> tuple[float, bool, int, str]:
    """Global maximum over :math:`\\tau^2 \\ge 0` of a log-likelihood with derivative ``score``.

    The upper end ``hi`` is widened tenfold until the score is negative there. The score is
    evaluated on 65 points :math:`\\mathrm{hi}\\,(j/64)^2`; every change of sign from + to -
    brackets a local maximum, solved with Brent's method to :math:`10^{-15} + 10^{-13}\\tau^2`;
    :math:`\\tau^2 = 0` is a candidate when the score is <= 0 there. The candidate with the
    highest likelihood wins (0 only if higher by more than :math:`10^{-10}`, as metafor's
    ``ll0check``).

    Returns
    -------
    (tau2, converged, Brent iterations, note) : tuple
        ``note`` is empty unless something failed.
    """
    for _ in range(60):
        if score(hi) < 0:
            break
        hi *= 10
    else:
        return hi, False, 0, f", but the score is still positive at {hi:g}"
    grid = hi * _GRID
    scores = [score(t) for t in grid]
    candidates, iterations = [], 0
    for j in range(64):
        if scores[j] > 0 >= scores[j + 1]:
            root, info = optimize.brentq(score, grid[j], grid[j + 1], xtol=1e-15, rtol=1e-13,
                                         maxiter=_MAXITER, full_output=True, disp=False)
            iterations += info.iterations
            if not info.converged:
                return float(root), False, iterations, ", but Brent's method did not converge"
            candidates.append(float(root))
    best = max(candidates, key=loglik, default=0.0)
    if scores[0] <= 0 and best > 0 and loglik(0.0) > loglik(best) + 1e-10:
        best = 0.0
    return best, True, iterations, ""


def tau2_reml(yi: npt.ArrayLike, vi: npt.ArrayLike) -> Tau2Estimate:
    """Restricted maximum-likelihood estimator by Fisher scoring [viechtbauer2005].

    Maximises :math:`-\\tfrac12\\{\\sum\\log(v_i+\\tau^2) + \\log\\sum w_i + \\sum w_i r_i^2\\}`
    over :math:`\\tau^2 \\ge 0`; directly (grid bracket and Brent's method on the score) when
    scoring does not converge.
    """
    y, v = _arrays(yi, vi)
    if y.size < 2:
        return Tau2Estimate(0.0, True, 0, "REML")
    return _fisher_scoring(y, v, _reml_step, "REML")


def tau2_ml(yi: npt.ArrayLike, vi: npt.ArrayLike) -> Tau2Estimate:
    """Maximum-likelihood estimator by Fisher scoring [viechtbauer2005].

    Maximises :math:`-\\tfrac12\\{\\sum\\log(v_i+\\tau^2) + \\sum w_i r_i^2\\}` over
    :math:`\\tau^2 \\ge 0`; directly (grid bracket and Brent's method on the score) when scoring
    does not converge.
    """
    y, v = _arrays(yi, vi)
    if y.size < 2:
        return Tau2Estimate(0.0, True, 0, "ML")
    return _fisher_scoring(y, v, _ml_step, "ML")


def tau2_pm(yi: npt.ArrayLike, vi: npt.ArrayLike) -> Tau2Estimate:
    """Paule-Mandel estimator: the root of :math:`Q(\\tau^2) = k - 1` [paule1982].

    :math:`Q(\\tau^2)` (:func:`generalised_q`) decreases monotonically, so the root is unique;
    if :math:`Q(0) < k-1` the estimate is 0. Solved with Brent's method to
    :math:`10^{-12}` relative precision.
    """
    y, v = _arrays(yi, vi)
    k = y.size
    if k < 2 or generalised_q(0.0, y, v) <= k - 1:
        return Tau2Estimate(0.0, True, 0, "PM")
    upper = max(1.0, float(np.var(y)) * 10)
    while generalised_q(upper, y, v) > k - 1:
        upper *= 10
    root, info = optimize.brentq(
        lambda t: generalised_q(t, y, v) - (k - 1),
        0.0,
        upper,
        xtol=1e-15,
        rtol=1e-13,
        maxiter=_MAXITER,
        full_output=True,
        disp=False,
    )
    return Tau2Estimate(float(root), bool(info.converged), int(info.iterations), "PM")


_ESTIMATORS: dict[str, Callable[[npt.ArrayLike, npt.ArrayLike], Tau2Estimate]] = {
    "DL": tau2_dl,
    "REML": tau2_reml,
    "ML": tau2_ml,
    "PM": tau2_pm,
    "SJ": tau2_sj,
    "HE": tau2_he,
}


def estimate_tau2_checked(y: FloatArray, v: FloatArray, method: str) -> Tau2Estimate:
    """:func:`estimate_tau2` for arrays a caller has already checked (1-D floats of one length,
    finite, ``v > 0``): REML and ML go to the solver without checking them again."""
    if method in ("REML", "ML") and y.size >= 2:
        return _fisher_scoring(y, v, _reml_step if method == "REML" else _ml_step, method)
    return estimate_tau2(y, v, method)


def estimate_tau2(yi: npt.ArrayLike, vi: npt.ArrayLike, method: str = "REML") -> Tau2Estimate:
    """Estimate :math:`\\tau^2` with the named estimator.

    Parameters
    ----------
    yi, vi : array_like of shape (k,)
        Effect sizes and their sampling variances (> 0).
    method : {"EE", "DL", "REML", "ML", "PM", "SJ", "HE"}, default "REML"
        "EE" returns 0 (common-effect model). With k = 1 every estimator returns 0.

    Returns
    -------
    Tau2Estimate
    """
    if method == "EE":
        _arrays(yi, vi)
        return Tau2Estimate(0.0, True, 0, "EE")
    if method not in _ESTIMATORS:
        raise ValueError(f"method must be one of {', '.join(TAU2_METHODS)}; got {method!r}")
    return _ESTIMATORS[method](yi, vi)
