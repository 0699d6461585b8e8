"""Mixed-effects meta-regression: :func:`rma_mods` for any effect size, :func:`metareg` for proportions.

Model (metafor's ``rma(yi, vi, mods = ~ x)``) [viechtbauer2010, thompson2002]:

.. math:: y_i = \\mathbf x_i^\\top \\boldsymbol\\beta + u_i + e_i, \\qquad
          u_i \\sim N(0, \\tau^2), \\quad e_i \\sim N(0, v_i),

with :math:`\\tau^2` the *residual* between-study variance. With
:math:`W = \\operatorname{diag}\\{1/(v_i + \\hat\\tau^2)\\}` the coefficients are
:math:`\\hat{\\boldsymbol\\beta} = (X^\\top W X)^{-1} X^\\top W y` with covariance
:math:`s^2_w (X^\\top W X)^{-1}`, where :math:`s^2_w = 1` for Wald (``ci="z"``) inference and
:math:`s^2_w = \\sum w_i (y_i - \\mathbf x_i^\\top\\hat{\\boldsymbol\\beta})^2/(k-p)` for the
Knapp-Hartung adjustment (``ci="hksj"``, metafor ``test="knha"``, t and F with k - p residual
df) [knapp2003].

Residual :math:`\\tau^2` estimators, with :math:`P(\\tau^2) = W - WX(X^\\top WX)^{-1}X^\\top W`:

* ``"EE"``: 0; ``"DL"``: :math:`\\{y^\\top P(0) y - (k-p)\\}/\\operatorname{tr}P(0)`
  [dersimonian1986]; ``"HE"``: :math:`\\{y^\\top P_{OLS} y -
  \\operatorname{tr}(P_{OLS}V)\\}/(k-p)`; ``"SJ"``: :math:`\\hat\\tau^2_0\\, y^\\top
  P(\\hat\\tau^2_0) y/(k-p)` with :math:`\\hat\\tau^2_0 = \\tfrac{1}{k}\\sum(y_i-\\bar y)^2`
  [sidik2002]; ``"PM"``: the root of :math:`y^\\top P(\\tau^2) y = k - p`
  [paule1982]; ``"ML"`` and ``"REML"``: Fisher scoring from the HE value, steps
  :math:`\\{y^\\top PPy - \\operatorname{tr}W\\}/\\operatorname{tr}W^2` and
  :math:`\\{y^\\top PPy - \\operatorname{tr}P\\}/\\operatorname{tr}PP`
  [viechtbauer2005], with metafor's check that :math:`\\tau^2 = 0` does not have a
  higher likelihood; when scoring oscillates or does not converge (it can, near
  :math:`\\tau^2 = 0`), the likelihood is maximised directly, as for the intercept-only model
  (:func:`analysis.engine.tau2.scoring_with_fallback`). All are truncated at 0, as in metafor.

Tests and statistics, as metafor reports them:

* ``QM``: omnibus test of the moderator coefficients, :math:`\\hat\\beta_b^\\top
  V_b^{-1}\\hat\\beta_b \\sim \\chi^2_m` (Wald) or that divided by m, :math:`\\sim F_{m,k-p}`
  (Knapp-Hartung).
* ``QE``: residual heterogeneity, :math:`y^\\top P(0) y \\sim \\chi^2_{k-p}`.
* :math:`I^2 = 100\\,\\hat\\tau^2/(\\hat\\tau^2 + \\tilde v)` and :math:`H^2 = \\hat\\tau^2/\\tilde v
  + 1` with :math:`\\tilde v = (k-p)/\\operatorname{tr}P(0)` (Q-based for ``"EE"``)
  [higgins2002].
* :math:`R^2 = \\max\\{0, 100(\\hat\\tau^2_{RE} - \\hat\\tau^2)/\\hat\\tau^2_{RE}\\}`, the
  proportional reduction of :math:`\\tau^2` against the intercept-only model fitted with the same
  estimator (0 when :math:`\\hat\\tau^2_{RE} = 0`) [raudenbush2009]; for ``"EE"`` the
  adjusted :math:`R^2` of the weighted least-squares regression (metafor's choice).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize, stats

from analysis.engine.effects import MEASURES, back_transform, escalc, harmonic_mean
from analysis.engine.options import choose
from analysis.engine.rma import CI_METHODS, PI_METHODS

__all__ = ["METAREG_METHODS", "MetaRegResult", "ModFit", "metareg", "r2_metafor", "rma_mods"]

#: tau2 estimators accepted by :func:`rma_mods` and :func:`metareg` (metafor names).
METAREG_METHODS: tuple[str, ...] = ("EE", "DL", "HE", "SJ", "PM", "ML", "REML")

_TOL = 1e-12
_MAXITER = 1000

FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------------------------
# generic fit
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModFit:
    """Result of :func:`rma_mods`; everything on the measure's scale.

    Attributes
    ----------
    k, p : int
        Number of studies and of coefficients.
    beta, se, stat, pvalue, ci_lower, ci_upper : numpy.ndarray of shape (p,)
        Coefficients, standard errors (Knapp-Hartung-scaled with ``ci="hksj"``), z or t
        statistics, two-sided p-values and confidence bounds (read-only arrays).
    vb : numpy.ndarray of shape (p, p)
        Covariance matrix of the coefficients (read-only).
    df : int or None
        Residual df k - p of the t and F distributions (``ci="hksj"``), None for Wald.
    s2w : float
        Knapp-Hartung scale factor (1 for Wald).
    tau2, tau2_converged, tau2_iterations
        Residual between-study variance, whether its solver converged, iterations used.
    qm, qm_df, qm_pvalue : float, int, float
        Omnibus test of the coefficients in ``btt`` (chi-square, or F with (qm_df, df)).
    qe, qe_df, qe_pvalue : float, int, float
        Test of residual heterogeneity.
    i2, h2 : float
        Residual I^2 (percent) and H^2.
    btt : tuple of int
        Indices of the coefficients tested by QM.
    weights : numpy.ndarray of shape (k,)
        Relative weights in percent.
    method, ci, level
        Settings used.
    notes : tuple of str
    """

    k: int
    p: int
    beta: FloatArray = field(repr=False, compare=False)
    se: FloatArray = field(repr=False, compare=False)
    stat: FloatArray = field(repr=False, compare=False)
    pvalue: FloatArray = field(repr=False, compare=False)
    ci_lower: FloatArray = field(repr=False, compare=False)
    ci_upper: FloatArray = field(repr=False, compare=False)
    vb: FloatArray = field(repr=False, compare=False)
    df: int | None
    s2w: float
    tau2: float
    tau2_converged: bool
    tau2_iterations: int
    qm: float
    qm_df: int
    qm_pvalue: float
    qe: float
    qe_df: int
    qe_pvalue: float
    i2: float
    h2: float
    btt: tuple[int, ...]
    weights: FloatArray = field(repr=False, compare=False)
    method: str
    ci: str
    level: float
    notes: tuple[str, ...] = ()


def _readonly(a: npt.ArrayLike) -> FloatArray:
    out = np.array(a, dtype=float)
    out.setflags(write=False)
    return out


def _projection(X: FloatArray, w: FloatArray) -> FloatArray:
    """:math:`P = W - WX(X^\\top WX)^{-1}X^\\top W` for weights ``w``."""
    wx = X * w[:, None]
    return np.diag(w) - wx @ np.linalg.solve(X.T @ wx, wx.T)


def _rss(y: FloatArray, v: FloatArray, X: FloatArray, tau2: float) -> float:
    """Generalised residual sum of squares :math:`y^\\top P(\\tau^2) y`."""
    return float(y @ _projection(X, 1.0 / (v + tau2)) @ y)


def _loglik(y: FloatArray, v: FloatArray, X: FloatArray, tau2: float, reml: bool) -> float:
    """(Restricted) log-likelihood up to a constant."""
    w = 1.0 / (v + tau2)
    ll = -0.5 * np.sum(np.log(v + tau2)) - 0.5 * _rss(y, v, X, tau2)
    if reml:
        ll -= 0.5 * np.linalg.slogdet(X.T @ (X * w[:, None]))[1]
    return float(ll)


def _tau2_he(y: FloatArray, v: FloatArray, X: FloatArray) -> float:
    k, p = X.shape
    p_ols = np.eye(k) - X @ np.linalg.solve(X.T @ X, X.T)
    return float((y @ p_ols @ y - np.trace(p_ols * v[None, :])) / (k - p))


def _tau2_pm(y: FloatArray, v: FloatArray, X: FloatArray) -> tuple[float, bool, int]:
    target = X.shape[0] - X.shape[1]
    if _rss(y, v, X, 0.0) <= target:
        return 0.0, True, 0
    upper = max(1.0, 10 * float(np.var(y)))
    while _rss(y, v, X, upper) > target:
        upper *= 10
    root, info = optimize.brentq(lambda t: _rss(y, v, X, t) - target, 0.0, upper, xtol=1e-15,
                                 rtol=1e-13, maxiter=_MAXITER, full_output=True, disp=False)
    return float(root), bool(info.converged), int(info.iterations)


def _scoring_step(y: FloatArray, v: FloatArray, X: FloatArray, tau2: float, reml: bool) -> float:
    w = 1.0 / (v + tau2)
    P = _projection(X, w)
    py = P @ y
    if reml:
        return float((py @ py - np.trace(P)) / np.sum(P * P))
    return float((py @ py - np.sum(w)) / np.sum(w**2))


def _score(y: FloatArray, v: FloatArray, X: FloatArray, tau2: float, reml: bool) -> float:
    """Twice the derivative of the (restricted) log-likelihood in tau2: :math:`y^\\top PPy -
    \\operatorname{tr}P` (REML) or :math:`- \\operatorname{tr}W` (ML) [viechtbauer2005]."""
    w = 1.0 / (v + tau2)
    P = _projection(X, w)
    py = P @ y
    return float(py @ py - (np.trace(P) if reml else np.sum(w)))


def _tau2_fisher(y: FloatArray, v: FloatArray, X: FloatArray,
                 reml: bool) -> tuple[float, bool, int, str]:
    """REML or ML residual tau2 by :func:`analysis.engine.tau2.scoring_with_fallback` from the HE value
    (Fisher scoring, checked on a grid, direct maximisation when needed), with this module's
    step, score and likelihood."""
    from analysis.engine.tau2 import scoring_with_fallback

    def loglik(t: float) -> float:
        return _loglik(y, v, X, t, reml)

    return scoring_with_fallback(
        max(0.0, _tau2_he(y, v, X)),
        step=lambda t: _scoring_step(y, v, X, t, reml),
        score=lambda t: _score(y, v, X, t, reml),
        loglik=loglik,
        loglik_grid=lambda grid: np.array([loglik(t) for t in grid]),
        spread=10 * float(np.var(y)),
        name="REML" if reml else "ML",
    )


def _estimate_tau2(y: FloatArray, v: FloatArray, X: FloatArray, method: str) -> tuple[float, bool, int, str]:
    """Residual tau2 by ``method``: (estimate, converged, iterations, note on the solver)."""
    k, p = X.shape
    if method == "EE":
        return 0.0, True, 0, ""
    if method == "DL":
        P0 = _projection(X, 1.0 / v)
        return max(0.0, float((y @ P0 @ y - (k - p)) / np.trace(P0))), True, 0, ""
    if method == "HE":
        return max(0.0, _tau2_he(y, v, X)), True, 0, ""
    if method == "SJ":
        t0 = float(np.mean((y - y.mean()) ** 2))
        return max(0.0, t0 * _rss(y, v, X, t0) / (k - p)), True, 0, ""
    if method == "PM":
        return (*_tau2_pm(y, v, X), "")
    return _tau2_fisher(y, v, X, reml=method == "REML")


def _check_fit_input(yi: npt.ArrayLike, vi: npt.ArrayLike, X: npt.ArrayLike, method: str,
                     ci: str, level: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    if method not in METAREG_METHODS:
        raise ValueError(f"method must be one of {', '.join(METAREG_METHODS)}; got {method!r}")
    if ci not in CI_METHODS:
        raise ValueError(f"ci must be one of {', '.join(CI_METHODS)}; got {ci!r}")
    if not (isinstance(level, float | int) and 0 < level < 1):
        raise ValueError(f"level must lie strictly between 0 and 1 (e.g. 0.95); got {level}")
    y = np.asarray(yi, dtype=float).ravel()
    v = np.asarray(vi, dtype=float).ravel()
    Xm = np.asarray(X, dtype=float)
    Xm = Xm.reshape(-1, 1) if Xm.ndim == 1 else Xm
    if not (y.shape == v.shape and Xm.shape[0] == y.size):
        raise ValueError(f"yi ({y.size}), vi ({v.size}) and the rows of X ({Xm.shape[0]}) "
                         "must have the same length")
    for i in range(y.size):
        if not (np.isfinite(y[i]) and np.isfinite(v[i]) and v[i] > 0):
            raise ValueError(f"study {i + 1}: yi = {y[i]}, vi = {v[i]}; yi must be finite and "
                             "vi finite and > 0")
    if not np.all(np.isfinite(Xm)):
        raise ValueError("the design matrix X contains missing or infinite values")
    if y.size <= Xm.shape[1]:
        raise ValueError(f"k = {y.size} studies cannot estimate {Xm.shape[1]} coefficients "
                         "(need k > p)")
    if np.linalg.matrix_rank(Xm) < Xm.shape[1]:
        raise ValueError("the design matrix X is not of full column rank (e.g. a constant "
                         "moderator or a subgroup without studies)")
    return y, v, Xm


def _default_btt(X: FloatArray) -> tuple[int, ...]:
    has_intercept = X.shape[1] > 1 and bool(np.all(X[:, 0] == 1.0))
    return tuple(range(1 if has_intercept else 0, X.shape[1]))


def _heterogeneity(y: FloatArray, v: FloatArray, X: FloatArray, tau2: float,
                   method: str) -> tuple[float, int, float, float, float]:
    k, p = X.shape
    P0 = _projection(X, 1.0 / v)
    qe = max(0.0, float(y @ P0 @ y))
    qe_p = float(stats.chi2.sf(qe, k - p))
    if method == "EE":
        return qe, k - p, qe_p, max(0.0, 100 * (qe - (k - p)) / qe) if qe > 0 else 0.0, qe / (k - p)
    vt = (k - p) / float(np.trace(P0))
    return qe, k - p, qe_p, 100 * tau2 / (vt + tau2), tau2 / vt + 1


def _omnibus(beta: FloatArray, vb: FloatArray, btt: tuple[int, ...],
             df: int | None) -> tuple[float, float]:
    b = beta[list(btt)]
    sub = vb[np.ix_(btt, btt)]
    wald = float(b @ np.linalg.solve(sub, b))
    if df is None:
        return wald, float(stats.chi2.sf(wald, len(btt)))
    f = wald / len(btt)
    return f, float(stats.f.sf(f, len(btt), df))


def rma_mods(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    X: npt.ArrayLike,
    *,
    method: str = "REML",
    ci: str = "z",
    level: float = 0.95,
    btt: Sequence[int] | None = None,
) -> ModFit:
    """Mixed-effects meta-regression of ``yi`` on the columns of ``X`` (any effect size).

    Parameters
    ----------
    yi, vi : array_like of shape (k,)
        Effect sizes and sampling variances (finite, vi > 0).
    X : array_like of shape (k, p)
        Full design matrix, including the intercept column if wanted (k > p, full rank).
    method : {"EE", "DL", "HE", "SJ", "PM", "ML", "REML"}, default "REML"
        Residual tau2 estimator (module docstring).
    ci : {"z", "hksj"}, default "z"
        Wald (normal, chi-square QM) or Knapp-Hartung (t and F with k - p df) inference.
    level : float, default 0.95
    btt : sequence of int, optional
        Coefficients tested by QM; default every column except a leading all-ones intercept.

    Returns
    -------
    ModFit

    Notes
    -----
    Agrees with metafor's ``rma(yi, vi, mods = X, intercept = FALSE, method, test)``
    [viechtbauer2010]; the iterative estimators are solved to a relative precision
    of 1e-12.
    """
    method, ci = choose("method", method, METAREG_METHODS), choose("ci", ci, CI_METHODS)
    y, v, Xm = _check_fit_input(yi, vi, X, method, ci, level)
    k, p = Xm.shape
    tau2, conv, iters, solver_note = _estimate_tau2(y, v, Xm, method)
    notes = [solver_note] if solver_note else []
    if not conv:
        notes.append(f"{method} tau2 solver did not converge in {iters} iterations")
    w = 1.0 / (v + tau2)
    xtwx_inv = np.linalg.inv(Xm.T @ (Xm * w[:, None]))
    beta = xtwx_inv @ (Xm.T @ (w * y))
    df: int | None = None
    s2w = 1.0
    if ci == "hksj":
        df = k - p
        rss = float(np.sum(w * (y - Xm @ beta) ** 2))
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / df
    vb = s2w * xtwx_inv
    se = np.sqrt(np.diag(vb))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(se > 0, beta / se, np.copysign(np.inf, beta))
    dist = stats.norm if df is None else stats.t(df)
    pval = 2 * dist.sf(np.abs(stat))
    crit = float(dist.ppf(1 - (1 - level) / 2))
    tested = tuple(btt) if btt is not None else _default_btt(Xm)
    qm, qm_p = _omnibus(beta, vb, tested, df)
    qe, qe_df, qe_p, i2, h2 = _heterogeneity(y, v, Xm, tau2, method)
    return ModFit(
        k=k, p=p, beta=_readonly(beta), se=_readonly(se), stat=_readonly(stat),
        pvalue=_readonly(pval), ci_lower=_readonly(beta - crit * se),
        ci_upper=_readonly(beta + crit * se), vb=_readonly(vb), df=df, s2w=s2w, tau2=tau2,
        tau2_converged=conv, tau2_iterations=iters, qm=qm, qm_df=len(tested), qm_pvalue=qm_p,
        qe=qe, qe_df=qe_df, qe_pvalue=qe_p, i2=i2, h2=h2, btt=tested,
        weights=_readonly(100 * w / np.sum(w)), method=method, ci=ci, level=float(level),
        notes=tuple(notes),
    )


def r2_metafor(yi: npt.ArrayLike, vi: npt.ArrayLike, X: npt.ArrayLike, fit: ModFit) -> float:
    """Percentage of heterogeneity accounted for by the moderators, as metafor reports it.

    Random-effects estimators: :math:`\\max\\{0, 100(\\hat\\tau^2_{RE} -
    \\hat\\tau^2)/\\hat\\tau^2_{RE}\\}` with :math:`\\hat\\tau^2_{RE}` from the intercept-only model
    and the same estimator, 0 when :math:`\\hat\\tau^2_{RE} = 0` [raudenbush2009].
    ``"EE"``: the adjusted :math:`R^2` of the weighted (1/v) least-squares fit, truncated at 0.
    """
    y, v, Xm = _check_fit_input(yi, vi, X, fit.method, fit.ci, fit.level)
    k, p = Xm.shape
    if fit.method == "EE":
        w = 1.0 / v
        if np.all(y == y[0]):
            return 0.0
        resid = y - Xm @ fit.beta
        tss = float(np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2))
        r2 = 1 - float(np.sum(w * resid**2)) / tss
        return max(0.0, 100 * (1 - (1 - r2) * (k - 1) / (k - p)))
    tau2_re = _estimate_tau2(y, v, np.ones((k, 1)), fit.method)[0]
    if tau2_re == 0:
        return 0.0
    return max(0.0, 100 * (tau2_re - fit.tau2) / tau2_re)


# --------------------------------------------------------------------------------------------
# one-moderator meta-regression of proportions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetaRegResult:
    """One-moderator mixed-effects meta-regression of proportions (measure scale).

    Attributes
    ----------
    k : int
    moderator_name : str
    intercept, intercept_se, intercept_ci, intercept_pvalue
        Intercept on the measure scale (the expected effect at moderator = 0).
    slope, slope_se, slope_ci, slope_pvalue
        Change of the effect (measure scale) per unit of the moderator.
    stat : tuple of float
        z (or t) statistics of (intercept, slope).
    df : int or None
        k - 2 for Knapp-Hartung (``ci="hksj"``), None for Wald.
    qm, qm_df, qm_pvalue
        Test of the moderator: chi-square(1), or F(1, k - 2) with Knapp-Hartung.
    qe, qe_df, qe_pvalue
        Test of residual heterogeneity (chi-square, k - 2 df).
    tau2, i2, h2 : float
        Residual between-study variance, residual I^2 (percent), H^2.
    r2 : float
        Percentage of tau2 accounted for by the moderator (:func:`r2_metafor`).
    tau2_intercept_only : float
        tau2 of the model without the moderator (same estimator; 0 for "EE").
    vb : tuple of tuple of float
        2 x 2 covariance matrix of (intercept, slope).
    measure, method, ci, level, cc
        Settings used.
    n_harmonic : float or None
        Harmonic mean sample size (PFT back-transformation only).
    labels : tuple of str
    moderator : tuple of float
    notes : tuple of str
    """

    k: int
    moderator_name: str
    intercept: float
    intercept_se: float
    intercept_ci: tuple[float, float]
    intercept_pvalue: float
    slope: float
    slope_se: float
    slope_ci: tuple[float, float]
    slope_pvalue: float
    stat: tuple[float, float]
    df: int | None
    qm: float
    qm_df: int
    qm_pvalue: float
    qe: float
    qe_df: int
    qe_pvalue: float
    tau2: float
    i2: float
    h2: float
    r2: float
    tau2_intercept_only: float
    vb: tuple[tuple[float, float], tuple[float, float]]
    measure: str
    method: str
    ci: str
    level: float
    cc: float
    n_harmonic: float | None
    labels: tuple[str, ...]
    moderator: tuple[float, ...]
    notes: tuple[str, ...] = ()

    def summary(self) -> pd.DataFrame:
        """Coefficient table (measure scale): term, estimate, se, stat, pvalue, ci_lower,
        ci_upper."""
        rows = [
            ["intercept", self.intercept, self.intercept_se, self.stat[0],
             self.intercept_pvalue, *self.intercept_ci],
            [self.moderator_name, self.slope, self.slope_se, self.stat[1], self.slope_pvalue,
             *self.slope_ci],
        ]
        cols = ["term", "estimate", "se", "stat", "pvalue", "ci_lower", "ci_upper"]
        return pd.DataFrame(rows, columns=cols)

    def predict(self, values: npt.ArrayLike, pi: str = "t") -> pd.DataFrame:
        """Predicted effect at moderator ``values``, on the measure and the proportion scale.

        :math:`\\hat\\mu(x) = \\hat\\beta_0 + \\hat\\beta_1 x` with
        :math:`\\operatorname{SE}^2 = (1, x) V (1, x)^\\top`; CI with the model's quantile
        (z, or t(k - 2)); prediction interval :math:`\\hat\\mu \\pm c\\sqrt{\\operatorname{SE}^2 +
        \\hat\\tau^2}` with :math:`c = t_{k-2}` (``pi="t"``, metafor ``pi.type="t"``) or z.

        Returns
        -------
        pandas.DataFrame
            Columns ``moderator, mu, se, mu_ci_lower, mu_ci_upper, mu_pi_lower, mu_pi_upper,
            estimate, ci_lower, ci_upper, pi_lower, pi_upper`` (the last five back-transformed
            to proportions, clipped into [0, 1]).
        """
        if pi not in PI_METHODS:
            raise ValueError(f"pi must be one of {', '.join(PI_METHODS)}; got {pi!r}")
        x = np.atleast_1d(np.asarray(values, dtype=float))
        if not np.all(np.isfinite(x)):
            raise ValueError("moderator values for prediction must be finite numbers")
        vb = np.asarray(self.vb)
        mu = self.intercept + self.slope * x
        se = np.sqrt(vb[0, 0] + 2 * x * vb[0, 1] + x**2 * vb[1, 1])
        q = 1 - (1 - self.level) / 2
        crit = float(stats.norm.ppf(q) if self.df is None else stats.t.ppf(q, self.df))
        crit_pi = float(stats.norm.ppf(q) if pi == "z" else stats.t.ppf(q, self.k - 2))
        half_pi = crit_pi * np.sqrt(se**2 + self.tau2)
        out = pd.DataFrame({
            "moderator": x, "mu": mu, "se": se, "mu_ci_lower": mu - crit * se,
            "mu_ci_upper": mu + crit * se, "mu_pi_lower": mu - half_pi, "mu_pi_upper": mu + half_pi,
        })
        for name in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper"):
            src = {"estimate": "mu"}.get(name, f"mu_{name}")
            out[name] = back_transform(out[src].to_numpy(), self.measure, self.n_harmonic)
        return out

    def methods_text(self) -> str:
        """Plain-language description of the meta-regression and its settings."""
        est = {"EE": "no between-study variance (common-effect meta-regression)",
               "DL": "the DerSimonian-Laird estimator", "HE": "the Hedges estimator",
               "SJ": "the Sidik-Jonkman estimator", "PM": "the Paule-Mandel estimator",
               "ML": "maximum likelihood", "REML": "restricted maximum likelihood"}[self.method]
        inf = ("Knapp-Hartung-adjusted standard errors with t and F tests on k - 2 = "
               f"{self.df} df" if self.ci == "hksj" else "Wald-type z tests and a chi-square test")
        text = (f"A mixed-effects meta-regression of the {self.measure}-transformed proportions "
                f"on {self.moderator_name} (k = {self.k}) was fitted by weighted least squares "
                f"with residual between-study variance from {est}; inference used {inf}. "
                "Residual heterogeneity was tested with the QE statistic, and R^2 is the "
                "proportional reduction in tau^2 relative to the model without the moderator "
                "(as metafor).")
        return " ".join([text, *(f"Note: {n}." for n in self.notes)])


def _moderator_values(moderator: Any, data: pd.DataFrame | None, labels: tuple[str, ...],
                      name: str) -> FloatArray:
    """Moderator as floats; ValueError naming the study label for missing or non-numeric."""
    if data is not None and isinstance(moderator, str):
        if moderator not in data.columns:
            raise ValueError(f"moderator column {moderator!r} not found in data")
        raw = list(data[moderator])
    else:
        raw = list(np.asarray(moderator, dtype=object).ravel())
    if len(raw) != len(labels):
        raise ValueError(f"moderator {name!r} has {len(raw)} values but there are "
                         f"{len(labels)} studies")
    out = np.empty(len(raw))
    for i, (value, lab) in enumerate(zip(raw, labels, strict=True)):
        if value is None or value is pd.NA or isinstance(value, bool | str | bytes):
            problem = "is missing" if value is None or value is pd.NA else f"= {value!r} is not a number"
            raise ValueError(f"study {lab!r}: moderator {name!r} {problem}")
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"study {lab!r}: moderator {name!r} = {value!r} is not a number") from None
        if math.isnan(f):
            raise ValueError(f"study {lab!r}: moderator {name!r} is missing")
        if not math.isfinite(f):
            raise ValueError(f"study {lab!r}: moderator {name!r} = {value!r} is not finite")
        out[i] = f
    if np.all(out == out[0]):
        raise ValueError(f"moderator {name!r} takes the same value ({out[0]:g}) in every study; "
                         "a slope cannot be estimated")
    return out


def metareg(
    events: Any,
    n: Any,
    moderator: Any,
    *,
    measure: str = "PLO",
    method: str = "REML",
    ci: str = "z",
    level: float = 0.95,
    labels: Any = None,
    data: pd.DataFrame | None = None,
    moderator_name: str | None = None,
    cc: float = 0.5,
) -> MetaRegResult:
    """One-moderator mixed-effects meta-regression of single proportions.

    Parameters
    ----------
    events, n : sequence of int, or column names of ``data``
        Event counts and sample sizes (validated as in :func:`analysis.engine.metaprop.metaprop`).
    moderator : sequence of float, or a column name of ``data``
        Study-level covariate (e.g. a dose). Missing or non-numeric values raise a ValueError
        naming the study label; nothing is dropped.
    measure : {"PLO", "PAS", "PFT", "PR"}, default "PLO"
        Effect-size scale (:func:`analysis.engine.effects.escalc`, continuity correction ``cc`` for
        PLO/PR studies with 0 or n events).
    method : {"EE", "DL", "HE", "SJ", "PM", "ML", "REML"}, default "REML"
        Residual tau2 estimator (GLMM and BAYES have no meta-regression here).
    ci : {"z", "hksj"}, default "z"
        Wald or Knapp-Hartung (metafor ``test="knha"``) inference.
    level : float, default 0.95
    labels : sequence of str, or a column name of ``data``, optional
    data : pandas.DataFrame, optional
    moderator_name : str, optional
        Name shown in tables; default the column name, else "moderator".
    cc : float, default 0.5

    Returns
    -------
    MetaRegResult

    Raises
    ------
    ValueError
        Invalid counts or options, a missing/non-numeric/constant moderator, or k < 3.

    Notes
    -----
    Fitted by :func:`rma_mods` with design matrix :math:`[1, x]`; agrees with metafor's
    ``rma(yi, vi, mods = ~ x, method, test)`` [viechtbauer2010]. Meta-regression
    with few studies has low power and is prone to ecological bias
    [thompson2002]; a note is added when k < 10.
    """
    from analysis.engine.metaprop import validate_counts

    measure = choose("measure", measure, MEASURES)
    method, ci = choose("method", method, METAREG_METHODS), choose("ci", ci, CI_METHODS)
    x_ev, x_n, labs = validate_counts(events, n, labels, data)
    name = moderator_name or (moderator if isinstance(moderator, str) else "moderator")
    x = _moderator_values(moderator, data, labs, name)
    if len(labs) < 3:
        raise ValueError(f"meta-regression needs at least 3 studies; got k = {len(labs)}")
    yi, vi = escalc(x_ev, x_n, measure, cc)
    for i, lab in enumerate(labs):
        if not (np.isfinite(yi[i]) and np.isfinite(vi[i]) and vi[i] > 0):
            raise ValueError(f"study {lab!r}: {x_ev[i]}/{x_n[i]} gives a zero or infinite "
                             f"{measure} variance with cc = {cc:g}")
    X = np.column_stack([np.ones(len(x)), x])
    fit = rma_mods(yi, vi, X, method=method, ci=ci, level=level)
    notes = list(fit.notes)
    if fit.k < 10:
        notes.append(f"only k = {fit.k} studies: meta-regression has little power and the "
                     "slope is imprecise (at least 10 studies per moderator are advised)")
    tau2_re = _estimate_tau2(yi, vi, np.ones((len(x), 1)), method)[0]
    vb = fit.vb
    return MetaRegResult(
        k=fit.k, moderator_name=str(name),
        intercept=float(fit.beta[0]), intercept_se=float(fit.se[0]),
        intercept_ci=(float(fit.ci_lower[0]), float(fit.ci_upper[0])),
        intercept_pvalue=float(fit.pvalue[0]),
        slope=float(fit.beta[1]), slope_se=float(fit.se[1]),
        slope_ci=(float(fit.ci_lower[1]), float(fit.ci_upper[1])),
        slope_pvalue=float(fit.pvalue[1]), stat=(float(fit.stat[0]), float(fit.stat[1])),
        df=fit.df, qm=fit.qm, qm_df=fit.qm_df, qm_pvalue=fit.qm_pvalue, qe=fit.qe,
        qe_df=fit.qe_df, qe_pvalue=fit.qe_pvalue, tau2=fit.tau2, i2=fit.i2, h2=fit.h2,
        r2=r2_metafor(yi, vi, X, fit), tau2_intercept_only=tau2_re,
        vb=((float(vb[0, 0]), float(vb[0, 1])), (float(vb[1, 0]), float(vb[1, 1]))),
        measure=measure, method=method, ci=ci, level=float(level), cc=float(cc),
        n_harmonic=harmonic_mean(x_n) if measure == "PFT" else None, labels=labs,
        moderator=tuple(float(v) for v in x), notes=tuple(notes),
    )
