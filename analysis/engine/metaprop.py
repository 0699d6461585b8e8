"""Meta-analysis of single proportions: :func:`metaprop`.

Pipeline (metafor's): validate counts -> :func:`analysis.engine.effects.escalc` ->
:func:`analysis.engine.rma.rma_uni` (or the binomial-normal GLMM, the Bayesian binomial-normal
model or the Bayesian normal-normal model) ->
back-transform for display -> :class:`analysis.engine.results.MetaPropResult`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.engine import __version__
from analysis.engine.effects import (
    MEASURES,
    back_transform,
    continuity_mask,
    display_domain,
    escalc,
    harmonic_mean,
)
from analysis.engine.exact import exact_case, exact_note, exact_pooled
from analysis.engine.heterogeneity import (
    Deferred,
    _item,
    h2_from_tau2,
    i2_from_q,
    i2_from_tau2,
    raw_field,
)
from analysis.engine.intervals import STUDY_CI_METHODS, study_ci
from analysis.engine.options import choose
from analysis.engine.results import MetaPropResult, StudyRow
from analysis.engine.rma import CI_METHODS, PI_METHODS, UniFit, fit_checked, rma_uni
from analysis.engine.tau2 import TAU2_METHODS

__all__ = ["CI_CHOICES", "METHODS", "metaprop", "validate_counts"]

#: Accepted ``method`` values of :func:`metaprop`.
METHODS: tuple[str, ...] = (*TAU2_METHODS, "GLMM", "BAYES_BN", "BAYES")
#: Accepted ``ci`` values: those of :func:`analysis.engine.rma.rma_uni` and "t" (GLMM only).
CI_CHOICES: tuple[str, ...] = (*CI_METHODS, "t")

IntArray = npt.NDArray[np.int64]


def _column(values: Any, data: pd.DataFrame | None, role: str) -> tuple[list[Any], str]:
    """Values of an input given directly or as a column name of ``data``; also its name."""
    if data is not None and isinstance(values, str):
        if values not in data.columns:
            raise ValueError(f"{role}: column {values!r} not found in data "
                             f"(columns: {', '.join(map(str, data.columns))})")
        return list(data[values]), f"column {values!r}"
    if values is None:
        raise ValueError(f"{role} is missing")
    if isinstance(values, str | bytes):
        # ValueError, not TypeError: the contract reports every bad user input as ValueError
        raise ValueError(f"{role} must be a sequence of counts or, with data=, a column name")  # noqa: TRY004
    return list(np.asarray(values, dtype=object).ravel()), role


def _labels(labels: Any, data: pd.DataFrame | None, k: int) -> tuple[str, ...]:
    if labels is None:
        return tuple(f"Study {i + 1}" for i in range(k))
    values, _ = _column(labels, data, "labels")
    if len(values) != k:
        raise ValueError(f"labels has {len(values)} values but there are {k} studies")
    out = tuple(str(v) for v in values)
    seen: set[str] = set()
    for lab in out:
        if lab in seen:
            raise ValueError(f"label {lab!r} is used for more than one study; labels must be unique")
        seen.add(lab)
    return out


def _as_count(value: Any, label: str, what: str) -> int:
    """One count, or a ValueError naming the study and the value."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"study {label!r}: {what} = {value!r} is not a number") from None
    if math.isnan(f):
        raise ValueError(f"study {label!r}: {what} is missing")
    if not math.isfinite(f) or f != int(f):
        raise ValueError(f"study {label!r}: {what} = {value!r} is not a whole number")
    if f < 0:
        raise ValueError(f"study {label!r}: {what} = {value!r} is negative")
    if f >= 2.0**53:  # beyond exact float integers (and int64 overflow): not a real count
        raise ValueError(f"study {label!r}: {what} = {value!r} is too large to be a count")
    return int(f)


def _whole_counts(values: list[Any]) -> IntArray | None:
    """The values as int64 when they are all finite, whole, >= 0 numbers below 2**53 (what
    :func:`_as_count` accepts, checked at once); None otherwise (then each value is checked)."""
    try:
        a = np.asarray(values)
    except (TypeError, ValueError):
        return None
    if a.ndim != 1 or a.dtype.kind not in "iuf":
        return None
    if a.dtype.kind == "f":
        ok = np.isfinite(a).all() and (a >= 0).all() and (a < 2.0**53).all() and (a == np.floor(a)).all()
    else:
        ok = a.size == 0 or (a.min() >= 0 and a.max() < 2**53)
    return a.astype(np.int64) if ok else None


