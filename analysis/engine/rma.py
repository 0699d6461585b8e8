"""Generic inverse-variance random-effects (and common-effect) fit for any effect size.

:func:`rma_uni` is the Python counterpart of metafor's ``rma.uni`` for an intercept-only model
[viechtbauer2010]. It takes effect sizes ``yi`` and sampling variances ``vi`` of any
kind (logit proportions, log odds ratios, mean differences, ...), so leave-one-out, cumulative,
subgroup and influence analyses can call it repeatedly.

Pooled estimate, with :math:`w_i = 1/(v_i + \\hat\\tau^2)`:

.. math:: \\hat\\mu = \\frac{\\sum w_i y_i}{\\sum w_i}, \\qquad
          \\operatorname{SE}(\\hat\\mu) = \\Bigl(\\sum w_i\\Bigr)^{-1/2}

Confidence interval (``ci``):

* ``"z"``: Wald, :math:`\\hat\\mu \\pm z_{1-\\alpha/2}\\operatorname{SE}`.
* ``"hksj"``: Hartung-Knapp-Sidik-Jonkman [hartung2001, knapp2003, sidik2002],
  :math:`\\operatorname{SE}_{HK}^2 = \\frac{\\sum w_i(y_i-\\hat\\mu)^2}{(k-1)\\sum w_i}` and
  :math:`t_{k-1}` quantiles; identical to metafor's ``test="knha"`` (no truncation of the
  scaling factor at 1).
* ``"hksj_adhoc"``: the same with the ad hoc correction of Knapp and Hartung
  [knapp2003]: :math:`\\operatorname{SE} = \\max(\\operatorname{SE}_{HK},
  (\\sum w_i)^{-1/2})`, so the interval is never narrower than the Wald SE with a t quantile
  when the studies agree more than chance predicts; identical to metafor's ``test="adhoc"``.

Prediction interval (``pi``) [inthout2016] [cochranehandbook2024] (Higgins et al. [higgins2009] proposed
the same interval with a t quantile on k - 2 degrees of freedom; k - 1 is the current Cochrane guidance):
:math:`\\hat\\mu \\pm c\\sqrt{\\operatorname{SE}^2 + \\hat\\tau^2}`, with the SE of the chosen CI
method and :math:`c = t_{k-1;\\,1-\\alpha/2}` for ``"t"`` (our default, and the default of the R
package meta since version 8.0, ``method.predict = "V"``) or :math:`z_{1-\\alpha/2}` for ``"z"``
(metafor's ``predict`` default with ``test="z"``). The df rule is stated wherever an interval is
shown (``MetaPropResult.pi_df``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri, stdtr, stdtrit

from analysis.engine.heterogeneity import LazyField, heterogeneity, raw_field
from analysis.engine.options import choose
from analysis.engine.tau2 import TAU2_METHODS, estimate_tau2_checked

__all__ = ["CI_METHODS", "PI_METHODS", "UniFit", "rma_uni"]

#: ``ci`` options: "z" (Wald), "hksj" (= metafor ``test="knha"``) or "hksj_adhoc"
#: (= metafor ``test="adhoc"``: the HKSJ SE never below the Wald SE).
CI_METHODS: tuple[str, ...] = ("z", "hksj", "hksj_adhoc")
#: ``pi`` options: "t" (t with k - 1 df) or "z" (normal quantile).
PI_METHODS: tuple[str, ...] = ("t", "z")

FloatArray = npt.NDArray[np.float64]
_EPS = float(np.finfo(float).eps)


@dataclass(frozen=True)
class UniFit:
    """Result of :func:`rma_uni`; everything on the measure's scale.

    Attributes
    ----------
    k : int
        Number of studies.
    mu, se : float
        Pooled estimate and its standard error (HKSJ-scaled when ``ci="hksj"``).
    stat, pvalue : float
        z (or t) statistic for :math:`\\mu = 0` and its two-sided p-value.
    ci_lower, ci_upper, pi_lower, pi_upper : float
        Confidence and prediction interval bounds.
    ci_df, pi_df : int or None
        Degrees of freedom of the t quantile used, None for a normal quantile.
    tau2 : float
        Between-study variance estimate.
    tau2_converged : bool
        Whether the tau2 solver converged.
    tau2_iterations : int
    weights : numpy.ndarray of shape (k,)
        Relative weights :math:`100\\,w_i/\\sum w_i` in percent (read-only).
    q, q_df, q_pvalue, i2, i2_q, h2, tau2_ci, tau2_ci_capped
        See :class:`analysis.engine.heterogeneity.Heterogeneity` (``tau2_ci`` and ``tau2_ci_capped``
        are computed on first access).
    method, ci, pi, level
        Settings used (``ci`` is "z" when k = 1 forced it).
    notes : tuple of str
        Fallbacks and caveats.
    """

    k: int
    mu: float
    se: float
    stat: float
    pvalue: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    ci_df: int | None
    pi_df: int | None
    tau2: float
    tau2_converged: bool
    tau2_iterations: int
    weights: FloatArray = field(compare=False, repr=False)
    q: float
    q_df: int
    q_pvalue: float
    i2: float
    i2_q: float
    h2: float
    tau2_ci: tuple[float, float] = LazyField()  # type: ignore[assignment]
    tau2_ci_capped: bool = LazyField()  # type: ignore[assignment]
    method: str
    ci: str
    pi: str
    level: float
    notes: tuple[str, ...] = ()


def _check_options(method: str, ci: str, pi: str, level: float) -> None:
    if method not in TAU2_METHODS:
        raise ValueError(f"method must be one of {', '.join(TAU2_METHODS)}; got {method!r}")
    if ci not in CI_METHODS:
        raise ValueError(f"ci must be one of {', '.join(CI_METHODS)}; got {ci!r}")
    if pi not in PI_METHODS:
        raise ValueError(f"pi must be one of {', '.join(PI_METHODS)}; got {pi!r}")
    if not (isinstance(level, float | int) and 0 < level < 1):
        raise ValueError(f"level must lie strictly between 0 and 1 (e.g. 0.95, not 95); got {level}")


def _check_data(yi: npt.ArrayLike, vi: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    y = np.asarray(yi, dtype=float).ravel()
    v = np.asarray(vi, dtype=float).ravel()
    if y.size == 0:
        raise ValueError("no studies (k = 0)")
    if y.shape != v.shape:
        raise ValueError(f"yi and vi differ in length ({y.size} vs {v.size})")
    if np.isfinite(y).all() and np.isfinite(v).all() and (v > 0).all():
        return y, v
    for i in range(y.size):
        if not np.isfinite(y[i]):
            raise ValueError(f"study {i + 1}: yi = {y[i]} is not finite")
        if not (np.isfinite(v[i]) and v[i] > 0):
            raise ValueError(f"study {i + 1}: vi = {v[i]} must be finite and > 0")
    return y, v


def _quantile(level: float, df: int | None) -> float:
    p = 1 - (1 - level) / 2
    # the ufuncs behind scipy.stats.norm.ppf and t.ppf (same values, without their overhead)
    return float(ndtri(p) if df is None else stdtrit(df, p))


def _hksj_se(y: FloatArray, w: FloatArray, mu: float) -> float:
    """HKSJ standard error; 0 when the weighted residual sum of squares is numerically 0."""
    rss = float((w * (y - mu) ** 2).sum())
    s2w = 0.0 if rss <= _EPS else rss / (y.size - 1)
    return float(np.sqrt(s2w / w.sum()))


def rma_uni(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    method: str = "REML",
    ci: Literal["z", "hksj", "hksj_adhoc"] | str = "z",
    pi: Literal["t", "z"] | str = "t",
    level: float = 0.95,
) -> UniFit:
    """Inverse-variance meta-analysis of effects ``yi`` with known variances ``vi``.

    Parameters
    ----------
    yi : array_like of shape (k,)
        Effect sizes on any scale.
    vi : array_like of shape (k,)
        Their sampling variances (finite, > 0).
    method : {"EE", "DL", "REML", "ML", "PM", "SJ", "HE"}, default "REML"
        tau2 estimator (:mod:`analysis.engine.tau2`); "EE" is the common-effect model.
    ci : {"z", "hksj", "hksj_adhoc"}, default "z"
        Confidence interval for :math:`\\mu` (see the module docstring).
    pi : {"t", "z"}, default "t"
        Prediction-interval quantile: t with k - 1 df, or normal.
    level : float, default 0.95
        Confidence level for CI, PI and the tau2 interval.

    Returns
    -------
    UniFit

    Notes
    -----
    With k = 1 the "fit" is the study itself: tau2 = 0, Q = 0 (df 0, p = 1), I^2 = 0,
    H^2 = 1; ``ci`` falls back to "z" (HKSJ has 0 df; metafor does the same) and the
    prediction interval is defined to equal the confidence interval. Both are recorded in
    ``notes``. For "EE" (tau2 = 0 by assumption) the prediction interval also equals the
    confidence interval, as in metafor's ``predict``, whatever ``pi`` says (``pi_df`` is None).
    ``ci="hksj"`` with ``pi="z"`` mixes a t-based CI with a normal PI, which can then be the
    narrower of the two (when tau2 is near 0); a note says so. metafor avoids the combination
    (its ``predict`` uses t after ``test="knha"``).
    """
    method, ci, pi = (choose("method", method, TAU2_METHODS), choose("ci", ci, CI_METHODS),
                      choose("pi", pi, PI_METHODS))
    _check_options(method, ci, pi, level)
    y, v = _check_data(yi, vi)
    return fit_checked(y, v, method, ci, pi, level)


def fit_checked(y: FloatArray, v: FloatArray, method: str, ci: str, pi: str, level: float) -> UniFit:
    """:func:`rma_uni` for options and arrays a caller has already checked (as :func:`rma_uni`
    checks them: known options, 1-D float arrays of one length, finite, ``v > 0``), so that a
    front end such as :func:`analysis.engine.metaprop.metaprop` does not check them twice."""
    k, notes = y.size, []
    if k == 1:
        notes.append("k = 1: no pooling; the result is the single study, tau2 = 0 and the "
                     "prediction interval equals the confidence interval")
        if ci != "z":
            notes.append(f"ci = {ci!r} needs k >= 2; the Wald (z) interval is used")
            ci = "z"
    est = estimate_tau2_checked(y, v, method)
    if est.note:
        notes.append(est.note)
    if not est.converged:
        notes.append(f"{method} tau2 solver did not converge in {est.iterations} iterations")
    w = 1.0 / (v + est.tau2)
    sw = w.sum()
    mu = float((w * y).sum() / sw)
    se = float(1 / np.sqrt(sw))
    if ci == "hksj":
        se = _hksj_se(y, w, mu)
    elif ci == "hksj_adhoc":
        se = max(_hksj_se(y, w, mu), se)
    ci_df = None if ci == "z" else k - 1
    no_pi = k == 1 or method == "EE"
    pi_df = k - 1 if (pi == "t" and not no_pi) else None
    crit = _quantile(level, ci_df)
    stat = mu / se if se > 0 else np.copysign(np.inf, mu) if mu != 0 else 0.0
    # survival functions as scipy.stats.norm.sf and t.sf compute them
    pval = float(2 * (ndtr(-abs(stat)) if ci_df is None else stdtr(ci_df, -abs(stat))))
    half_pi = crit * se if no_pi else _quantile(level, pi_df) * np.sqrt(se**2 + est.tau2)
    if half_pi < crit * se:
        notes.append(f"the prediction interval (pi = {pi!r}) is narrower than the {ci!r} "
                     "confidence interval; pi = 't' keeps it at least as wide")
    het = heterogeneity(y, v, est.tau2, method, level)
    weights = 100 * w / sw
    weights.setflags(write=False)
    return UniFit(
        k=k, mu=mu, se=se, stat=float(stat), pvalue=pval,
        ci_lower=mu - crit * se, ci_upper=mu + crit * se,
        pi_lower=float(mu - half_pi), pi_upper=float(mu + half_pi), ci_df=ci_df, pi_df=pi_df,
        tau2=est.tau2, tau2_converged=est.converged, tau2_iterations=est.iterations,
        weights=weights, q=het.q, q_df=het.q_df, q_pvalue=het.q_pvalue, i2=het.i2,
        i2_q=het.i2_q, h2=het.h2, tau2_ci=raw_field(het, "tau2_ci"),
        tau2_ci_capped=raw_field(het, "tau2_ci_capped"),
        method=method, ci=ci, pi=pi, level=float(level), notes=tuple(notes),
    )
