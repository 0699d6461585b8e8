r"""Exact answers where no random-effects model has anything to estimate.

Two kinds of data leave a meta-analysis of proportions without a model estimate that a referee
would accept:

* **One study** (k = 1): there is nothing to pool and no between-study variance to estimate. The
  answer is the study's own proportion :math:`x/n` with its exact (Clopper-Pearson) interval
  [clopper1934], whatever method was asked for.
* **Every study at the same boundary**: no study has an event, or every participant of every
  study has it. The counts then carry no information on between-study variation (the
  likelihood-ratio statistic for heterogeneity is exactly 0: the saturated and the common-effect
  logistic models fit equally well) and none on a finite logit: the binomial-normal GLMM has no
  finite maximum-likelihood estimate ([stijnen2010]), inverse-variance methods on the logit or
  raw scale pool nothing but their continuity correction (three 10/10 series become 95.5 %, with
  a zero-width HKSJ interval), and a Bayesian model returns its prior's pull away from the
  boundary. The answer is the common proportion :math:`X/N` of the summed counts (0 or 1, the
  maximum-likelihood estimate of the common-effect model and the limit of the GLMM's) with the
  exact Clopper-Pearson interval of :math:`X` out of :math:`N`: one-sided, from 0 to
  :math:`1 - (\alpha/2)^{1/N}` when there are no events and from :math:`(\alpha/2)^{1/N}` to 1
  when every participant has the event. It is exact under the common-effect model, the only
  model such data cannot contradict, and it contains the boundary, where the truth may lie.

Both answers are the same formula: the Clopper-Pearson interval of the summed counts
(:func:`exact_pooled`). Data with studies at both boundaries and none in between (0/5 and 5/5)
are not covered here: they show heterogeneity, and :func:`analysis.engine.metaprop` answers them
with the Bayesian binomial-normal model when the GLMM has no finite estimate.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.engine.intervals import clopper_pearson

__all__ = ["EXACT_CASES", "exact_case", "exact_note", "exact_pooled"]

#: The data situations answered exactly, by name.
EXACT_CASES: tuple[str, ...] = ("single study", "no events", "all events")


def exact_case(events: Any, n: Any) -> str | None:
    """Which exact answer the counts call for: "single study", "no events" (every study has 0
    events), "all events" (every study has n events), or None (a model is fitted)."""
    x = np.asarray(events)
    m = np.asarray(n)
    if x.size == 1:
        return "single study"
    if np.all(x == 0):
        return "no events"
    if np.all(x == m):
        return "all events"
    return None


def exact_pooled(events: Any, n: Any, level: float = 0.95) -> tuple[float, float, float]:
    """Proportion of the summed counts and its exact (Clopper-Pearson) interval.

    .. math:: \\hat p = X/N, \\quad X = \\textstyle\\sum x_i, \\; N = \\sum n_i;
              [B(\\alpha/2; X, N - X + 1),\\; B(1 - \\alpha/2; X + 1, N - X)]

    with :math:`B(q; a, b)` the beta quantile and the bounds 0 and 1 when :math:`X = 0` or
    :math:`X = N` ([clopper1934]).
    """
    x = int(np.sum(events))
    m = int(np.sum(n))
    lo, hi = clopper_pearson([x], [m], level)
    return x / m, float(lo[0]), float(hi[0])


def exact_note(case: str, method: str, k: int) -> str:
    """Why the exact interval is reported, in words (for ``notes`` and ``methods_text``)."""
    if case == "single study":
        return (f"one study: no pooling and no model (method {method!r} not applied); the result "
                "is the study's own proportion with its exact Clopper-Pearson interval, and the "
                "prediction interval equals it")
    which = "no study has an event" if case == "no events" else "every participant of every study has the event"
    return (f"{which} ({k} studies): the counts carry no information on between-study variation "
            f"and no finite logit, so method {method!r} is not applied; the result is the "
            "proportion of the summed counts with its exact Clopper-Pearson interval (exact under "
            "the common-effect model, which these data cannot contradict), and the prediction "
            "interval equals it")
