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


def estimate_with_ci(res: Any, digits: int = 0) -> str:
    """``"84% (95% CI 70% to 93%)"`` from a result with estimate and CI bounds."""
    level = round(100 * float(getattr(res, "level", 0.95)))
    ci = interval(res.ci_lower, res.ci_upper, digits)
    return f"{percent(res.estimate, digits)} ({level}% CI {ci})"


#: Fewest studies for which a prediction interval is drawn: with k = 2 it rests on a t
#: distribution with one degree of freedom and spans nearly the whole scale (riley2011).
MIN_K_PREDICTION = 3


def shows_prediction_interval(result: Any) -> bool:
    """Whether a pooled result gets a prediction interval: random effects and k >= 3."""
    return str(result.method).upper() != "EE" and int(result.k) >= MIN_K_PREDICTION


def prediction_interval(res: Any, digits: int = 0) -> str:
    """``"95% PI 40% to 99%"``; for k < 3 the words say a prediction interval is not informative."""
    level = round(100 * float(getattr(res, "level", 0.95)))
    if not shows_prediction_interval(res):
        return "no prediction interval (fewer than three studies)"
    return f"{level}% PI {interval(res.pi_lower, res.pi_upper, digits)}"


def events_of(events: int, total: int) -> str:
    """``"12/15"``."""
    return f"{int(events)}/{int(total)}"


def heterogeneity(res: Any) -> str:
    """``"tau² = 0.36; I² = 57%; Q = 29.8 (df 13, p = 0.005)"``."""
    if res.k < 2:
        return "heterogeneity not estimable with one study"
    return (
        f"τ² = {res.tau2:.2f}; I² = {res.i2:.0f}%; "
        f"Q = {res.q:.1f} (df {res.q_df}, p = {pvalue(res.q_pvalue)})"
    )


def pvalue(p: float) -> str:
    """p values as journals print them: ``<0.001``, else three decimals."""
    p = _finite(p, "pvalue")
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def shown_estimate(synth: Any) -> tuple[float, float, float]:
    """(estimate, lower, upper) a reader sees for an outcome.

    Pooled: the pooled proportion and its CI. Not pooled (a single study): the study's observed
    proportion and its exact (Clopper-Pearson) CI, never a model's back-transformed estimate.
    """
    res = synth.result
    if synth.pooled:
        return float(res.estimate), float(res.ci_lower), float(res.ci_upper)
    study = res.studies.iloc[0]
    return float(study["proportion"]), float(study["ci_lower"]), float(study["ci_upper"])


def headline(synth: Any, digits: int = 0) -> str:
    """One sentence of what the evidence on an outcome shows, pooled or not.

    ``synth`` is an :class:`analysis.evidence.pipeline.OutcomeSynthesis`. With fewer studies than the plan
    needs for pooling, the sentence reports the single study result instead of a pooled one.
    """
    res = synth.result
    if res is None:
        return "No study has reported this outcome yet."
    if not synth.pooled:
        study = res.studies.iloc[0]
        level = round(100 * float(getattr(res, "level", 0.95)))
        return (
            f"One study reports it: {events_of(study['events'], study['n'])} patients "
            f"({percent(study['proportion'], digits)}; exact {level}% CI "
            f"{interval(study['ci_lower'], study['ci_upper'], digits)}); not pooled."
        )
    return (
        f"Pooled proportion {estimate_with_ci(res, digits)}, {prediction_interval(res, digits)}, "
        f"from {res.k} studies and {res.total_n} patients."
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
