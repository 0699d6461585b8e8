r"""The pre-specified rule that chooses the primary meta-analysis method from a simulation study.

The rule (its settings come from the review's simulation plan, a mapping with the keys
``candidates``, ``relevant``, ``core`` and ``rule``) is applied in steps to the candidate methods,
on the rows of a simulation summary (:data:`analysis.engine.simulation.SUMMARY_COLUMNS`):

1. **Gate** on the core scenarios: CI coverage :math:`\ge` ``coverage_floor`` and
   :math:`|\text{bias}| \le` ``bias_limit`` in every one. If no candidate passes, the candidates
   with the highest minimum core coverage go on.
2. **Two-sided coverage** on the relevant scenarios: the number of scenarios whose coverage lies
   outside :math:`c_0 \pm b \cdot \mathrm{MCSE}_0`, with :math:`\mathrm{MCSE}_0 =
   \sqrt{c_0(1-c_0)/R}` the Monte Carlo SE *at the nominal level* :math:`c_0` ([morris2019]);
   candidates within ``count_tolerance`` :math:`\times` (relevant scenarios) of the smallest count
   go on.
3. **Bias**: candidates whose largest :math:`|\text{bias}|` over the relevant scenarios is within
   ``bias_tolerance`` of the smallest go on.
4. **Interval score** ([gneiting2007]): the smallest mean over the relevant
   scenarios wins.
5. A remaining tie goes to the candidate listed first.

Pure: no I/O; the caller reads the plan and the summary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.engine.simulation import check_summary, coverage_band

__all__ = ["MethodChoice", "Step", "choice_text", "choose_method", "in_box", "rule_text"]


@dataclass(frozen=True)
class Step:
    """One step of the rule: its name, what was measured per candidate, who went on.

    Attributes
    ----------
    name : str
        "gate", "two-sided coverage", "bias", "interval score" or "tie-break".
    values : dict of str to float
        The measure per candidate that entered the step.
    kept : tuple of str
        Candidates that went on (in plan order).
    note : str
        What happened, in words (e.g. that no candidate passed the gate).
    """

    name: str
    values: dict[str, float]
    kept: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class MethodChoice:
    """Result of :func:`choose_method`: the chosen method and every step that led to it."""

    chosen: str
    steps: tuple[Step, ...]
    relevant_scenarios: int
    core_scenarios: int
    band: tuple[float, float]


def in_box(summary: Any, box: Mapping[str, Sequence[float]]) -> Any:
    """Boolean mask of the rows whose ``k``, ``proportion`` and ``tau`` lie in the closed ranges
    of ``box`` (e.g. ``{"k": [3, 10], "proportion": [0.8, 0.95], "tau": [0, 0.5]}``)."""
    mask = np.ones(len(summary), dtype=bool)
    for col, (lo, hi) in box.items():
        v = summary[col].to_numpy(dtype=float)
        mask &= (v >= float(lo) - 1e-12) & (v <= float(hi) + 1e-12)
    return mask


def _keep_close(values: dict[str, float], tolerance: float) -> tuple[str, ...]:
    best = min(values.values())
    return tuple(m for m, v in values.items() if v <= best + tolerance + 1e-12)


def choose_method(summary: Any, plan: Mapping[str, Any]) -> MethodChoice:
    """Apply the plan's rule (module docstring) to a simulation summary.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per scenario and method (:data:`analysis.engine.simulation.SUMMARY_COLUMNS`).
    plan : mapping
        ``candidates`` (list of method names), ``relevant`` and ``core`` (boxes for
        :func:`in_box`), ``level``, and ``rule`` with ``coverage_floor``, ``bias_limit``,
        ``band_mcse``, ``count_tolerance``, ``bias_tolerance``.

    Returns
    -------
    MethodChoice

    Raises
    ------
    ValueError
        A candidate without rows in the relevant or core scenarios, or missing columns.
    """
    check_summary(summary)
    rule = plan["rule"]
    level = float(plan.get("level", 0.95))
    cands = [str(c) for c in plan["candidates"]]
    rel = summary[in_box(summary, plan["relevant"]) & summary["method"].isin(cands).to_numpy()]
    core = rel[in_box(rel, plan["core"])]
    for name, part in (("relevant", rel), ("core", core)):
        missing = [c for c in cands if c not in set(part["method"])]
        if missing:
            raise ValueError(f"no {name} scenarios in the summary for {', '.join(missing)}")
    n_rel = len(rel) // len(cands)
    n_core = len(core) // len(cands)
    steps = []
    # 1. gate on the core scenarios
    g = core.groupby("method")
    min_cov = g["coverage_ci"].min().to_dict()
    max_bias = g["bias"].apply(lambda b: float(b.abs().max())).to_dict()
    passed = tuple(c for c in cands if min_cov[c] >= float(rule["coverage_floor"])
                   and max_bias[c] <= float(rule["bias_limit"]))
    note = ""
    if not passed:
        best = max(min_cov[c] for c in cands)
        passed = tuple(c for c in cands if min_cov[c] == best)
        note = "no candidate passed the gate; those with the highest minimum core coverage went on"
    steps.append(Step("gate", {c: float(min_cov[c]) for c in cands}, passed, note))
    # 2. two-sided coverage on the relevant scenarios
    sub = rel[rel["method"].isin(passed)]
    band = coverage_band(sub, level, float(rule["band_mcse"]))
    off = (band != "within").groupby(sub["method"]).sum()
    counts = {c: float(off[c]) for c in passed}
    kept = _keep_close(counts, float(rule["count_tolerance"]) * n_rel)
    steps.append(Step("two-sided coverage", counts, kept))
    # 3. bias
    sub = rel[rel["method"].isin(kept)]
    biases = {c: float(sub.loc[sub["method"] == c, "bias"].abs().max()) for c in kept}
    kept = _keep_close(biases, float(rule["bias_tolerance"]))
    steps.append(Step("bias", biases, kept))
    # 4. interval score
    sub = rel[rel["method"].isin(kept)]
    scores = {c: float(sub.loc[sub["method"] == c, "interval_score"].mean()) for c in kept}
    best = min(scores.values())
    kept = tuple(c for c in kept if scores[c] == best)
    steps.append(Step("interval score", scores, kept))
    if len(kept) > 1:
        steps.append(Step("tie-break", {}, kept[:1], "the candidate listed first"))
    reps = rel["replicates"].to_numpy(dtype=float)
    se0 = float(np.sqrt(level * (1 - level) / reps.min()))
    margin = float(rule["band_mcse"]) * se0
    return MethodChoice(kept[0], tuple(steps), n_rel, n_core, (level - margin, level + margin))


def _box_text(box: Mapping[str, Sequence[float]]) -> str:
    k, p, t = box["k"], box["proportion"], box["tau"]
    return (f"k {int(k[0])} to {int(k[1])} studies, true proportion {p[0]:g} to {p[1]:g}, "
            f"tau {t[0]:g} to {t[1]:g}")


def rule_text(plan: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> list[str]:
    """The plan's rule in words, one item per step (every number read from ``plan``)."""
    r, names = plan["rule"], dict(labels or {})
    lv = float(plan.get("level", 0.95))
    reps = int(plan.get("replicates", 1000))
    se0 = (lv * (1 - lv) / reps) ** 0.5
    cands = "; ".join(names.get(c, c) for c in plan["candidates"])
    return [
        f"Candidates: {cands}.",
        (f"Scenarios judged (relevant): {_box_text(plan['relevant'])}; core: "
         f"{_box_text(plan['core'])}."),
        (f"1. Gate: in every core scenario, coverage of the {100 * lv:g} % interval at least "
         f"{100 * float(r['coverage_floor']):g} % and absolute bias of the pooled proportion at "
         f"most {100 * float(r['bias_limit']):g} percentage points."),
        (f"2. Two-sided coverage: count the relevant scenarios whose coverage lies outside "
         f"{100 * lv:g} % +/- {r['band_mcse']:g} Monte Carlo SEs taken at the nominal level "
         f"(MCSE = sqrt({lv:g} x {1 - lv:g} / {reps}) = {100 * se0:.2f} points), below or above; "
         f"keep the methods within {100 * float(r['count_tolerance']):g} % of the relevant "
         "scenarios of the smallest count."),
        (f"3. Bias: keep the methods whose largest absolute bias over the relevant scenarios is "
         f"within {100 * float(r['bias_tolerance']):g} percentage points of the smallest."),
        ("4. Interval score (width plus 2/alpha times the distance by which the interval misses "
         "the truth): the smallest mean over the relevant scenarios wins."),
        "5. A tie that remains goes to the candidate listed first.",
    ]


def choice_text(choice: MethodChoice, labels: Mapping[str, str] | None = None) -> list[str]:
    """What each step of :func:`choose_method` measured and who went on, in words."""
    names = dict(labels or {})

    def nm(m: str) -> str:
        return names.get(m, m)

    fmt = {"gate": lambda v: f"lowest core coverage {100 * v:.1f} %",
           "two-sided coverage": lambda v: f"{int(v)} of {choice.relevant_scenarios} off nominal",
           "bias": lambda v: f"largest |bias| {100 * v:.1f} points",
           "interval score": lambda v: f"mean interval score {v:.3f}"}
    out = []
    for step in choice.steps:
        if step.name == "tie-break":
            out.append(f"Tie-break: {nm(step.kept[0])} ({step.note}).")
            continue
        vals = "; ".join(f"{nm(m)}: {fmt[step.name](v)}" for m, v in step.values.items())
        went = "; ".join(nm(m) for m in step.kept)
        note = f" ({step.note})" if step.note else ""
        out.append(f"{step.name.capitalize()}: {vals}. Went on: {went}{note}.")
    out.append(f"Chosen: {nm(choice.chosen)}.")
    return out
