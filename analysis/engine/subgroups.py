"""Subgroup analysis of proportions: separate fits per subgroup and tests for subgroup differences.

Each subgroup g is meta-analysed on its own with :func:`analysis.engine.metaprop.metaprop` (its own
:math:`\\hat\\tau^2_g`, meta's default ``tau.common = FALSE``) [borenstein2009].

**Primary test (ours and meta's default): between-subgroup Q with separate tau^2.** With the
pooled estimates :math:`\\hat\\mu_g` and their standard errors :math:`s_g` on the measure scale,

.. math:: Q_b = \\sum_g w_g(\\hat\\mu_g - \\bar\\mu)^2, \\quad w_g = 1/s_g^2, \\quad
          \\bar\\mu = \\frac{\\sum_g w_g\\hat\\mu_g}{\\sum_g w_g}, \\qquad
          Q_b \\sim \\chi^2_{G-1}

under equal subgroup means [borenstein2009]. :math:`s_g` is the standard error the
subgroup fit reports (the Wald SE; the Knapp-Hartung SE with ``ci="hksj"``; the GLMM's SE for
``method="GLMM"``). On dat.pritz1997 split 1-7 / 8-14 (logit, REML) this gives
:math:`Q_b = 0.0470`, p = 0.8283, as meta 8.2-1.

**Alternative: mixed-effects moderator test with one common tau^2** (metafor's
``rma(yi, vi, mods = ~ factor(group))``): the omnibus Wald test ``QM`` of the G - 1 group
contrasts in a meta-regression with a single residual :math:`\\tau^2` (:func:`analysis.engine.metareg.
rma_mods`), :math:`\\chi^2_{G-1}`, or :math:`F_{G-1,k-G}` with ``ci="hksj"``
[viechtbauer2010]. On the same split: QM = 0.0237, p = 0.8775. It is only available
for inverse-variance estimators.

Subgroups with fewer than ``min_k`` studies are fitted and reported (k, and the single study
when k = 1) but left out of both tests; ``notes`` names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.engine.effects import escalc
from analysis.engine.metaprop import metaprop, validate_counts
from analysis.engine.metareg import METAREG_METHODS, rma_mods
from analysis.engine.results import MetaPropResult

__all__ = ["SubgroupResult", "subgroup_analysis"]


@dataclass(frozen=True)
class SubgroupResult:
    """Per-subgroup meta-analyses and the tests for subgroup differences.

    Attributes
    ----------
    groups : tuple of str
        Subgroup names, in order of first appearance in the data.
    results : tuple of MetaPropResult
        One separate fit per subgroup (own tau^2), same order as ``groups``.
    in_test : tuple of bool
        Whether each subgroup has at least ``min_k`` studies and enters the tests.
    q_between, q_between_df, q_between_pvalue : float, int, float, or None
        Between-subgroup Q with separate tau^2 (None when fewer than two subgroups qualify).
    qm, qm_df, qm_df_residual, qm_pvalue : float, int, int or None, float, or None
        Mixed-effects moderator test with a common tau^2 (``qm_df_residual`` is k - G for the
        F test with ``ci="hksj"``, else None); None when not available (see ``notes``).
    tau2_common : float or None
        The common residual tau^2 of that model.
    measure, method, ci, level, min_k
        Settings used.
    notes : tuple of str
    """

    groups: tuple[str, ...]
    results: tuple[MetaPropResult, ...]
    in_test: tuple[bool, ...]
    q_between: float | None
    q_between_df: int | None
    q_between_pvalue: float | None
    qm: float | None
    qm_df: int | None
    qm_df_residual: int | None
    qm_pvalue: float | None
    tau2_common: float | None
    measure: str
    method: str
    ci: str
    level: float
    min_k: int
    notes: tuple[str, ...] = ()

    def result(self, group: str) -> MetaPropResult:
        """The fit of one subgroup, by name."""
        if group not in self.groups:
            raise KeyError(f"no subgroup {group!r}; subgroups are {', '.join(self.groups)}")
        return self.results[self.groups.index(group)]

    def summary(self) -> pd.DataFrame:
        """One row per subgroup: group, k, events, n, estimate, ci_lower, ci_upper, pi_lower,
        pi_upper (proportions), mu, se (measure scale), tau2, i2, i2_q, q, q_pvalue, in_test."""
        rows = []
        for g, r, used in zip(self.groups, self.results, self.in_test, strict=True):
            rows.append({
                "group": g, "k": r.k, "events": r.total_events, "n": r.total_n,
                "estimate": r.estimate, "ci_lower": r.ci_lower, "ci_upper": r.ci_upper,
                "pi_lower": r.pi_lower, "pi_upper": r.pi_upper, "mu": r.mu, "se": r.se,
                "tau2": r.tau2, "i2": r.i2, "i2_q": r.i2_q, "q": r.q, "q_pvalue": r.q_pvalue,
                "in_test": used,
            })
        return pd.DataFrame(rows)

    def methods_text(self) -> str:
        """Plain-language description of the subgroup analysis, both tests and exclusions."""
        out = [
            (f"Each of the {len(self.groups)} subgroups was meta-analysed separately with its "
             "own between-study variance, using the same model as the main analysis."),
            ("Subgroup differences were tested with the between-subgroup Q statistic "
             "(inverse-variance weighted dispersion of the subgroup estimates on the "
             f"{self.measure} scale, chi-square with G - 1 df; meta's default test with "
             "separate tau^2)."),
        ]
        if self.q_between is not None:
            out.append(f"Q_b = {self.q_between:.4f}, df = {self.q_between_df}, "
                       f"p = {self.q_between_pvalue:.4f}.")
        if self.qm is not None:
            dist = (f"F({self.qm_df}, {self.qm_df_residual})" if self.qm_df_residual is not None
                    else f"chi-square({self.qm_df})")
            out.append("As an alternative, a mixed-effects meta-regression on subgroup with one "
                       f"common tau^2 gave QM = {self.qm:.4f} ({dist}), p = "
                       f"{self.qm_pvalue:.4f}.")
        out += [f"Note: {n}." for n in self.notes]
        return " ".join(out)


def _group_labels(groups: Any, data: pd.DataFrame | None, labels: tuple[str, ...]) -> list[str]:
    if data is not None and isinstance(groups, str):
        if groups not in data.columns:
            raise ValueError(f"groups column {groups!r} not found in data")
        raw = list(data[groups])
    else:
        raw = list(np.asarray(groups, dtype=object).ravel())
    if len(raw) != len(labels):
        raise ValueError(f"groups has {len(raw)} values but there are {len(labels)} studies")
    out = []
    for value, lab in zip(raw, labels, strict=True):
        try:
            missing = bool(pd.isna(value))
        except (TypeError, ValueError):
            missing = False
        if missing or (isinstance(value, str) and not value.strip()):
            raise ValueError(f"study {lab!r}: subgroup is missing")
        out.append(str(value))
    return out


def _q_between(results: list[MetaPropResult]) -> tuple[float, int, float]:
    mu = np.array([r.mu for r in results])
    w = 1.0 / np.array([r.se for r in results]) ** 2
    qb = float(np.sum(w * (mu - np.sum(w * mu) / np.sum(w)) ** 2))
    df = len(results) - 1
    return qb, df, float(stats.chi2.sf(qb, df))


def subgroup_analysis(
    events: Any,
    n: Any,
    groups: Any,
    *,
    labels: Any = None,
    min_k: int = 2,
    **metaprop_options: Any,
) -> SubgroupResult:
    """Separate meta-analyses per subgroup and tests for subgroup differences.

    Parameters
    ----------
    events, n : sequence of int, or column names of ``data``
    groups : sequence, or a column name of ``data``
        Subgroup of each study (converted to str); a missing value raises a ValueError naming
        the study.
    labels : sequence of str, or a column name of ``data``, optional
    min_k : int, default 2
        Subgroups with fewer studies are reported but excluded from both tests.
    **metaprop_options
        Passed to :func:`analysis.engine.metaprop.metaprop` for every subgroup (``measure``,
        ``method``, ``ci``, ``pi``, ``level``, ``cc``, ``data``, ...).

    Returns
    -------
    SubgroupResult

    Notes
    -----
    ``q_between`` is the test we report (meta's default with separate tau^2); ``qm`` is
    metafor's mixed-effects moderator test with a common tau^2, given for comparison. The two
    answer slightly different questions and can disagree (module docstring). The moderator test
    uses the requested ``ci`` even when a subgroup with k = 1 fell back to a Wald interval.
    """
    if not (isinstance(min_k, int) and min_k >= 1):
        raise ValueError(f"min_k must be a whole number >= 1; got {min_k!r}")
    opts = dict(metaprop_options)
    data = opts.pop("data", None)
    x, nn, labs = validate_counts(events, n, labels, data)
    grp = _group_labels(groups, data, labs)
    names = list(dict.fromkeys(grp))
    results, notes = [], []
    for g in names:
        idx = [i for i, gi in enumerate(grp) if gi == g]
        results.append(metaprop(x[idx], nn[idx], labels=[labs[i] for i in idx], **opts))
    in_test = [r.k >= min_k for r in results]
    small = [f"{g!r} (k = {r.k})" for g, r, ok in zip(names, results, in_test, strict=True) if not ok]
    if small:
        notes.append(f"subgroups with fewer than {min_k} studies are shown but excluded from the "
                     f"tests: {', '.join(small)}")
    used = [g for g, ok in zip(names, in_test, strict=True) if ok]
    ref = results[0]
    method = opts.get("method", ref.method)
    ci = opts.get("ci", "z")
    level = float(opts.get("level", ref.level))
    qb = qm = None
    if len(used) < 2:
        notes.append("fewer than two subgroups qualify: no test for subgroup differences")
    elif method in ("BAYES", "BAYES_BN"):
        notes.append("no frequentist test for subgroup differences with the Bayesian model")
    else:
        qb = _q_between([r for r, ok in zip(results, in_test, strict=True) if ok])
        n_used = sum(r.k for r, ok in zip(results, in_test, strict=True) if ok)
        if method in METAREG_METHODS and n_used > len(used):
            qm = _moderator(x, nn, grp, used, opts, method, ci, level)
        elif method in METAREG_METHODS:
            notes.append("the common-tau^2 moderator test needs more studies than subgroups")
        else:
            notes.append(f"the common-tau^2 moderator test needs an inverse-variance model; not "
                         f"available for method {method}")
    fallbacks = [g for g, r in zip(names, results, strict=True) if r.tau2_estimator != r.method]
    if fallbacks:
        notes.append(f"the fit of subgroup(s) {', '.join(map(repr, fallbacks))} fell back to "
                     "another estimator (see each subgroup's notes)")
    return SubgroupResult(
        groups=tuple(names), results=tuple(results), in_test=tuple(in_test),
        q_between=None if qb is None else qb[0], q_between_df=None if qb is None else qb[1],
        q_between_pvalue=None if qb is None else qb[2],
        qm=None if qm is None else qm[0], qm_df=None if qm is None else qm[1],
        qm_df_residual=None if qm is None else qm[2], qm_pvalue=None if qm is None else qm[3],
        tau2_common=None if qm is None else qm[4], measure=ref.measure, method=method, ci=ci,
        level=level, min_k=min_k, notes=tuple(notes),
    )


def _moderator(x: np.ndarray, n: np.ndarray, grp: list[str], used: list[str],
               opts: dict[str, Any], method: str, ci: str,
               level: float) -> tuple[float, int, int | None, float, float]:
    """QM of ``rma(yi, vi, mods = ~ factor(group))`` over the subgroups in ``used``."""
    sel = [i for i, g in enumerate(grp) if g in used]
    yi, vi = escalc(x[sel], n[sel], opts.get("measure", "PLO"), opts.get("cc", 0.5))
    gsel = [grp[i] for i in sel]
    dummies = [[1.0 if g == u else 0.0 for g in gsel] for u in used[1:]]
    X = np.column_stack([np.ones(len(sel)), *dummies])
    fit = rma_mods(yi, vi, X, method=method, ci=ci, level=level)
    return fit.qm, fit.qm_df, fit.df, fit.qm_pvalue, fit.tau2
