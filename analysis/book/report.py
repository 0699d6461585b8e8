"""Formatting of results for reading: numbers as text, and tables for the pages.

Presentation only: nothing here computes a statistic. Every function takes engine results or
DataFrames and returns strings or DataFrames ready to display.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd


def _finite(x: Any, what: str) -> float:
    """``x`` as a finite float; missing (None, NaN, pd.NA) or infinite values raise ValueError."""
    try:
        value = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: got a missing value ({x!r}); the engine should never return one") from None
    if not math.isfinite(value):
        raise ValueError(f"{what}: got a missing value or infinity ({x!r}); the engine should never return one")
    return value


def percent(x: float, digits: int = 0) -> str:
    """A proportion as a percentage string, e.g. ``percent(0.8456) == "85%"``."""
    return f"{100 * _finite(x, 'percent'):.{digits}f}%"


def interval(lower: float, upper: float, digits: int = 0) -> str:
    """``"70% to 93%"``: an interval of proportions in words (no ambiguous dash)."""
    return f"{percent(lower, digits)} to {percent(upper, digits)}"


def per_100(x: float) -> str:
    """A proportion as a whole number of patients per 100, rounded as :func:`percent` rounds it.

    A proportion above 0 that rounds to 0 reads ``"<1"`` and one below 1 that rounds to 100 reads
    ``">99"``, so that neither "none" nor "all" is claimed where the number is neither.

    Examples
    --------
    >>> [per_100(x) for x in (0.0, 0.004, 0.006, 0.875, 0.994, 0.996, 1.0)]
    ['0', '<1', '1', '88', '99', '>99', '100']
    """
    value = _finite(x, "per_100")
    if not 0 <= value <= 1:
        raise ValueError(f"per_100: a proportion must lie in [0, 1], got {value!r}")
    shown = percent(value).rstrip("%")
    if shown == "0" and value > 0:
        return "<1"
    if shown == "100" and value < 1:
        return ">99"
    return shown


def per_100_with_ci(estimate: float, lower: float, upper: float) -> str:
    """``"88 per 100 (52 to 98)"``: an absolute effect as GRADE's summary-of-findings tables print it."""
    return f"{per_100(estimate)} per 100 ({per_100(lower)} to {per_100(upper)})"


def is_bayesian(res: Any) -> bool:
    """Whether a result's interval is a Bayesian credible interval (methods ``BAYES`` and ``BAYES_BN``)."""
    return str(getattr(res, "method", "")).upper() in ("BAYES", "BAYES_BN")


def interval_word(res: Any) -> str:
    """``"CrI"`` (credible interval) for a Bayesian result, else ``"CI"`` (confidence interval)."""
    return "CrI" if is_bayesian(res) else "CI"


def interval_name(res: Any) -> str:
    """``"credible interval"`` for a Bayesian result, else ``"confidence interval"``."""
    return "credible interval" if is_bayesian(res) else "confidence interval"


def estimate_with_ci(res: Any, digits: int = 0) -> str:
    """``"84% (95% CI 70% to 93%)"`` from a result with estimate and interval bounds (``CrI``, the
    credible interval, for a Bayesian result)."""
    level = round(100 * float(getattr(res, "level", 0.95)))
    ci = interval(res.ci_lower, res.ci_upper, digits)
    return f"{percent(res.estimate, digits)} ({level}% {interval_word(res)} {ci})"


#: Fewest studies for which a prediction interval is drawn: with k = 2 it rests on a t
#: distribution with one degree of freedom and spans nearly the whole scale (riley2011).
MIN_K_PREDICTION = 3
#: Fewest studies from which heterogeneity (tau², I², the test) is estimated and shown; the plan's
#: ``few_studies.min_studies_heterogeneity`` says the same and
#: :class:`analysis.evidence.fewstudies.FewStudyRules` reads it.
MIN_K_HETEROGENEITY = 5