def validate_counts(
    events: Any, n: Any, labels: Any = None, data: pd.DataFrame | None = None
) -> tuple[IntArray, IntArray, tuple[str, ...]]:
    """Check event counts and sample sizes; return them as integer arrays with labels.

    Parameters
    ----------
    events, n : sequence of int, or column names of ``data``
    labels : sequence of str, or a column name of ``data``, optional
        Unique study labels; default "Study 1", "Study 2", ...
    data : pandas.DataFrame, optional

    Raises
    ------
    ValueError
        Naming the study label and value: mismatched lengths, k = 0, missing, non-numeric,
        non-integer or negative counts, n = 0, events > n, duplicate labels.
    """
    ev, ev_name = _column(events, data, "events")
    nn, n_name = _column(n, data, "n")
    if len(ev) != len(nn):
        raise ValueError(f"events has {len(ev)} values but n has {len(nn)}")
    if len(ev) == 0:
        raise ValueError("no studies (k = 0): at least one study is needed")
    labs = _labels(labels, data, len(ev))
    x, m = _whole_counts(ev), _whole_counts(nn)
    if x is not None and m is not None and (m >= 1).all() and (x <= m).all():
        return x, m, labs
    ev_what = "events" if ev_name == "events" else f"events ({ev_name})"
    n_what = "n" if n_name == "n" else f"n ({n_name})"
    x = np.array([_as_count(v, lab, ev_what) for v, lab in zip(ev, labs, strict=True)])
    m = np.array([_as_count(v, lab, n_what) for v, lab in zip(nn, labs, strict=True)])
    for xi, ni, lab in zip(x, m, labs, strict=True):
        if ni == 0:
            raise ValueError(f"study {lab!r}: n = 0 (a study needs at least one participant)")
        if xi > ni:
            raise ValueError(f"study {lab!r}: events = {xi} exceeds n = {ni}")
    return x.astype(np.int64), m.astype(np.int64), labs


def _check_options(measure: str, method: str, ci: str, pi: str, level: float,
                   study_ci_method: str, cc: float, mu_prior: str | None = None) -> None:
    checks = [("measure", measure, MEASURES), ("method", method, METHODS),
              ("ci", ci, CI_CHOICES), ("pi", pi, PI_METHODS),
              ("study_ci", study_ci_method, STUDY_CI_METHODS)]
    for name, value, allowed in checks:
        if value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    if not (isinstance(level, float | int) and 0 < level < 1):
        raise ValueError(f"level must lie strictly between 0 and 1 (e.g. 0.95, not 95); got {level}")
    if not (isinstance(cc, float | int) and math.isfinite(cc) and cc >= 0):
        raise ValueError(f"cc (continuity correction) must be a number >= 0; got {cc!r}")
    if ci == "t" and method != "GLMM":
        raise ValueError(f"ci 't' (Wald SE with a t(k-1) quantile) is offered for method 'GLMM' "
                         f"only; got method {method!r}")
    if method == "BAYES_BN" and measure != "PLO":
        raise ValueError(f"method 'BAYES_BN' models the logit; use measure='PLO' (got {measure!r})")
    if mu_prior is not None and mu_prior not in ("logistic", "normal"):
        raise ValueError(f"mu_prior must be one of logistic, normal; got {mu_prior!r}")


_BOUND_NAMES = ("pooled estimate", "lower CI bound", "upper CI bound",
                "lower prediction bound", "upper prediction bound")


def _display(values: Sequence[float], measure: str, nh: float | None) -> tuple[list[float], list[str]]:
    """Back-transform (estimate, CI, PI); note every value clipped into [0, 1]."""
    lo, hi = display_domain(measure, nh)
    notes = [f"{name} {v:.4g} ({measure} scale) lies outside the range of proportions and is "
             f"shown as {0 if v < lo else 1}"
             for name, v in zip(_BOUND_NAMES, values, strict=True) if v < lo or v > hi]
    return [float(p) for p in back_transform(values, measure, nh)], notes


