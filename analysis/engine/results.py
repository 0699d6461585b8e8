"""The immutable result of :func:`analysis.engine.metaprop` and its presentation.

:class:`MetaPropResult` only stores and formats numbers; every value is computed in
:mod:`analysis.engine.metaprop`. Names follow metafor where the contract does not fix others; the map
from metafor's names is :data:`METAFOR_NAMES`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis.engine.heterogeneity import LazyField

__all__ = ["MEASURE_LABELS", "METAFOR_NAMES", "MetaPropResult", "StudyRow"]

#: metafor field (``rma.uni``/``predict``/``confint``) -> our attribute.
METAFOR_NAMES: dict[str, str] = {
    "beta": "mu",
    "se": "se",
    "ci.lb": "mu_ci_lower",
    "ci.ub": "mu_ci_upper",
    "pi.lb": "mu_pi_lower",
    "pi.ub": "mu_pi_upper",
    "pval": "pvalue",
    "tau2": "tau2",
    "QE": "q",
    "QEp": "q_pvalue",
    "I2": "i2",
    "H2": "h2",
    "k": "k",
}

#: Human-readable names of the measures, used in printing and the methods text.
MEASURE_LABELS: dict[str, str] = {
    "PLO": "logit (log odds)",
    "PAS": "arcsine square root",
    "PFT": "Freeman-Tukey double arcsine",
    "PR": "raw proportion",
}

STUDY_COLUMNS: tuple[str, ...] = (
    "label", "events", "n", "proportion", "ci_lower", "ci_upper", "yi", "vi", "weight",
)

_CI_TEXT = {
    "z": "Wald-type (normal quantile)",
    "t": "Wald-type with a t quantile on k - 1 df (metafor rma.glmm test='t')",
    "hksj": "Hartung-Knapp-Sidik-Jonkman (t quantile, k - 1 df; metafor test='knha')",
    "hksj_adhoc": (
        "Hartung-Knapp-Sidik-Jonkman with the ad hoc correction (standard error never below the "
        "Wald standard error; t quantile, k - 1 df; metafor test='adhoc')"
    ),
}
_TAU2_TEXT = {
    "EE": "none (common-effect model, tau^2 = 0)",
    "DL": "DerSimonian-Laird",
    "REML": "restricted maximum likelihood (REML)",
    "ML": "maximum likelihood (ML)",
    "PM": "Paule-Mandel",
    "SJ": "Sidik-Jonkman",
    "HE": "Hedges",
}


@dataclass(frozen=True)
class StudyRow:
    """One study as displayed: counts, proportion, its CI, effect, variance and weight (%)."""

    label: str
    events: int
    n: int
    proportion: float
    ci_lower: float
    ci_upper: float
    yi: float
    vi: float
    weight: float


@dataclass(frozen=True)
class MetaPropResult:
    """Pooled proportion with heterogeneity, per-study table and the settings that made it.

    Proportions (display scale, always in [0, 1]): ``estimate``, ``ci_lower``, ``ci_upper``,
    ``pi_lower``, ``pi_upper``. Measure scale: ``mu``, ``se``, ``mu_ci_lower``,
    ``mu_ci_upper``, ``mu_pi_lower``, ``mu_pi_upper``, ``tau2``, ``tau2_ci``.
    Heterogeneity: ``q`` (Cochran's Q, or metafor's Wald Q for the GLMM), ``q_df``,
    ``q_pvalue``, ``i2`` (percent, from tau2 as metafor), ``i2_q`` (percent, from Q as meta),
    ``h2``; ``lrt``/``lrt_pvalue`` for the GLMM only. Settings: ``measure``, ``method``,
    ``ci``, ``pi``, ``level``, ``tau2_estimator`` (what produced tau2, which differs from
    ``method`` after a fallback), ``continuity_correction``, ``n_corrected``,
    ``n_harmonic`` (PFT only), ``study_ci``. ``notes`` lists every fallback and caveat.
    ``studies`` is a fresh :class:`pandas.DataFrame` built from the immutable ``study_rows``
    on every access. ``tau2_ci`` (Q-profile) and ``study_rows`` (the studies' own intervals) are
    computed on first access and then kept (:class:`analysis.engine.heterogeneity.LazyField`):
    a fit whose study table is never read does not pay for it.
    """

    k: int
    estimate: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    mu: float
    se: float
    mu_ci_lower: float
    mu_ci_upper: float
    mu_pi_lower: float
    mu_pi_upper: float
    pvalue: float | None
    ci_df: int | None
    pi_df: int | None
    tau2: float
    tau2_ci: tuple[float, float] = LazyField()  # type: ignore[assignment]  # on first access
    q: float
    q_df: int
    q_pvalue: float
    i2: float
    i2_q: float
    h2: float
    measure: str
    method: str
    ci: str
    pi: str
    level: float
    tau2_estimator: str
    total_events: int
    total_n: int
    continuity_correction: float
    n_corrected: int
    n_harmonic: float | None
    study_ci: str
    study_rows: tuple[StudyRow, ...] = LazyField()  # type: ignore[assignment]  # on first access
    notes: tuple[str, ...] = ()
    lrt: float | None = None
    lrt_pvalue: float | None = None
    version: str = ""

    @property
    def studies(self) -> pd.DataFrame:
        """Per-study table with columns label, events, n, proportion, ci_lower, ci_upper, yi,
        vi, weight (percent)."""
        rows = [[getattr(r, c) for c in STUDY_COLUMNS] for r in self.study_rows]
        return pd.DataFrame(rows, columns=list(STUDY_COLUMNS))

    @property
    def tau(self) -> float:
        """Square root of tau2."""
        return math.sqrt(self.tau2)

    def summary(self) -> pd.DataFrame:
        """Forest-plot table: the studies, then a pooled row and a prediction-interval row.

        Columns are those of :attr:`studies` plus ``row`` ("study", "pooled", "prediction").
        The pooled row holds the totals, the pooled proportion and its CI, ``yi = mu``,
        ``vi = se**2`` and weight 100; the prediction row holds the pooled proportion with the
        prediction bounds in ``ci_lower``/``ci_upper`` and no counts or weight.
        """
        studies = self.studies.assign(row="study")
        pooled = {
            "label": f"Pooled ({self.method})", "events": self.total_events, "n": self.total_n,
            "proportion": self.estimate, "ci_lower": self.ci_lower, "ci_upper": self.ci_upper,
            "yi": self.mu, "vi": self.se**2, "weight": 100.0, "row": "pooled",
        }
        pred = {
            "label": "Prediction interval", "events": pd.NA, "n": pd.NA,
            "proportion": self.estimate, "ci_lower": self.pi_lower, "ci_upper": self.pi_upper,
            "yi": self.mu, "vi": self.se**2 + self.tau2, "weight": pd.NA, "row": "prediction",
        }
        extra = pd.DataFrame([pooled, pred]).astype({"events": "Int64", "n": "Int64"})
        out = pd.concat([studies.astype({"events": "Int64", "n": "Int64"}), extra])
        return out.reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the pooled numbers, settings and notes (no per-study rows)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            if name == "study_rows":
                continue
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def methods_text(self) -> str:
        """Plain-language "details of methods" naming every choice behind the numbers."""
        return " ".join(_methods_sentences(self))

    def __str__(self) -> str:
        return "\n".join(_layout(self))


def _pct(level: float) -> str:
    return f"{100 * level:g}%"


def _model_sentence(r: MetaPropResult) -> str:
    if r.tau2_estimator == "EXACT":
        what = ("The result is the single study's own proportion"
                if r.k == 1 else f"The result is the proportion of the summed counts of the {r.k} studies")
        return (f"No model was fitted. {what}, with its exact (Clopper-Pearson) "
                f"{_pct(r.level)} confidence interval; the prediction interval equals it.")
    if r.tau2_estimator == "GLMM":
        return ("Proportions were pooled with a binomial-normal random-intercept logistic model "
                "(GLMM) fitted by maximum likelihood to the event counts, without continuity "
                "correction; tau^2 is its maximum-likelihood estimate and the standard error "
                "of the pooled logit comes from the joint observed information.")
    if r.tau2_estimator == "BAYES_BN":
        return ("Proportions were pooled with a Bayesian binomial-normal random-effects model "
                "(exact binomial likelihood of the event counts, normal random effects on the logit "
                "scale, no continuity correction), computed by numerical integration; the "
                "estimate is the posterior median with an equal-tailed credible interval, and "
                "the prediction interval is the posterior predictive interval.")
    if r.tau2_estimator == "BAYES":
        return ("Proportions were pooled with a Bayesian normal-normal random-effects model on "
                f"the {MEASURE_LABELS[r.measure]} scale, computed by numerical integration; the "
                "estimate is the posterior median with an equal-tailed credible interval, and "
                "the prediction interval is the posterior predictive interval.")
    model = "common-effect" if r.tau2_estimator == "EE" else "random-effects"
    return (f"Proportions were pooled by inverse-variance {model} meta-analysis on the "
            f"{MEASURE_LABELS[r.measure]} scale; between-study variance estimator: "
            f"{_TAU2_TEXT[r.tau2_estimator]}.")


def _transform_sentence(r: MetaPropResult) -> str:
    if r.tau2_estimator == "EXACT":
        return "Proportions were not transformed."
    if r.measure == "PFT":
        return ("Pooled values were back-transformed with Miller's inverse of the double arcsine "
                f"using the harmonic mean sample size ({r.n_harmonic:.4g}); this heuristic can "
                "mislead when sample sizes differ, so PFT results are a sensitivity analysis "
                "only.")
    if r.measure == "PR":
        return "Proportions were analysed untransformed; bounds outside [0, 1] are clipped."
    if r.measure == "PAS":
        return "Pooled values were back-transformed with sin^2."
    return "Pooled values were back-transformed with the inverse logit."


def _corrects(r: MetaPropResult) -> bool:
    """True when the pooled model adds the continuity correction (inverse-variance PLO or PR)."""
    return not (r.tau2_estimator in ("GLMM", "BAYES_BN", "EXACT") or r.measure in ("PAS", "PFT"))


#: Start of the note :func:`analysis.engine.metaprop.metaprop` adds when studies were corrected.
_CC_NOTE = "continuity correction "


def _correction_sentence(r: MetaPropResult) -> str:
    if not _corrects(r):
        return "No continuity correction was needed."
    names = [s.label for s in r.study_rows if s.events in (0, s.n)]
    which = f": {', '.join(names)}" if r.n_corrected and len(names) == r.n_corrected else ""
    return (f"A continuity correction of {r.continuity_correction:g} was added to events and "
            f"non-events of studies with 0 or n events only ({r.n_corrected} of {r.k} studies{which}).")


def _interval_sentences(r: MetaPropResult) -> list[str]:
    if r.tau2_estimator in ("BAYES", "BAYES_BN", "EXACT"):
        return []
    ci = _CI_TEXT[r.ci] if r.ci_df is not None or r.ci == "z" else r.ci
    pi = f"a t distribution with {r.pi_df} df" if r.pi_df is not None else "a normal quantile"
    out = [f"The {_pct(r.level)} confidence interval of the pooled estimate is {ci}."]
    if r.k == 1 or r.tau2_estimator == "EE":
        return [*out, ("The prediction interval equals the confidence interval (no "
                       "between-study variance is modelled).")]
    return [*out, f"The {_pct(r.level)} prediction interval uses {pi} and sqrt(SE^2 + tau^2)."]


def _het_sentence(r: MetaPropResult) -> str:
    if r.tau2_estimator == "EXACT":
        return "Heterogeneity was not estimated."
    q = ("the Wald-type Q of the saturated logistic model and the likelihood-ratio test (as "
         "metafor's rma.glmm)") if r.lrt is not None else "Cochran's Q (inverse-variance weights)"
    i2 = ("I^2 is derived from Q" if r.tau2_estimator == "EE"
          else "I^2 is derived from tau^2 and the typical within-study variance (as metafor)")
    if r.tau2_estimator in ("BAYES", "BAYES_BN"):
        i2 = "I^2 is derived from the posterior median of tau^2 and the typical within-study variance"
        q = ("tau^2 and I^2 from the model's posterior, with no test (Cochran's Q of the "
             "inverse-variance weights is computed for reference only)")
    tau_ci = ("the interval of tau^2 is the squared credible interval of tau"
              if r.tau2_estimator in ("BAYES", "BAYES_BN") else
              "the confidence interval of tau^2 is the GLMM's profile-likelihood interval, and I^2's "
              "interval comes from it" if r.tau2_estimator == "GLMM" else
              "the confidence interval of tau^2 is the Q-profile interval")
    return f"Heterogeneity: {q}; {i2}; the Q-based I^2 (as meta) is also reported; {tau_ci}."


def _methods_sentences(r: MetaPropResult) -> list[str]:
    study = "Clopper-Pearson" if r.study_ci == "clopper-pearson" else "Wilson score"
    out = [_model_sentence(r), _transform_sentence(r), _correction_sentence(r)]
    out += _interval_sentences(r)
    out += [_het_sentence(r), f"Study confidence intervals are {study} intervals."]
    # The correction sentence already names the corrected studies: its note is not repeated.
    out += [f"Note: {n}." for n in r.notes if not (_corrects(r) and n.startswith(_CC_NOTE))]
    return out


def _f(x: float | None, d: int = 4) -> str:
    return "NA" if x is None else f"{x:.{d}f}"


def _layout(r: MetaPropResult) -> list[str]:
    model = {"EE": "Common-Effect Model", "EXACT": "No model (exact interval)", "GLMM": "Random-Effects Model (binomial-normal GLMM)",
             "BAYES": "Bayesian Random-Effects Model",
             "BAYES_BN": "Bayesian Random-Effects Model (binomial-normal)"}.get(r.tau2_estimator, "Random-Effects Model")
    lines = [f"{model} (k = {r.k}; tau^2 estimator: {r.tau2_estimator})",
             f"Measure: {r.measure} ({MEASURE_LABELS[r.measure]})", ""]
    if r.tau2_estimator == "EXACT":
        return [*lines[:2], *_pooled_lines(r)]
    if r.tau2_estimator not in ("EE", "EXACT"):
        lo, hi = r.tau2_ci
        lines += [
            f"tau^2 (estimated amount of total heterogeneity): {_f(r.tau2)} [{_f(lo)}, {_f(hi)}]",
            f"tau (square root of estimated tau^2 value):      {_f(r.tau)}",
        ]
    lines += [
        f"I^2 (total heterogeneity / total variability):   {r.i2:.2f}%",
        f"I^2 from Q (as meta):                             {r.i2_q:.2f}%",
        f"H^2 (total variability / sampling variability):  {r.h2:.2f}",
        "", "Test for Heterogeneity:",
        f"Q(df = {r.q_df}) = {r.q:.4f}, p-val = {r.q_pvalue:.4f}",
    ]
    if r.lrt is not None:
        lines.append(f"LRT(df = {r.q_df}) = {r.lrt:.4f}, p-val = {_f(r.lrt_pvalue)}")
    lines += ["", f"Model Results ({r.measure} scale):",
              f"{'estimate':>9} {'se':>8} {'pval':>8} {'ci.lb':>8} {'ci.ub':>8}",
              f"{r.mu:9.4f} {r.se:8.4f} {_f(r.pvalue):>8} {r.mu_ci_lower:8.4f} {r.mu_ci_upper:8.4f}",
              *_pooled_lines(r)]
    return lines


def _pooled_lines(r: MetaPropResult) -> list[str]:
    return ["", "Pooled proportion:",
            f"  {r.estimate:.4f} [{r.ci_lower:.4f}, {r.ci_upper:.4f}] ({_pct(r.level)} CI)",
            f"  prediction interval [{r.pi_lower:.4f}, {r.pi_upper:.4f}]",
            f"  {r.total_events} events in {r.total_n} participants",
            "", "Details of methods:", *[f"  {s}" for s in _methods_sentences(r)]]