def shows_prediction_interval(result: Any, min_k: int = MIN_K_PREDICTION,
                              min_k_heterogeneity: int = MIN_K_HETEROGENEITY) -> bool:
    """Whether a pooled result gets a prediction interval: random effects, k >= ``min_k`` (the plan's
    ``few_studies.min_studies_prediction``) and heterogeneity estimable (k >= ``min_k_heterogeneity``);
    never for an exact result without a model."""
    if str(getattr(result, "tau2_estimator", "")).upper() == "EXACT":
        return False
    k = int(result.k)
    return str(result.method).upper() != "EE" and k >= min_k and k >= min_k_heterogeneity


def no_prediction_reason(result: Any, min_k: int = MIN_K_PREDICTION,
                         min_k_heterogeneity: int = MIN_K_HETEROGENEITY) -> str:
    """Why a pooled result has no prediction interval, in words (empty when it has one)."""
    k = int(result.k)
    if str(getattr(result, "tau2_estimator", "")).upper() == "EXACT":
        return "an exact interval without a model has no between-study variance"
    if str(result.method).upper() == "EE":
        return "a common-effect model has no between-study variance"
    if k < min_k_heterogeneity:
        return (f"heterogeneity cannot be estimated from {_words(k)} studies (at least "
                f"{_words(min_k_heterogeneity)} needed)")
    if k < min_k:
        return f"fewer than {_words(min_k)} studies"
    return ""


def prediction_interval(res: Any, digits: int = 0, min_k: int = MIN_K_PREDICTION,
                        min_k_heterogeneity: int = MIN_K_HETEROGENEITY) -> str:
    """``"95% PI 40% to 99%"``; without one, the words say why (for example "no prediction interval:
    heterogeneity cannot be estimated from three studies (at least five needed)")."""
    level = round(100 * float(getattr(res, "level", 0.95)))
    if not shows_prediction_interval(res, min_k, min_k_heterogeneity):
        return f"no prediction interval: {no_prediction_reason(res, min_k, min_k_heterogeneity)}"
    return f"{level}% PI {interval(res.pi_lower, res.pi_upper, digits)}"


def _words(n: int) -> str:
    """Small numbers in words, as the sentences print them."""
    return {2: "two", 3: "three", 4: "four", 5: "five"}.get(n, str(n))


def events_of(events: int, total: int) -> str:
    """``"12/15"``."""
    return f"{int(events)}/{int(total)}"


#: Former name of :data:`MIN_K_HETEROGENEITY` (I² is one of the heterogeneity statistics).
MIN_K_I2 = MIN_K_HETEROGENEITY

#: tau² at or below this counts as estimated at 0 (the boundary of the likelihood).
TAU2_ZERO = 1e-10


def i2_with_interval(res: Any, min_k: int = MIN_K_HETEROGENEITY) -> str:
    """``"I² = 57% (95% CI 21% to 80%)"``: the point and its interval from the same model (the model's own
    interval of tau², :func:`analysis.evidence.fewstudies.i2_interval`); empty for k below ``min_k``."""
    from analysis.evidence.fewstudies import i2_interval

    if int(res.k) < min_k:
        return ""
    level = round(100 * float(getattr(res, "level", 0.95)))
    try:
        bounds = i2_interval(res)
    except AttributeError:  # a result-like object without the study rows the interval needs: no I²
        bounds = None
    if bounds is None:
        return ""
    word = interval_word(res)
    return f"I² = {res.i2:.0f}% ({level}% {word} {bounds[0]:.0f}% to {bounds[1]:.0f}%)"


def heterogeneity_test(res: Any) -> str:
    """The model's own test for heterogeneity: the likelihood-ratio test for the GLMM (metafor's ``QE.LRT``:
    saturated against fixed-effect logistic model, which uses every study, 0/n and n/n ones included),
    Cochran's Q for an inverse-variance model, none for a Bayesian one."""
    method = str(res.method).upper()
    if method in ("BAYES", "BAYES_BN"):
        return ""
    if method == "GLMM" and getattr(res, "lrt", None) is not None:
        return f"likelihood-ratio test {res.lrt:.2f} (df {res.q_df}, {_p_equals(res.lrt_pvalue)})"
    return f"Q = {res.q:.1f} (df {res.q_df}, {_p_equals(res.q_pvalue)})"


