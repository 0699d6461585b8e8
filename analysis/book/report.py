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


def estimate_with_ci(res: Any, digits: int = 0) -> str:
    """``"84% (95% CI 70% to 93%)"`` from a result with estimate and CI bounds."""
    level = round(100 * float(getattr(res, "level", 0.95)))
    ci = interval(res.ci_lower, res.ci_upper, digits)
    return f"{percent(res.estimate, digits)} ({level}% CI {ci})"


#: Fewest studies for which a prediction interval is drawn: with k = 2 it rests on a t
#: distribution with one degree of freedom and spans nearly the whole scale (riley2011).
MIN_K_PREDICTION = 3


def shows_prediction_interval(result: Any, min_k: int = MIN_K_PREDICTION) -> bool:
    """Whether a pooled result gets a prediction interval: random effects and k >= ``min_k`` (the plan's
    ``few_studies.min_studies_prediction``, 3 by default); never for an exact result without a model."""
    if str(getattr(result, "tau2_estimator", "")).upper() == "EXACT":
        return False
    return str(result.method).upper() != "EE" and int(result.k) >= min_k


def prediction_interval(res: Any, digits: int = 0, min_k: int = MIN_K_PREDICTION) -> str:
    """``"95% PI 40% to 99%"``; for k < 3 the words say a prediction interval is not informative."""
    level = round(100 * float(getattr(res, "level", 0.95)))
    if not shows_prediction_interval(res, min_k):
        return f"no prediction interval (fewer than {_words(min_k)} studies)"
    return f"{level}% PI {interval(res.pi_lower, res.pi_upper, digits)}"


def _words(n: int) -> str:
    """Small numbers in words, as the sentences print them."""
    return {2: "two", 3: "three", 4: "four", 5: "five"}.get(n, str(n))


def events_of(events: int, total: int) -> str:
    """``"12/15"``."""
    return f"{int(events)}/{int(total)}"


#: Fewest studies for which I² is shown (always with its confidence interval); the plan's
#: ``few_studies.min_studies_i2`` says the same and :class:`analysis.evidence.fewstudies.FewStudyRules` reads it.
MIN_K_I2 = 3


def i2_with_interval(res: Any, min_k: int = MIN_K_I2) -> str:
    """``"I² = 57% (95% CI 21% to 80%)"``; empty for k below ``min_k`` (I² means little there)."""
    from analysis.evidence.fewstudies import i2_interval

    if int(res.k) < min_k:
        return ""
    level = round(100 * float(getattr(res, "level", 0.95)))
    bounds = i2_interval(res)
    if bounds is None:
        return ""
    return f"I² = {res.i2:.0f}% ({level}% CI {bounds[0]:.0f}% to {bounds[1]:.0f}%)"


def heterogeneity(res: Any, min_k_i2: int = MIN_K_I2) -> str:
    """``"τ² = 0.36; I² = 57% (95% CI 21% to 80%); Q = 29.8 (df 13, p = 0.005)"``.

    I² is left out below ``min_k_i2`` studies and always carries its interval (Q-profile bounds of
    tau² mapped to I², as metafor's ``confint``).
    """
    if res.k < 2:
        return "heterogeneity not estimable with one study"
    i2 = i2_with_interval(res, min_k_i2)
    return "; ".join(part for part in (
        f"τ² = {res.tau2:.2f}", i2, f"Q = {res.q:.1f} (df {res.q_df}, p = {pvalue(res.q_pvalue)})") if part)


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
    """What a pooled number is: on the logit scale with random effects, the median true proportion."""
    if str(res.measure).upper() == "PLO" and str(res.method).upper() != "EE":
        return "pooled proportion (median true response rate across series)"
    return "pooled proportion"


def study_result(study: Any, digits: int = 0, level: int = 95) -> str:
    """``"Rejeski 2022: 12/12 (100%; exact 95% CI 74% to 100%)"`` from a row of ``synth.studies``."""
    return (f"{study['label']}: {events_of(study['events'], study['n'])} ({percent(study['proportion'], digits)}; "
            f"exact {level}% CI {interval(study['ci_lower'], study['ci_upper'], digits)})")


def headline(synth: Any, digits: int = 0) -> str:
    """One sentence of what the evidence on an outcome shows, following the plan's few-study rules.

    ``synth`` is an :class:`analysis.evidence.pipeline.OutcomeSynthesis`: no study; one study (its
    own proportion with its exact interval, not pooled); studies side by side (too few or too
    inconsistent to pool, each with its exact interval); or the pooled proportion with its CI, the
    prediction interval where it rests on enough studies, and I² with its interval.
    """
    level = round(100 * float(getattr(synth, "level", 0.95)))
    if synth.k == 0:
        return "No study has reported this outcome yet."
    if synth.display == "single":
        study = synth.studies.iloc[0]
        return (
            f"One study reports it: {events_of(study['events'], study['n'])} patients "
            f"({percent(study['proportion'], digits)}; exact {level}% CI "
            f"{interval(study['ci_lower'], study['ci_upper'], digits)}); not pooled."
        )
    if not synth.pooled:
        shown = "; ".join(study_result(s, digits, level) for _, s in synth.studies.iterrows())
        return f"Too few or too inconsistent studies to pool ({synth.reason}). {shown}."
    res = synth.result
    words = pooled_words(res)
    rules = getattr(synth, "rules", None)
    i2 = i2_with_interval(res, getattr(rules, "min_studies_i2", MIN_K_I2))
    pi = prediction_interval(res, digits, getattr(rules, "min_studies_prediction", MIN_K_PREDICTION))
    return (
        f"{words[0].upper()}{words[1:]} {estimate_with_ci(res, digits)}, {pi}, "
        f"from {res.k} studies and {res.total_n} patients" + (f"; {i2}." if i2 else ".")
    )


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