def _escalc_checked(x: IntArray, n: IntArray, labels: tuple[str, ...], measure: str,
                    cc: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    yi, vi = escalc(x, n, measure, cc)
    if np.isfinite(yi).all() and np.isfinite(vi).all() and (vi > 0).all():
        return yi, vi
    for i, lab in enumerate(labels):
        if not (np.isfinite(yi[i]) and np.isfinite(vi[i]) and vi[i] > 0):
            raise ValueError(f"study {lab!r}: {x[i]}/{n[i]} gives a zero or infinite {measure} "
                             f"variance with cc = {cc:g}; use cc > 0, or measure PAS/PFT, or "
                             "method GLMM")
    return yi, vi


def _study_rows(x: IntArray, n: IntArray, labels: tuple[str, ...], yi: Any, vi: Any,
                weights: Any, method: str, level: float) -> tuple[StudyRow, ...]:
    lo, hi = study_ci(x, n, method, level)
    columns = (x.tolist(), n.tolist(), (x / n).tolist(), lo.tolist(), hi.tolist(),
               np.asarray(yi, dtype=float).tolist(), np.asarray(vi, dtype=float).tolist(),
               np.asarray(weights, dtype=float).tolist())
    rows = zip(labels, *columns, strict=True)
    return tuple(StudyRow(*row) for row in rows)


def _cc_note(mask: Any, labels: tuple[str, ...], cc: float) -> list[str]:
    if not mask.any() or cc == 0:
        return []
    names = ", ".join(lab for lab, m in zip(labels, mask, strict=True) if m)
    return [(f"continuity correction {cc:g} added to {int(mask.sum())} studies with 0 or n "
             f"events ({names})")]


def _pft_note(nh: float | None) -> list[str]:
    if nh is None:
        return []
    return [(f"PFT back-transformed with the harmonic mean n = {nh:.4g} (Miller 1978); a "
             "sensitivity analysis only, not for primary results")]


def _version() -> str:
    return __version__


def _result(fit: UniFit, x: IntArray, n: IntArray, labels: tuple[str, ...], yi: Any, vi: Any,
            *, measure: str, method: str, cc: float, study_ci_method: str,
            extra_notes: Sequence[str] = (), tau2_estimator: str | None = None,
            lrt: float | None = None, lrt_pvalue: float | None = None) -> MetaPropResult:
    """Assemble a :class:`MetaPropResult` from a measure-scale fit."""
    nh = harmonic_mean(n) if measure == "PFT" else None
    exact = tau2_estimator in ("GLMM", "BAYES_BN")  # binomial likelihood: no correction enters
    mask = continuity_mask(x, n, measure) if not exact else np.zeros(len(x), bool)
    shown, clip_notes = _display(
        [fit.mu, fit.ci_lower, fit.ci_upper, fit.pi_lower, fit.pi_upper], measure, nh)
    notes = (*fit.notes, *extra_notes, *_cc_note(mask, labels, cc), *_pft_note(nh), *clip_notes)
    return MetaPropResult(
        k=fit.k, estimate=shown[0], ci_lower=shown[1], ci_upper=shown[2], pi_lower=shown[3],
        pi_upper=shown[4], mu=fit.mu, se=fit.se, mu_ci_lower=fit.ci_lower,
        mu_ci_upper=fit.ci_upper, mu_pi_lower=fit.pi_lower, mu_pi_upper=fit.pi_upper,
        pvalue=None if tau2_estimator in ("BAYES", "BAYES_BN") else fit.pvalue, ci_df=fit.ci_df, pi_df=fit.pi_df, tau2=fit.tau2,
        tau2_ci=raw_field(fit, "tau2_ci"),
        q=fit.q, q_df=fit.q_df, q_pvalue=fit.q_pvalue, i2=fit.i2, i2_q=fit.i2_q, h2=fit.h2,
        measure=measure, method=method, ci=fit.ci, pi=fit.pi, level=fit.level,
        tau2_estimator=tau2_estimator or fit.method, total_events=int(x.sum()),
        total_n=int(n.sum()), continuity_correction=float(cc), n_corrected=int(mask.sum()),
        n_harmonic=nh, study_ci=study_ci_method,
        study_rows=Deferred(_study_rows, x, n, labels, yi, vi, fit.weights, study_ci_method, fit.level),
        notes=tuple(notes), lrt=lrt, lrt_pvalue=lrt_pvalue, version=_version(),
    )


def metaprop(
    events: Any,
    n: Any = None,
    measure: str = "PLO",
    method: str = "REML",
    ci: str = "z",
    pi: str = "t",
    level: float = 0.95,
    labels: Any = None,
    *,
    data: pd.DataFrame | None = None,
    study_ci: str = "clopper-pearson",
    cc: float = 0.5,
    tau_prior_scale: float = 0.5,
    mu_prior_sd: float | None = None,
    mu_prior: str | None = None,
) -> MetaPropResult:
    """Pool single-arm proportions (events out of n) across studies.

    Parameters
    ----------
    events, n : sequence of int, or column names of ``data``
        Event counts and sample sizes, one per study (0 <= events <= n, n >= 1).
    measure : {"PLO", "PAS", "PFT", "PR"}, default "PLO"
        Scale of pooling: logit, arcsine, Freeman-Tukey double arcsine (back-transformed with
        the harmonic mean n, [miller1978]; sensitivity analysis only,
        [schwarzer2019]), raw proportion.
    method : {"EE", "DL", "REML", "ML", "PM", "SJ", "HE", "GLMM", "BAYES_BN", "BAYES"}, default "REML"
        tau2 estimator of the inverse-variance model (:mod:`analysis.engine.tau2`), "EE" for the
        common-effect model, "GLMM" for the binomial-normal model fitted by ML
        (:mod:`analysis.engine.glmm`, [hamza2008]; logit), "BAYES_BN" for the Bayesian
        binomial-normal model (exact binomial likelihood, no continuity correction,
        :mod:`analysis.engine.bayes_bn`, [gunhan2020]; logit), "BAYES" for the Bayesian
        normal-normal model on the chosen measure's scale (:mod:`analysis.engine.bayes`,
        [roever2020]).
    ci : {"z", "hksj", "hksj_adhoc", "t"}, default "z"
        Wald or Hartung-Knapp-Sidik-Jonkman CI (:func:`analysis.engine.rma.rma_uni`); "t"
        (GLMM only) is the Wald SE with a t quantile on k - 1 df,
        :math:`\\hat\\mu \\pm t_{k-1;\\,1-\\alpha/2}\\,\\mathrm{SE}(\\hat\\mu)`, as metafor's
        ``rma.glmm(test="t")`` [viechtbauer2010]. The Bayesian methods ignore ``ci`` (their
        interval is the equal-tailed credible interval).
    pi : {"t", "z"}, default "t"
        Prediction interval with t(k - 1) or normal quantiles. The default "t" (Cochrane guidance,
        [cochranehandbook2024]; the R package meta's default since version 8.0) differs from
        metafor's default: ``predict()`` after ``rma(..., test="z")`` uses the normal quantile,
        so use ``pi="z"`` to reproduce metafor's default prediction interval (see
        :mod:`analysis.engine.rma`). With few studies the t interval is noticeably wider.
    level : float, default 0.95
    labels : sequence of str, or a column name of ``data``, optional
        Unique study labels used in messages and tables.
    data : pandas.DataFrame, optional
        When given, ``events``, ``n`` and ``labels`` may be column names.
    study_ci : {"clopper-pearson", "wilson"}, default "clopper-pearson"
        Per-study interval shown in ``studies`` (:mod:`analysis.engine.intervals`).
    cc : float, default 0.5
        Continuity correction for PLO and PR, added only to studies with 0 or n events.
    tau_prior_scale : float, default 0.5
        Scale of the half-normal prior on tau (Bayesian methods only; 0.5 and 1.0 are the
        weakly informative choices of [roever2021]).
    mu_prior_sd : float, optional
        SD of a normal prior on mu (Bayesian methods). For "BAYES" the default is 10 (measure
        scale); for "BAYES_BN", giving it selects a normal prior (``mu_prior="normal"``).
    mu_prior : {"logistic", "normal"}, optional
        Family of the prior on mu of "BAYES_BN" (logit scale). Default "logistic": Logistic(0, 1),
        uniform on the proportion scale ([northrup2018]); "normal" uses N(0, SD ``mu_prior_sd``)
        with SD 1.5 unless given ([mcelreath2020]).

    Returns
    -------
    MetaPropResult

    Raises
    ------
    ValueError
        For invalid counts (message names the study label and value) or options.

    Notes
    -----
    Whatever the method, two kinds of data get an exact answer instead of a model
    (:mod:`analysis.engine.exact`): one study (its own proportion with its Clopper-Pearson
    interval) and studies that all sit at the same boundary (no events anywhere, or every
    participant with the event: the proportion of the summed counts with its Clopper-Pearson
    interval). No interval returned has zero width: where the HKSJ standard error is 0 (studies
    whose effects are identical), the ad hoc correction (the Wald standard error) is used, and
    where the GLMM has no finite estimate or does not converge, the Bayesian binomial-normal model
    is reported. ``notes`` and :meth:`MetaPropResult.methods_text` say so each time.

    Option names are read whatever their case (``method="reml"`` is ``"REML"``). Works cited in
    square brackets are given in full by :func:`analysis.cite`: ``print(analysis.cite(metaprop))``.

    Examples
    --------
    >>> res = metaprop([3, 6, 10, 1], [11, 17, 21, 6], measure="PFT", method="EE")
    >>> round(res.estimate, 4), round(res.ci_lower, 4), round(res.ci_upper, 4)
    (0.3595, 0.2297, 0.499)
    >>> one = metaprop([12], [12], method="GLMM")
    >>> round(one.estimate, 3), round(one.ci_lower, 3), one.ci_upper
    (1.0, 0.735, 1.0)
    """
    measure, method, ci, pi, study_ci = (
        choose(name, value, allowed) for name, value, allowed in (
            ("measure", measure, MEASURES), ("method", method, METHODS), ("ci", ci, CI_CHOICES),
            ("pi", pi, PI_METHODS), ("study_ci", study_ci, STUDY_CI_METHODS)))
    _check_options(measure, method, ci, pi, level, study_ci, cc, mu_prior)
    x, nn, labs = validate_counts(events, n, labels, data)
    opts = {"measure": measure, "cc": cc, "study_ci_method": study_ci}
    case = exact_case(x, nn)
    if case is not None:
        return _fit_exact(x, nn, labs, case, method=method, ci=ci, pi=pi, level=level, **opts)
    bn_prior = _bn_prior(mu_prior, mu_prior_sd)
    if method == "GLMM":
        return _fit_glmm(x, nn, labs, ci=ci, pi=pi, level=level, tau_prior_scale=tau_prior_scale,
                         bn_prior=bn_prior, **opts)
    if method == "BAYES_BN":
        return _fit_bayes_bn(x, nn, labs, level=level, tau_prior_scale=tau_prior_scale,
                             bn_prior=bn_prior, pi=pi, **opts)
    if method == "BAYES":
        return _fit_bayes(x, nn, labs, level=level, tau_prior_scale=tau_prior_scale,
                          mu_prior_sd=10.0 if mu_prior_sd is None else mu_prior_sd, pi=pi, **opts)
    yi, vi = _escalc_checked(x, nn, labs, measure, cc)
    fit = fit_checked(yi, vi, method, ci, pi, level)  # options and yi, vi checked above
    notes: list[str] = []
    if ci == "hksj" and fit.se == 0:
        fit = rma_uni(yi, vi, method, "hksj_adhoc", pi, level)
        notes.append("the HKSJ standard error is 0 (the studies' effects are identical), which "
                     "would give a zero-width interval; the ad hoc correction is used (the Wald "
                     "standard error, Knapp and Hartung 2003)")
    return _result(fit, x, nn, labs, yi, vi, method=method, extra_notes=notes, **opts)


#: Default SD of a normal prior on mu of "BAYES_BN" (logit scale), [mcelreath2020].
BN_NORMAL_PRIOR_SD = 1.5


def _bn_prior(family: str | None, sd: float | None) -> tuple[str, float]:
    """(family, scale) of the prior on mu of the binomial-normal model from metaprop's options."""
    from analysis.engine.bayes_bn import MU_PRIOR_SCALE

    if family is None:
        family = "normal" if sd is not None else "logistic"
    if family == "normal":
        return family, BN_NORMAL_PRIOR_SD if sd is None else float(sd)
    return family, MU_PRIOR_SCALE


def _fit_exact(x: IntArray, n: IntArray, labels: tuple[str, ...], case: str, *, measure: str,
               method: str, ci: str, pi: str, level: float, cc: float,
               study_ci_method: str) -> MetaPropResult:
    """One study, or every study at the same boundary: the proportion of the summed counts with
    its exact (Clopper-Pearson) interval, no model (:mod:`analysis.engine.exact`).

    The displayed proportion and its intervals are exact; the prediction interval equals the
    confidence interval and the study weights are proportional to n. The measure-scale fields
    (``mu``, ``se`` and their bounds) hold the common-effect inverse-variance fit of the
    (continuity-corrected) study effects, the values metafor reports for one study, so that a
    between-subgroup test has a measure-scale estimate to compare (NaN where the effects are not
    finite, as with ``cc=0``). tau^2 is 0 (the common-effect model behind the exact interval) with
    no interval, and Q is 0 on k - 1 df.
    """
    est, lo, hi = exact_pooled(x, n, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi, vi = escalc(x, n, measure, cc)
    k = len(x)
    nan = math.nan
    mu = se = mlo = mhi = nan
    if np.isfinite(yi).all() and np.isfinite(vi).all() and (vi > 0).all():
        ee = rma_uni(yi, vi, "EE", "z", "z", level)
        mu, se, mlo, mhi = ee.mu, ee.se, ee.ci_lower, ee.ci_upper
    weights = 100.0 * n / n.sum()
    rows = _study_rows(x, n, labels, yi, vi, weights, study_ci_method, level)
    return MetaPropResult(
        k=k, estimate=est, ci_lower=lo, ci_upper=hi, pi_lower=lo, pi_upper=hi, mu=mu, se=se,
        mu_ci_lower=mlo, mu_ci_upper=mhi, mu_pi_lower=mlo, mu_pi_upper=mhi, pvalue=None,
        ci_df=None, pi_df=None, tau2=0.0, tau2_ci=(nan, nan), q=0.0, q_df=k - 1, q_pvalue=1.0,
        i2=0.0, i2_q=0.0, h2=1.0, measure=measure, method=method, ci="exact", pi="exact",
        level=float(level), tau2_estimator="EXACT", total_events=int(x.sum()),
        total_n=int(n.sum()), continuity_correction=float(cc), n_corrected=0, n_harmonic=None,
        study_ci=study_ci_method, study_rows=rows, notes=(exact_note(case, method, k),),
        lrt=0.0 if k > 1 else None, lrt_pvalue=1.0 if k > 1 else None, version=_version())


def _glmm_unifit(g: Any, iv: UniFit, yi: Any, vi: Any, x: IntArray, n: IntArray,
                 pi: str, level: float, ci: str = "z") -> UniFit:
    """A measure-scale fit from the GLMM's mu, se, tau2 (CI with ``ci``, PI with ``pi``).

    ``ci="z"``: :math:`\\hat\\mu \\pm z_{1-\\alpha/2}\\mathrm{SE}`; ``ci="t"``:
    :math:`\\hat\\mu \\pm t_{k-1;\\,1-\\alpha/2}\\mathrm{SE}` with the p-value from t(k-1)
    (metafor ``rma.glmm(test="t")``). PI: :math:`\\hat\\mu \\pm c\\sqrt{\\mathrm{SE}^2 +
    \\hat\tau^2}`, :math:`c` from t(k-1) for ``pi="t"`` or normal (the df rule of
    :func:`analysis.engine.rma.rma_uni`).

    Heterogeneity as metafor's ``rma.glmm``: Q is the Wald-type test of the saturated logistic
    model (``GLMMFit.q_wald``); I^2 and H^2 come from the GLMM tau2 and the typical within-study
    variance of the continuity-corrected logits (``vi``); ``i2_q`` is meta's Q-based I^2 of that
    Wald Q (which can be 0 % while tau2 is large, a known artefact). ``tau2_ci`` is the GLMM's
    profile-likelihood interval (:func:`analysis.engine.glmm_profile.tau2_profile_ci`), so that I^2
    and its interval come from the same model.
    """
    from scipy.special import (  # the ufuncs behind scipy.stats norm and t
        ndtr,
        ndtri,
        stdtr,
        stdtrit,
    )

    k = len(x)
    zc = float(ndtri(1 - (1 - level) / 2))
    ci_df = k - 1 if ci == "t" else None
    cc = float(stdtrit(ci_df, 1 - (1 - level) / 2)) if ci_df else zc
    stat = float(g.mu / g.se)
    pval = float(2 * stdtr(ci_df, -abs(stat))) if ci_df else float(2 * ndtr(-abs(stat)))
    pi_df = k - 1 if pi == "t" else None
    pc = float(stdtrit(pi_df, 1 - (1 - level) / 2)) if pi_df else zc
    half_pi = pc * math.sqrt(g.se**2 + g.tau2)
    q, df, qp = float(g.q_wald), int(g.q_wald_df), float(g.q_wald_pvalue)
    from analysis.engine.glmm_profile import glmm_tau2_interval

    profile = Deferred(glmm_tau2_interval, x, n, level, g)  # the GLMM's own interval, on first access
    w = 1.0 / (np.asarray(vi) + g.tau2)
    weights = 100 * w / w.sum()
    weights.setflags(write=False)
    return replace(
        iv, mu=float(g.mu), se=float(g.se), stat=stat,
        pvalue=pval, ci_lower=g.mu - cc * g.se,
        ci_upper=g.mu + cc * g.se, pi_lower=g.mu - half_pi, pi_upper=g.mu + half_pi,
        ci_df=ci_df, pi_df=pi_df, tau2=float(g.tau2), tau2_converged=True, weights=weights,
        q=q, q_df=df, q_pvalue=qp, i2=i2_from_tau2(g.tau2, vi), i2_q=i2_from_q(q, df),
        h2=h2_from_tau2(g.tau2, vi), method="GLMM", ci="t" if ci_df else "z", notes=(),
        tau2_ci=Deferred(_item, profile, 0), tau2_ci_capped=Deferred(_item, profile, 1))


def _fit_glmm(x: IntArray, n: IntArray, labels: tuple[str, ...], *, measure: str, ci: str,
              pi: str, level: float, cc: float, study_ci_method: str, tau_prior_scale: float,
              bn_prior: tuple[str, float]) -> MetaPropResult:
    """method="GLMM": binomial-normal model by ML (k >= 2; the exact cases are handled before).

    Where the GLMM has no finite estimate (studies at both boundaries and none in between: tau
    diverges) or does not converge, the same binomial-normal model is reported with weakly
    informative priors (the Bayesian model of :func:`_fit_bayes_bn`), which always gives a finite
    estimate and a proper interval: the remedy [gelman2008] give for separation in logistic
    regression. No continuity-corrected estimate and no zero-width interval stands in for it.
    """
    if measure != "PLO":
        raise ValueError(f"method 'GLMM' models the logit; use measure='PLO' (got {measure!r})")
    from analysis.engine.glmm import fit_binomial_normal

    g = fit_binomial_normal(x, n)
    if not g.converged:
        why = (f"the GLMM has no maximum-likelihood estimate here ({g.message}); the Bayesian "
               "binomial-normal model (the same likelihood with weakly informative priors, no "
               "continuity correction) is reported instead")
        res = _fit_bayes_bn(x, n, labels, measure=measure, pi=pi, level=level, cc=cc,
                            study_ci_method=study_ci_method, tau_prior_scale=tau_prior_scale,
                            bn_prior=bn_prior)
        return replace(res, method="GLMM", notes=(why, *res.notes))
    yi, vi = _escalc_checked(x, n, labels, "PLO", cc)
    opts = {"measure": "PLO", "method": "GLMM", "cc": cc, "study_ci_method": study_ci_method}
    iv = rma_uni(yi, vi, "REML", "z", pi, level)
    notes = [("study weights shown for the GLMM are the approximate inverse-variance weights "
              "1/(vi + tau2) of the corrected logits"),
             "tau2 CI is the profile-likelihood interval of the GLMM"]
    if ci not in ("z", "t"):
        notes.insert(0, f"ci = {ci!r} is not defined for the GLMM; the Wald (z) interval is used")
    fit = _glmm_unifit(g, iv, yi, vi, x, n, pi, level, "t" if ci == "t" else "z")
    return _result(fit, x, n, labels, yi, vi, extra_notes=notes, tau2_estimator="GLMM",
                   lrt=float(g.lrt), lrt_pvalue=float(g.lrt_pvalue), **opts)


def _fit_bayes(x: IntArray, n: IntArray, labels: tuple[str, ...], *, measure: str, pi: str,
               level: float, cc: float, study_ci_method: str, tau_prior_scale: float,
               mu_prior_sd: float) -> MetaPropResult:
    """method="BAYES": normal-normal model, half-normal prior on tau, normal prior on mu.

    mu is the posterior median with its posterior SD as ``se``, the CI is the equal-tailed
    credible interval, the PI the posterior predictive interval (``pi`` does not apply), tau2
    the posterior median of tau^2 and ``tau2_ci`` the squared credible interval of tau.
    Q and ``i2_q`` are the inverse-variance ones; ``i2`` uses the posterior median tau2.
    """
    from analysis.engine.bayes import normal_normal

    yi, vi = _escalc_checked(x, n, labels, measure, cc)
    iv = rma_uni(yi, vi, "REML", "z", pi, level)
    b = normal_normal(yi, vi, tau_scale=tau_prior_scale, mu_sd=mu_prior_sd, level=level)
    tau2 = float(b.tau2_median)
    w = 1.0 / (np.asarray(vi) + tau2)
    weights = 100 * w / w.sum()
    weights.setflags(write=False)
    fit = replace(
        iv, mu=float(b.mu_median), se=float(b.mu_post_sd), ci_lower=float(b.mu_lower),
        ci_upper=float(b.mu_upper), pi_lower=float(b.pred_lower), pi_upper=float(b.pred_upper),
        ci_df=None, pi_df=None, tau2=tau2, weights=weights,
        tau2_ci=(float(b.tau_lower) ** 2, float(b.tau_upper) ** 2), method="BAYES",
        ci="credible", pi="posterior predictive", i2=i2_from_tau2(tau2, vi),
        h2=h2_from_tau2(tau2, vi), notes=(), tau2_ci_capped=raw_field(iv, "tau2_ci_capped"))
    notes = [(f"Bayesian normal-normal model: half-normal prior on tau with scale "
              f"{tau_prior_scale:g}, normal prior on mu with SD {mu_prior_sd:g}; mu and tau2 are "
              "posterior medians, se is the posterior SD of mu, intervals are equal-tailed "
              "posterior intervals"),
             "study weights shown are the inverse-variance weights 1/(vi + posterior median tau2)"]
    return _result(fit, x, n, labels, yi, vi, measure=measure, method="BAYES", cc=cc,
                   study_ci_method=study_ci_method, extra_notes=notes, tau2_estimator="BAYES")


def _fit_bayes_bn(x: IntArray, n: IntArray, labels: tuple[str, ...], *, measure: str, pi: str,
                  level: float, cc: float, study_ci_method: str, tau_prior_scale: float,
                  bn_prior: tuple[str, float]) -> MetaPropResult:
    """method="BAYES_BN": Bayesian binomial-normal model (:func:`analysis.engine.bayes_bn.binomial_normal`).

    The estimate is expit of the posterior median of mu (the posterior median of the median true
    proportion), the CI the equal-tailed credible interval, the PI the posterior predictive
    interval of a new study's true proportion; ``se`` is the posterior SD of mu, ``tau2`` the
    posterior median of tau^2 and ``tau2_ci`` the squared credible interval of tau. No
    continuity correction enters the model; the study rows' logits and the Q/I^2 statistics are
    those of the continuity-corrected inverse-variance model, shown for description only.
    """
    from analysis.engine.bayes_bn import binomial_normal, mu_prior_text

    family, scale = bn_prior
    yi, vi = _escalc_checked(x, n, labels, measure, cc)
    iv = rma_uni(yi, vi, "REML", "z", pi, level)
    b = binomial_normal(x, n, tau_scale=tau_prior_scale, mu_scale=scale, level=level,
                        mu_prior=family)
    tau2 = float(b.tau2_median)
    w = 1.0 / (np.asarray(vi) + tau2)
    weights = 100 * w / w.sum()
    weights.setflags(write=False)
    fit = replace(
        iv, mu=float(b.mu_median), se=float(b.mu_post_sd), ci_lower=float(b.mu_lower),
        ci_upper=float(b.mu_upper), pi_lower=float(b.pred_lower), pi_upper=float(b.pred_upper),
        ci_df=None, pi_df=None, tau2=tau2, weights=weights,
        tau2_ci=(float(b.tau_lower) ** 2, float(b.tau_upper) ** 2), method="BAYES_BN",
        ci="credible", pi="posterior predictive", i2=i2_from_tau2(tau2, vi),
        h2=h2_from_tau2(tau2, vi), notes=(), tau2_ci_capped=raw_field(iv, "tau2_ci_capped"))
    notes = [(f"Bayesian binomial-normal model (exact binomial likelihood, no continuity "
              f"correction): half-normal prior on tau with scale {tau_prior_scale:g}, "
              f"{mu_prior_text(family, scale)} (logit scale); mu and tau2 are posterior medians, "
              "se is the posterior SD of mu, intervals are equal-tailed posterior intervals"),
             "study weights shown are the inverse-variance weights 1/(vi + posterior median tau2)"]
    return _result(fit, x, n, labels, yi, vi, measure=measure, method="BAYES_BN", cc=cc,
                   study_ci_method=study_ci_method, extra_notes=notes, tau2_estimator="BAYES_BN")