def _p_equals(p: float) -> str:
    """``"p = 0.005"`` or ``"p < 0.001"``."""
    text = pvalue(p)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def heterogeneity(res: Any, min_k: int = MIN_K_HETEROGENEITY) -> str:
    """Heterogeneity in words, from one model, only where it can be estimated.

    Below ``min_k`` studies (the plan's ``few_studies.min_studies_heterogeneity``): "cannot be estimated
    from three studies (at least five needed)", with no tau² or I² (a tau² of 0 from so few studies means
    "not estimable", not "absent"). Otherwise ``"τ² = 0.36 (95% CI 0.11 to 2.38); I² = 57% (95% CI 21% to
    80%); likelihood-ratio test 42.23 (df 13, p <0.001)"``, and when tau² is estimated at 0 a sentence that
    this does not show its absence.
    """
    k = int(res.k)
    if k < 2:
        return "heterogeneity does not apply to one study"
    if str(res.method).upper() == "EE":
        return "not modelled (common-effect model); " + heterogeneity_test(res)
    if k < min_k:
        return f"cannot be estimated from {_words(k)} studies (at least {_words(min_k)} needed)"
    level = round(100 * float(getattr(res, "level", 0.95)))
    word = interval_word(res)
    lo, hi = res.tau2_ci
    upper = "∞" if not math.isfinite(hi) else f"{hi:.2f}"
    parts = [f"τ² = {res.tau2:.2f} ({level}% {word} {lo:.2f} to {upper})", i2_with_interval(res, min_k),
             heterogeneity_test(res)]
    text = "; ".join(p for p in parts if p)
    if res.tau2 <= TAU2_ZERO:
        text += (f"; τ² is estimated at 0: no heterogeneity was detected in {_words(k)} studies, which does not "
                 "show that there is none")
    return text


def pvalue(p: float) -> str:
    """p values as journals print them: ``<0.001``, else three decimals."""
    p = _finite(p, "pvalue")
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def shown_estimate(synth: Any) -> tuple[float, float, float]:
    """(estimate, lower, upper) a reader sees for an outcome with one number.

    Pooled: the pooled proportion and its CI. A single study: its observed proportion and its
    exact (Clopper-Pearson) CI, never a model's back-transformed estimate. Studies shown side by
    side have no single number: ValueError.
    """
    if synth.pooled:
        res = synth.result
        return float(res.estimate), float(res.ci_lower), float(res.ci_upper)
    if synth.k != 1:
        raise ValueError(f"{synth.outcome}: {synth.k} studies shown side by side have no single estimate")
    study = synth.studies.iloc[0]
    return float(study["proportion"]), float(study["ci_lower"]), float(study["ci_upper"])


def pooled_words(res: Any) -> str:
    """What a pooled number is: on the logit scale with random effects, the median of the studies' true
    proportions (the inverse logit of the mean logit), not their mean."""
    if str(res.measure).upper() == "PLO" and str(res.method).upper() != "EE":
        return "pooled proportion (the median of the studies' true proportions)"
    return "pooled proportion"


def study_result(study: Any, digits: int = 0, level: int = 95) -> str:
    """``"Rejeski 2022: 12/12 (100%; exact 95% CI 74% to 100%)"`` from a row of ``synth.studies``."""
    return (f"{study['label']}: {events_of(study['events'], study['n'])} ({percent(study['proportion'], digits)}; "
            f"exact {level}% CI {interval(study['ci_lower'], study['ci_upper'], digits)})")


