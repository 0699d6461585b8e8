"""Rules for outcomes with few or conflicting studies: what may be shown as a pooled headline.

A random-effects model fitted to one or two studies, or to studies that contradict each other,
gives a number that looks like a summary and is not one: a single 12/12 series becomes "96 %"
after a continuity correction, two series of 5/5 and 0/3 become "56 % (0 % to 100 %)". The plan
states, before the results are read, when a pooled number is shown (section ``few_studies``):

* k = 0: nothing.
* k = 1 (``single``): the study's own proportion with its exact (Clopper-Pearson) interval
  [clopper1934]; no model, no continuity correction, no heterogeneity.
* k below ``min_studies_to_pool`` (2 with the default of 3), or studies that conflict
  (``side_by_side``): the studies are shown side by side with their exact intervals, not pooled
  into a headline. Studies conflict when the plan lists the outcome under ``do_not_pool`` (a
  clinical judgement, with its reason), when two studies' exact intervals do not overlap
  (``conflict.nonoverlapping_study_cis``), or when the lower confidence bound of I² exceeds
  ``conflict.i2_lower_above`` percent.
* A pooled confidence interval that reaches both ends of the scale (below
  ``uninformative.lower`` and above ``uninformative.upper``; it would read "0 % to 100 %") carries
  no information and is not a headline either: the studies are shown side by side.
* Otherwise ``pooled``. Heterogeneity (tau², I² always with its interval, the test for
  heterogeneity) is estimable, and shown, only with k >= ``min_studies_heterogeneity``: with fewer
  studies a tau² of 0 means "cannot be estimated", not "absent" (I² is biased with few studies
  [vonhippel2015]). The prediction interval needs k >= ``min_studies_prediction`` (t with k - 1
  degrees of freedom [inthout2016] [cochranehandbook2024]) and an estimable heterogeneity.

I²'s interval comes from the model that gives its point: the interval of tau² of that model
mapped through :math:`I^2 = \\tau^2/(\\tau^2 + s^2)`, with :math:`s^2` the typical within-study
variance [higgins2002]: the Q-profile bounds [viechtbauer2007] for an inverse-variance model (as
metafor's ``confint``), the profile-likelihood bounds for the GLMM, the credible interval for a
Bayesian model (``result.tau2_ci`` in each case).

Nothing here knows a clinical topic: thresholds and outcome ids come from the plan.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.engine.heterogeneity import typical_within_variance
from analysis.engine.intervals import clopper_pearson

__all__ = ["DISPLAYS", "FewStudyRules", "exact_studies", "i2_interval", "judge"]

#: How an outcome is shown: no study, one study, studies side by side, a pooled estimate.
DISPLAYS = ("none", "single", "side_by_side", "pooled")


@dataclass(frozen=True)
class FewStudyRules:
    """The plan's rules for few or conflicting studies (see the module docstring)."""

    min_studies_to_pool: int = 3
    min_studies_heterogeneity: int = 5
    min_studies_prediction: int = 3
    nonoverlapping_study_cis: bool = True
    i2_lower_above: float | None = 50.0
    uninformative: tuple[float, float] | None = (0.005, 0.995)
    do_not_pool: Mapping[str, str] = field(default_factory=dict)

    @property
    def min_studies_i2(self) -> int:
        """Fewest studies for I² (the same as for any heterogeneity statistic)."""
        return self.min_studies_heterogeneity

    def heterogeneity_estimable(self, k: int) -> bool:
        """Whether k studies are enough to estimate (and show) heterogeneity."""
        return int(k) >= self.min_studies_heterogeneity

    def prediction_shown(self, k: int) -> bool:
        """Whether k studies get a prediction interval: enough of them, and heterogeneity estimable."""
        return int(k) >= self.min_studies_prediction and self.heterogeneity_estimable(k)

    @classmethod
    def from_plan(cls, raw: Mapping[str, Any]) -> FewStudyRules:
        """Read ``min_studies_to_pool`` and the ``few_studies`` section of a plan, naming bad values."""
        spec = raw.get("few_studies") or {}
        if not isinstance(spec, Mapping):
            raise ValueError("analysis plan: few_studies must be a mapping")  # noqa: TRY004 - plan errors are ValueErrors
        unknown = sorted(set(spec) - {"min_studies_heterogeneity", "min_studies_i2", "min_studies_prediction",
                                      "conflict", "uninformative", "do_not_pool"})
        if unknown:
            raise ValueError(f"analysis plan: few_studies: unknown key(s) {', '.join(unknown)}")
        conflict = spec.get("conflict") or {}
        unknown = sorted(set(conflict) - {"nonoverlapping_study_cis", "i2_lower_above"})
        if unknown:
            raise ValueError(f"analysis plan: few_studies.conflict: unknown key(s) {', '.join(unknown)}")
        unin = spec.get("uninformative", {"lower": 0.005, "upper": 0.995})
        bounds = None if unin is None else (float(unin["lower"]), float(unin["upper"]))
        if bounds is not None and not 0 <= bounds[0] < bounds[1] <= 1:
            raise ValueError(f"analysis plan: few_studies.uninformative: need 0 <= lower < upper <= 1, got {unin!r}")
        do_not_pool = spec.get("do_not_pool") or {}
        if not isinstance(do_not_pool, Mapping) or not all(str(v).strip() for v in do_not_pool.values()):
            raise ValueError("analysis plan: few_studies.do_not_pool: map each outcome id to the reason (text)")
        rules = cls(
            min_studies_to_pool=_whole(raw.get("min_studies_to_pool", 3), "min_studies_to_pool", 2),
            min_studies_heterogeneity=_heterogeneity_threshold(spec),
            min_studies_prediction=_whole(spec.get("min_studies_prediction", 3), "few_studies.min_studies_prediction", 3),
            nonoverlapping_study_cis=bool(conflict.get("nonoverlapping_study_cis", True)),
            i2_lower_above=None if conflict.get("i2_lower_above", 50) is None else float(conflict.get("i2_lower_above", 50)),
            uninformative=bounds,
            do_not_pool={str(k): " ".join(str(v).split()) for k, v in do_not_pool.items()},
        )
        return rules


