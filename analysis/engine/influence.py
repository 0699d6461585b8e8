"""Outlier and influence diagnostics for an inverse-variance random-effects meta-analysis.

The case-deletion diagnostics of metafor's ``influence()`` [viechtbauercheung2010],
for the intercept-only model. Notation: the full fit has :math:`\\hat\\mu`, :math:`\\hat\\tau^2`,
:math:`w_i = 1/(v_i + \\hat\\tau^2)`; the fit without study i (same estimator and CI method)
has :math:`\\hat\\mu_{(-i)}`, :math:`\\hat\\tau^2_{(-i)}`, variance :math:`V_{(-i)}` of
:math:`\\hat\\mu_{(-i)}` and Knapp-Hartung factor :math:`s^2_{w(-i)}` (1 for Wald).

* hat value :math:`h_i = w_i/\\sum_j w_j`; weight :math:`100 h_i` percent.
* externally standardised residual (``rstudent``)
  :math:`(y_i - \\hat\\mu_{(-i)}) / \\sqrt{s^2_{w(-i)}(v_i + \\hat\\tau^2_{(-i)}) + V_{(-i)}}`.
* DFFITS :math:`(\\hat\\mu - \\hat\\mu_{(-i)}) / \\sqrt{s^2_{w(-i)}\\, h_i\\,(\\hat\\tau^2_{(-i)}
  + v_i)}`.
* Cook's distance :math:`(\\hat\\mu - \\hat\\mu_{(-i)})^2 / \\operatorname{Var}(\\hat\\mu)`.
* covariance ratio :math:`V_{(-i)}/\\operatorname{Var}(\\hat\\mu)`.
* DFBETAS :math:`(\\hat\\mu - \\hat\\mu_{(-i)}) / \\sqrt{s^2_{w(-i)} / \\sum_j 1/(v_j +
  \\hat\\tau^2_{(-i)})}` (sum over all k studies).
* :math:`\\hat\\tau^2_{(-i)}` and :math:`Q_{E(-i)}` (Cochran's Q without study i).

A study is flagged ``influential`` by metafor's rules when any of
:math:`|\\mathrm{DFFITS}_i| > 3\\sqrt{p/(k-p)}`, :math:`P(\\chi^2_p \\le D_i) > 0.5`,
:math:`h_i > 3p/k`, :math:`|\\mathrm{DFBETAS}_i| > 1` holds (p = 1 here).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from analysis.engine.rma import UniFit, rma_uni
from analysis.engine.tau2 import TAU2_METHODS

__all__ = ["INFLUENCE_COLUMNS", "influence"]

#: Columns of the table returned by :func:`influence`.
INFLUENCE_COLUMNS: tuple[str, ...] = (
    "label", "rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat", "weight",
    "dfbetas", "influential", "criteria",
)


def _inputs(result_or_yi: Any, vi: Any, method: str | None, ci: str | None,
            labels: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], str, str,
                                  list[str]]:
    if hasattr(result_or_yi, "studies"):
        if vi is not None:
            raise ValueError("pass either a result or yi and vi, not both")
        res = result_or_yi
        used = method or res.tau2_estimator
        if used not in TAU2_METHODS:
            raise ValueError(f"influence diagnostics need an inverse-variance fit; this result "
                             f"used {used}. Refit with method='REML' (or another inverse-"
                             "variance estimator), or pass method=")
        st = res.studies
        return (st["yi"].to_numpy(float), st["vi"].to_numpy(float), used, ci or res.ci,
                [str(s) for s in st["label"]])
    if vi is None:
        raise ValueError("vi is required when yi is given as an array")
    y = np.asarray(result_or_yi, dtype=float).ravel()
    labs = [f"Study {i + 1}" for i in range(y.size)] if labels is None else [str(s) for s in labels]
    if len(labs) != y.size:
        raise ValueError(f"labels has {len(labs)} values but there are {y.size} studies")
    return y, np.asarray(vi, dtype=float).ravel(), method or "REML", ci or "z", labs


def _s2w(fit: UniFit, v: npt.NDArray[np.float64]) -> float:
    """Knapp-Hartung scale factor of a fit: SE^2 times the sum of its weights (1 for Wald)."""
    if fit.ci != "hksj":
        return 1.0
    return float(fit.se**2 * np.sum(1.0 / (v + fit.tau2)))


def _criteria(dffits: float, cook: float, hat: float, dfbetas: float, k: int) -> str:
    p = 1
    rules = [
        ("dffits", abs(dffits) > 3 * np.sqrt(p / (k - p))),
        ("cook_d", stats.chi2.cdf(cook, p) > 0.5),
        ("hat", hat > 3 * p / k),
        ("dfbetas", abs(dfbetas) > 1),
    ]
    return ", ".join(name for name, hit in rules if hit)


def _deleted_row(i: int, y: npt.NDArray[np.float64], v: npt.NDArray[np.float64],
                 full: UniFit, hat: npt.NDArray[np.float64], method: str,
                 ci: str) -> dict[str, float]:
    keep = np.arange(y.size) != i
    d = rma_uni(y[keep], v[keep], method, ci, "z", full.level)
    s2w = _s2w(d, v[keep])
    resid = y[i] - d.mu
    resid = 0.0 if abs(resid) < 100 * np.finfo(float).eps else resid
    diff = full.mu - d.mu
    vb_del_full = s2w / np.sum(1.0 / (v + d.tau2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "rstudent": resid / np.sqrt(s2w * (v[i] + d.tau2) + d.se**2),
            "dffits": diff / np.sqrt(s2w * hat[i] * (d.tau2 + v[i])),
            "cook_d": diff**2 / full.se**2,
            "cov_r": d.se**2 / full.se**2,
            "tau2_del": d.tau2,
            "qe_del": d.q,
            "dfbetas": diff / np.sqrt(vb_del_full),
        }


def influence(
    result_or_yi: Any,
    vi: npt.ArrayLike | None = None,
    *,
    method: str | None = None,
    ci: str | None = None,
    labels: Any = None,
) -> pd.DataFrame:
    """Case-deletion influence diagnostics, one row per study (metafor ``influence``).

    Parameters
    ----------
    result_or_yi : MetaPropResult or array_like of shape (k,)
        An inverse-variance :class:`analysis.engine.results.MetaPropResult` (its ``yi``, ``vi``,
        labels, tau2 estimator and ``ci`` are used), or effects ``yi`` on any scale.
    vi : array_like of shape (k,), optional
        Sampling variances; required with ``yi``.
    method : str, optional
        tau2 estimator (:data:`analysis.engine.tau2.TAU2_METHODS`); default the result's, or "REML".
    ci : {"z", "hksj"}, optional
        Wald or Knapp-Hartung; default the result's, or "z".
    labels : sequence of str, optional
        Study labels for array input.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`INFLUENCE_COLUMNS`: ``label``, ``rstudent``, ``dffits``, ``cook_d``,
        ``cov_r``, ``tau2_del``, ``qe_del``, ``hat``, ``weight`` (percent), ``dfbetas``,
        ``influential`` (bool, metafor's rules) and ``criteria`` (the rules that fired).

    Raises
    ------
    ValueError
        For a GLMM/Bayesian result, k < 2, or invalid yi/vi.

    Notes
    -----
    Every study is refitted without study i with the same estimator and CI method
    [viechtbauercheung2010]; with k = 2 each deleted fit is a single study (Wald,
    tau2 = 0), as in metafor.
    """
    y, v, method, ci, labs = _inputs(result_or_yi, vi, method, ci, labels)
    if y.size < 2:
        raise ValueError(f"influence diagnostics need at least 2 studies; got k = {y.size}")
    full = rma_uni(y, v, method, ci, "z")
    w = 1.0 / (v + full.tau2)
    hat = w / np.sum(w)
    rows = []
    for i in range(y.size):
        row = _deleted_row(i, y, v, full, hat, method, ci)
        crit = _criteria(row["dffits"], row["cook_d"], hat[i], row["dfbetas"], y.size)
        rows.append({"label": labs[i], **row, "hat": hat[i], "weight": 100 * hat[i],
                     "influential": bool(crit), "criteria": crit})
    return pd.DataFrame(rows, columns=list(INFLUENCE_COLUMNS))