def headline(synth: Any, digits: int = 0) -> str:
    """One sentence of what the evidence on an outcome shows, following the plan's few-study rules.

    ``synth`` is an :class:`analysis.evidence.pipeline.OutcomeSynthesis`: no study; one study (shown as
    its own proportion with its exact interval, not pooled); studies side by side (not pooled, for the
    reason the rules give, each with its exact interval); or the pooled proportion with its CI, and
    either heterogeneity (I² with its interval) and the prediction interval, or the words that they
    cannot be estimated from so few studies.
    """
    level = round(100 * float(getattr(synth, "level", 0.95)))
    if synth.k == 0:
        return "No study has reported this outcome yet."
    if synth.display == "single":
        study = synth.studies.iloc[0]
        return (
            f"One study: shown as its own proportion, {events_of(study['events'], study['n'])} patients "
            f"({percent(study['proportion'], digits)}; exact {level}% CI "
            f"{interval(study['ci_lower'], study['ci_upper'], digits)}); not pooled."
        )
    if not synth.pooled:
        shown = "; ".join(study_result(s, digits, level) for _, s in synth.studies.iterrows())
        return f"Not pooled: {synth.reason}. {shown}."
    res = synth.result
    words = pooled_words(res)
    rules = getattr(synth, "rules", None)
    min_het = getattr(rules, "min_studies_heterogeneity", MIN_K_HETEROGENEITY)
    min_pi = getattr(rules, "min_studies_prediction", MIN_K_PREDICTION)
    text = f"{words[0].upper()}{words[1:]} {estimate_with_ci(res, digits)}"
    if shows_prediction_interval(res, min_pi, min_het):
        text += f", {prediction_interval(res, digits, min_pi, min_het)}"
    text += f", from {res.k} studies and {res.total_n} patients"
    if int(res.k) < min_het:
        return text + (f"; heterogeneity cannot be estimated from {_words(int(res.k))} studies (at least "
                       f"{_words(min_het)} needed), so no I² or prediction interval is given.")
    i2 = i2_with_interval(res, min_het)
    tail = "" if shows_prediction_interval(res, min_pi, min_het) else f"; {prediction_interval(res, digits, min_pi, min_het)}"
    return text + (f"; {i2}" if i2 else "") + tail + "."


def incidence_sentence(ci: Any, label: str, other: str, days: Sequence[float] = ()) -> str:
    """A cumulative incidence with a competing event in words, e.g.

    ``"7 of 10 patients had neutrophil recovery and 2 had death first (death as a competing event).
    Cumulative incidence of neutrophil recovery by day 30: 50% (95% CI 27% to 93%); by day 60: 70%
    (95% CI 47% to 100%). Median time to neutrophil recovery (the day its cumulative incidence reaches
    50%): 30 days (95% CI 13 days to not reached)."``

    ``ci`` is an :class:`analysis.engine.survival.CumulativeIncidence`; ``label`` and ``other`` name
    the event and the competing event; ``days`` the days at which the curve is read off.
    """
    level = round(100 * float(ci.level))
    text = (f"{ci.events} of {ci.n} patients had {label} and {ci.competing} had {other} first "
            f"({other} as a competing event).")
    readings = []
    for day in days:
        if not ci.estimable_at(day):
            readings.append(f"by day {day:g}: not estimable (no patient observed that long)")
            continue
        lower, upper = ci.interval_at(day)
        band = (f" ({level}% CI {interval(lower, upper)})" if math.isfinite(lower) and math.isfinite(upper)
                else f" ({level}% CI not defined there)")
        readings.append(f"by day {day:g}: {percent(ci.at(day))}{band}")
    if readings:
        text += f" Cumulative incidence of {label} " + "; ".join(readings) + "."
    if math.isnan(ci.median):
        return text + f" Median time to {label}: not reached (its cumulative incidence stays below 50%)."

    def limit(x: float) -> str:
        return "not reached" if math.isnan(x) else f"{x:g} days"

    return text + (f" Median time to {label} (the day its cumulative incidence reaches 50%): {ci.median:g} days "
                   f"({level}% CI {limit(ci.median_ci_lower)} to {limit(ci.median_ci_upper)}).")


def labelled_columns(
    frame: pd.DataFrame, fields: Mapping[str, Mapping[str, Any]], columns: Sequence[str]
) -> pd.DataFrame:
    """Select ``columns`` and rename them to the schema's human titles.

    ``fields`` maps a column name to its Table Schema field (with a ``title``), so tables on the
    site use the same words as the data dictionary. Missing cells become an empty string, which
    the data dictionary defines as "not reported".
    """
    present = [c for c in columns if c in frame.columns]
    titles = {c: str(fields.get(c, {}).get("title", c)) for c in present}
    shown = frame[present].astype(object)
    return shown.where(shown.notna(), "").rename(columns=titles)
