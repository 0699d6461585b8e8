"""Egger-type regression test for funnel-plot asymmetry (small-study effects).

metafor's ``regtest`` with its defaults (``model="rma"``, ``predictor="sei"``)
[viechtbauer2010, egger1997]: the mixed-effects meta-regression

.. math:: y_i = \\beta_0 + \\beta_1 \\sqrt{v_i} + u_i + e_i, \\qquad
          u_i \\sim N(0, \\tau^2), \\quad e_i \\sim N(0, v_i),

fitted with the same tau2 estimator and the same inference as the meta-analysis
(:func:`analysis.engine.metareg.rma_mods`). The test statistic is :math:`\\hat\\beta_1/\\operatorname{SE}
(\\hat\\beta_1)`, referred to N(0, 1) (``ci="z"``) or to :math:`t_{k-2}` (``ci="hksj"``, metafor
``test="knha"``). The intercept :math:`\\hat\\beta_0` is the *limit estimate*: the expected
effect of a study with standard error 0 (a PET-type adjusted estimate), with its CI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.engine.effects import MEASURES, back_transform
from analysis.engine.metareg import METAREG_METHODS, rma_mods

__all__ = ["EggerResult", "egger_test"]

#: Fewer studies than this get a caution in ``notes`` (Sterne et al. 2011; meta's metabias).
MIN_K_ADVISED = 10


@dataclass(frozen=True)
class EggerResult:
    """Result of :func:`egger_test` (effects on the measure scale).

    Attributes
    ----------
    k : int
    stat, pvalue : float
        z (or t) statistic of the slope on the standard error and its two-sided p-value.
    df : int or None
        k - 2 for ``ci="hksj"``, None for the normal reference distribution.
    slope, slope_se : float
        Coefficient of :math:`\\sqrt{v_i}` and its standard error.
    limit_estimate, limit_ci : float, tuple of float
        Intercept (effect as the standard error goes to 0) and its confidence interval.
    limit_proportion, limit_proportion_ci : float or None, tuple or None
        The same back-transformed to a proportion when the measure is known.
    tau2 : float
        Residual between-study variance of the regression.
    method, ci, level : str, str, float
    measure : str or None
    notes : tuple of str
        Cautions (k < 10; proportions) and fallbacks.
    """

    k: int
    stat: float
    pvalue: float
    df: int | None
    slope: float
    slope_se: float
    limit_estimate: float
    limit_ci: tuple[float, float]
    limit_proportion: float | None
    limit_proportion_ci: tuple[float, float] | None
    tau2: float
    method: str
    ci: str
    level: float
    measure: str | None
    notes: tuple[str, ...] = ()

    def summary(self) -> pd.DataFrame:
        """One-row table: k, stat, df, pvalue, limit estimate and CI (measure scale)."""
        return pd.DataFrame([{
            "k": self.k, "stat": self.stat, "df": self.df, "pvalue": self.pvalue,
            "slope": self.slope, "slope_se": self.slope_se,
            "limit_estimate": self.limit_estimate, "limit_ci_lower": self.limit_ci[0],
            "limit_ci_upper": self.limit_ci[1],
        }])

    def methods_text(self) -> str:
        """Plain-language description of the test and its cautions."""
        dist = "the standard normal distribution" if self.df is None else \
            f"a t distribution with {self.df} df (Knapp-Hartung)"
        text = ("Funnel-plot asymmetry was tested with an Egger-type regression test: a "
                "meta-regression of the effects on their standard errors, with the same "
                f"between-study variance estimator ({self.method}) as the main analysis, the "
                f"slope tested against {dist} (metafor regtest, model 'rma', predictor 'sei').")
        return " ".join([text, *(f"Note: {n}." for n in self.notes)])


def _from_result(result: Any, method: str | None, ci: str | None,
                 level: float | None) -> tuple[Any, Any, str, str, float, list[str]]:
    studies = result.studies
    notes: list[str] = []
    used = method or result.tau2_estimator
    if used not in METAREG_METHODS:
        notes.append(f"the meta-analysis used {used}, which has no regression-test counterpart; "
                     "the test uses the inverse-variance REML model on the same effects")
        used = "REML"
    return (studies["yi"].to_numpy(float), studies["vi"].to_numpy(float), used,
            ci or result.ci, level or result.level, notes)


def egger_test(
    result_or_yi: Any,
    vi: npt.ArrayLike | None = None,
    *,
    method: str | None = None,
    ci: str | None = None,
    level: float | None = None,
    measure: str | None = None,
) -> EggerResult:
    """Egger-type regression test (metafor ``regtest``, model "rma", predictor "sei").

    Parameters
    ----------
    result_or_yi : MetaPropResult or array_like of shape (k,)
        An inverse-variance :class:`analysis.engine.results.MetaPropResult` (its per-study ``yi``,
        ``vi``, estimator, ``ci`` and ``level`` are used), or the effects ``yi``.
    vi : array_like of shape (k,), optional
        Sampling variances; required with ``yi``, not allowed with a result.
    method : str, optional
        tau2 estimator; default the result's (REML for arrays). A GLMM or Bayesian result is
        tested with the inverse-variance REML model, recorded in ``notes``.
    ci : {"z", "hksj"}, optional
        Default the result's (``"z"`` for arrays).
    level : float, optional
        Default the result's (0.95 for arrays).
    measure : str, optional
        For arrays: the measure of ``yi``, to back-transform the limit estimate.

    Returns
    -------
    EggerResult

    Notes
    -----
    With fewer than 10 studies the test has too little power to tell chance from asymmetry
    [sterne2011]; ``notes`` says so (a note, not a Python warning). For proportions
    the effect and its standard error are correlated by construction (the variance of a logit
    depends on the proportion itself), so asymmetry need not mean publication bias
    [hunter2014]; ``notes`` says so when the measure is known.
    """
    if hasattr(result_or_yi, "studies"):
        if vi is not None:
            raise ValueError("pass either a result or yi and vi, not both")
        yi, v, method, ci, level, notes = _from_result(result_or_yi, method, ci, level)
        measure = result_or_yi.measure
        n_harmonic = result_or_yi.n_harmonic
    else:
        if vi is None:
            raise ValueError("vi is required when yi is given as an array")
        yi, v, notes, n_harmonic = result_or_yi, vi, [], None
        method, ci, level = method or "REML", ci or "z", level or 0.95
        if measure is not None and measure not in MEASURES:
            raise ValueError(f"measure must be one of {', '.join(MEASURES)} or None; got {measure!r}")
        if measure == "PFT":
            raise ValueError("measure 'PFT' cannot be back-transformed without the sample sizes; "
                             "pass a MetaPropResult instead")
    y, vv = np.asarray(yi, dtype=float).ravel(), np.asarray(v, dtype=float).ravel()
    if y.size != vv.size:
        raise ValueError(f"yi and vi differ in length ({y.size} vs {vv.size})")
    if y.size < 3:
        raise ValueError(f"the regression test needs at least 3 studies; got k = {y.size}")
    if np.any(~np.isfinite(vv)) or np.any(vv <= 0):
        raise ValueError("vi must be finite and > 0 for every study")
    fit = rma_mods(y, vv, np.column_stack([np.ones(y.size), np.sqrt(vv)]), method=method,
                   ci=ci, level=level, btt=(1,))
    notes += list(fit.notes)
    if fit.k < MIN_K_ADVISED:
        notes.append(f"only k = {fit.k} studies: with fewer than {MIN_K_ADVISED} the test has "
                     "too little power to distinguish chance from real asymmetry")
    if measure is not None:
        notes.append("for proportions the effect and its standard error are correlated by "
                     "construction, so asymmetry need not indicate publication bias")
    lim = (float(fit.ci_lower[0]), float(fit.ci_upper[0]))
    prop = prop_ci = None
    if measure is not None:
        bt = back_transform([fit.beta[0], *lim], measure, n_harmonic)
        prop, prop_ci = float(bt[0]), (float(bt[1]), float(bt[2]))
    return EggerResult(
        k=fit.k, stat=float(fit.stat[1]), pvalue=float(fit.pvalue[1]), df=fit.df,
        slope=float(fit.beta[1]), slope_se=float(fit.se[1]), limit_estimate=float(fit.beta[0]),
        limit_ci=lim, limit_proportion=prop, limit_proportion_ci=prop_ci, tau2=fit.tau2,
        method=method, ci=ci, level=float(level), measure=measure, notes=tuple(notes),
    )