def _heterogeneity_threshold(spec: Mapping[str, Any]) -> int:
    """``min_studies_heterogeneity`` (default 5); a plan written before 2026-12-07 named it ``min_studies_i2``."""
    if "min_studies_heterogeneity" in spec and "min_studies_i2" in spec:
        raise ValueError("analysis plan: few_studies: give min_studies_heterogeneity only (min_studies_i2 is "
                         "its former name)")
    name = "min_studies_i2" if "min_studies_i2" in spec else "min_studies_heterogeneity"
    return _whole(spec.get(name, 5), f"few_studies.{name}", 2)


def _whole(value: Any, name: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"analysis plan: {name} must be a whole number >= {minimum}, got {value!r}")
    return value


def exact_studies(rows: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Each study's observed proportion with its exact (Clopper-Pearson) interval.

    Columns ``label``, ``events``, ``n``, ``proportion``, ``ci_lower``, ``ci_upper`` (no
    continuity correction, no model). ``rows`` needs ``events`` and ``total`` and a ``label`` or
    ``study_id`` column.
    """
    labels = rows["label"] if "label" in rows.columns else rows["study_id"]
    x = rows["events"].to_numpy(dtype=int)
    n = rows["total"].to_numpy(dtype=int)
    if len(x) == 0:
        return pd.DataFrame(columns=["label", "events", "n", "proportion", "ci_lower", "ci_upper"])
    lo, hi = clopper_pearson(x, n, level)
    return pd.DataFrame({"label": [str(v) for v in labels], "events": x, "n": n, "proportion": x / n,
                         "ci_lower": lo, "ci_upper": hi})


def i2_interval(result: Any) -> tuple[float, float] | None:
    """I² (percent) at the bounds of the result's own interval of tau² (``result.tau2_ci``); None for k < 2.

    The interval comes from the model that gives I²'s point: Q-profile for an inverse-variance model
    (metafor's ``confint``), profile likelihood for the GLMM, credible interval for a Bayesian model.
    An infinite upper bound of tau² gives 100 %. None when tau² has no interval (an exact result
    without a model, :mod:`analysis.engine.exact`).
    """
    if int(result.k) < 2:
        return None
    lo, hi = (float(t) for t in result.tau2_ci)
    if np.isnan(lo) or np.isnan(hi):
        return None
    vi = np.array([r.vi for r in result.study_rows], dtype=float)
    s2 = typical_within_variance(vi)
    return 100 * lo / (lo + s2), (100.0 if math.isinf(hi) else 100 * hi / (hi + s2))


def _nonoverlapping(studies: pd.DataFrame) -> tuple[str, str] | None:
    """The first pair of studies whose exact intervals do not overlap, if any."""
    if len(studies) < 2:
        return None
    low = studies.loc[studies["ci_upper"].idxmin()]
    high = studies.loc[studies["ci_lower"].idxmax()]
    if float(low["ci_upper"]) < float(high["ci_lower"]):
        return str(low["label"]), str(high["label"])
    return None


def judge(outcome: str, studies: pd.DataFrame, result: Any | None, rules: FewStudyRules) -> tuple[str, str]:
    """How an outcome is shown (one of :data:`DISPLAYS`) and why, in words.

    ``studies`` is :func:`exact_studies` of the outcome's rows; ``result`` the model fit (None
    when k < ``min_studies_to_pool``).
    """
    k = len(studies)
    if k == 0:
        return "none", "no study reports this outcome"
    if k == 1:
        return "single", "one study: shown as its own proportion with its exact confidence interval"
    if k < rules.min_studies_to_pool:
        return "side_by_side", (f"{k} studies, fewer than the {rules.min_studies_to_pool} the plan needs to pool: "
                                "shown side by side")
    if outcome in rules.do_not_pool:
        return "side_by_side", f"not pooled by the plan: {rules.do_not_pool[outcome]}"
    if rules.nonoverlapping_study_cis and (pair := _nonoverlapping(studies)):
        return "side_by_side", (f"the studies conflict (the exact confidence intervals of {pair[0]} and {pair[1]} "
                                "do not overlap): shown side by side")
    if result is None:
        raise ValueError(f"{outcome}: {k} studies but no model fit to judge")
    if rules.i2_lower_above is not None and (ci := i2_interval(result)) and ci[0] > rules.i2_lower_above:
        return "side_by_side", (f"the studies conflict (the lower confidence bound of I² is {ci[0]:.0f}%, above "
                                f"the plan's {rules.i2_lower_above:g}%): shown side by side")
    if rules.uninformative is not None:
        lower, upper = rules.uninformative
        if float(result.ci_lower) < lower and float(result.ci_upper) > upper:
            return "side_by_side", ("the pooled confidence interval spans almost the whole scale and carries no "
                                    "information: shown side by side")
    return "pooled", f"{k} studies pooled"
