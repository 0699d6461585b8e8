r"""The pre-specified rule that chooses the primary meta-analysis method from a simulation study.

The rule (its settings come from the review's simulation plan, a mapping with the keys
``candidates``, ``relevant``, ``level`` and ``rule``) is applied in steps to the candidate
methods, on the rows of a simulation summary (:data:`analysis.engine.simulation.SUMMARY_COLUMNS`;
a scenario is identified by ``k``, ``proportion``, ``tau`` and, when present, ``mechanism`` and
``param``). Step 1 is one of two coverage gates, ``rule["gate"]``:

1. **Coverage gate.** Both gates use :math:`\mathrm{MCSE}_0 = \sqrt{c_0(1-c_0)/R}`, the Monte
   Carlo SE of a coverage *at the nominal level* :math:`c_0` with :math:`R` replicates
   ([burton2006], [morris2019]), so that a method covering 100 % is not given an MCSE of 0.

   * ``"mean_coverage"``: the candidate's coverage averaged over the :math:`S` relevant
     scenarios must lie in Bradley's liberal band :math:`c_0 \pm (1-c_0)/2` ([bradley1978]:
     92.5 % to 97.5 % at 95 %), each limit widened by :math:`z_m\,\mathrm{MCSE}_0/\sqrt{S}`
     (``mean_z``; the MCSE of a mean of :math:`S` independent coverages at the nominal level).
     Two-sided: an interval that covers needlessly often is as much outside as one that covers
     too rarely. If nobody passes, those nearest the band go on.
   * ``"per_scenario"`` (the default): with :math:`z = \Phi^{-1}\{1 - \alpha_F/(2S)\}`
     (Bonferroni, two-sided, ``family_alpha``) the band is :math:`c_0 \pm z\,\mathrm{MCSE}_0`.
     A candidate passes when (a) its coverage lies below the band in no relevant scenario, and
     (b) within it in at least ``min_within`` of the scenarios where nominal coverage is
     reachable (at least one candidate not above the band). If nobody passes, the candidates
     that meet (a) go on; if nobody meets (a), those with the fewest scenarios below the band.

   Whichever gate decides, the per-scenario band (``family_alpha``) is reported for every
   candidate: scenarios below, within and above it, and the lowest and mean coverage.
2. **Interval score** ([gneiting2007]): the smallest mean over the relevant scenarios wins.
3. An exact tie goes to the candidate listed first.

Pure: no I/O; the caller reads the plan and the summary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from analysis.engine.simulation import check_summary

__all__ = [
    "SCENARIO_KEYS",
    "MethodChoice",
    "Step",
    "candidate_measures",
    "choice_text",
    "choose_method",
    "confirmation_plan",
    "in_box",
    "mean_band",
    "rule_text",
    "runner_up",
]

#: Columns that identify a scenario (those present in a summary are used).
SCENARIO_KEYS: tuple[str, ...] = ("mechanism", "param", "k", "proportion", "tau")


@dataclass(frozen=True)
class Step:
    """One step of the rule: its name, what was measured per candidate, who went on.

    Attributes
    ----------
    name : str
        "coverage gate", "interval score" or "tie-break".
    values : dict of str to float
        The measure that decided, per candidate that entered the step.
    kept : tuple of str
        Candidates that went on (in plan order).
    note : str
        What happened, in words (e.g. that no candidate passed the gate).
    details : dict of str to dict of str to float
        Further measures per candidate (e.g. ``within``, ``above``, ``mean_width``).
    """

    name: str
    values: dict[str, float]
    kept: tuple[str, ...]
    note: str = ""
    details: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodChoice:
    """Result of :func:`choose_method`: the chosen method and every step that led to it.

    ``band`` is the coverage band, ``z`` its multiplier of ``mcse0`` (the Monte Carlo SE at the
    nominal level), ``relevant_scenarios`` the number S of scenarios judged and
    ``reachable_scenarios`` those where at least one candidate was not above the band. ``gate`` is
    the kind of step 1 (``"per_scenario"`` or ``"mean_coverage"``) and ``mean_band`` the band of
    the mean coverage when it is ``"mean_coverage"`` (:func:`mean_band`).
    """

    chosen: str
    steps: tuple[Step, ...]
    relevant_scenarios: int
    band: tuple[float, float]
    z: float
    mcse0: float
    reachable_scenarios: int
    gate: str = "per_scenario"
    mean_band: tuple[float, float] | None = None


def confirmation_plan(plan: Mapping[str, Any]) -> dict[str, Any]:
    """The plan of the confirmation run: the plan's candidates, level and rule with the
    ``confirmation`` section's grids, study sizes, seed, replicates, reported-only methods and
    relevant box (a :class:`ValueError` when the plan has no such section)."""
    conf = plan.get("confirmation")
    if conf is None:
        raise ValueError("simulation plan: no 'confirmation' section")
    if not isinstance(conf, dict):
        raise TypeError("simulation plan: 'confirmation' must be a mapping")
    keys = ("grids", "n_min", "n_max", "replicates", "seed")
    missing = [k for k in keys if k not in conf]
    if missing:
        raise ValueError(f"simulation plan: confirmation lacks {', '.join(missing)}")
    out = {k: v for k, v in plan.items() if k != "confirmation"}
    out.update({k: conf[k] for k in keys})
    out["reported_only"] = list(conf.get("reported_only", []))
    out["relevant"] = conf.get("relevant", plan["relevant"])
    return out


def in_box(summary: Any, box: Mapping[str, Sequence[float]]) -> Any:
    """Boolean mask of the rows whose ``k``, ``proportion`` and ``tau`` lie in the closed ranges
    of ``box`` (e.g. ``{"k": [2, 10], "proportion": [0.8, 1.0], "tau": [0, 1]}``)."""
    mask = np.ones(len(summary), dtype=bool)
    for col, (lo, hi) in box.items():
        v = summary[col].to_numpy(dtype=float)
        mask &= (v >= float(lo) - 1e-12) & (v <= float(hi) + 1e-12)
    return mask


def band_multiplier(scenarios: int, family_alpha: float) -> float:
    """Bonferroni two-sided multiplier :math:`\\Phi^{-1}\\{1 - \\alpha_F/(2S)\\}`."""
    return float(stats.norm.ppf(1 - family_alpha / (2 * scenarios)))


def _relevant(summary: Any, plan: Mapping[str, Any]) -> tuple[Any, list[str], list[str]]:
    check_summary(summary)
    cands = [str(c) for c in plan["candidates"]]
    rel = summary[in_box(summary, plan["relevant"]) & summary["method"].isin(cands).to_numpy()]
    missing = [c for c in cands if c not in set(rel["method"])]
    if missing:
        raise ValueError(f"no relevant scenarios in the summary for {', '.join(missing)}")
    keys = [c for c in SCENARIO_KEYS if c in rel.columns]
    counts = rel.groupby("method").size()
    if counts.nunique() != 1:
        raise ValueError("the candidates were not all simulated in the same relevant scenarios: "
                         + ", ".join(f"{m} {n}" for m, n in counts.items()))
    return rel, cands, keys


def _gate(cov: Any, lo: float, hi: float, cands: list[str],
          min_within: float) -> tuple[Step, int]:
    below, above = cov < lo, cov > hi
    within = ~below & ~above
    reachable = ~above.all(axis=1)
    n_reach = int(reachable.sum())
    n_below = {c: int(below[c].sum()) for c in cands}
    n_within = {c: int(within.loc[reachable, c].sum()) for c in cands}
    n_above = {c: int(above[c].sum()) for c in cands}
    ok_a = [c for c in cands if n_below[c] == 0]
    kept = tuple(c for c in ok_a if n_within[c] >= min_within * n_reach - 1e-12)
    note = ""
    if not kept and ok_a:
        kept, note = tuple(ok_a), ("no candidate passed both parts of the gate; those never below "
                                   "the band went on")
    elif not kept:
        fewest = min(n_below.values())
        kept = tuple(c for c in cands if n_below[c] == fewest)
        note = ("every candidate was below the band somewhere; those below it in the fewest "
                "scenarios went on")
    details = {"below": {c: float(v) for c, v in n_below.items()},
               "within": {c: float(v) for c, v in n_within.items()},
               "above": {c: float(v) for c, v in n_above.items()},
               "min_coverage": {c: float(cov[c].min()) for c in cands},
               "mean_coverage": {c: float(cov[c].mean()) for c in cands}}
    step = Step("coverage gate", {c: float(v) for c, v in n_below.items()}, kept, note, details)
    return step, n_reach


def candidate_measures(rows: Any, methods: Sequence[str]) -> Any:
    r"""Each method's measures averaged over the scenarios of ``rows`` (a simulation summary).

    Mean interval score with its Monte Carlo SE :math:`\sqrt{\sum_s \mathrm{MCSE}_s^2}/S` (the
    scenarios are independent), mean CI width, mean and lowest coverage, and the largest
    absolute bias ([morris2019]).

    Returns
    -------
    pandas.DataFrame
        Indexed by method in the order of ``methods``; columns ``interval_score``,
        ``interval_score_mcse``, ``width_ci``, ``coverage_ci``, ``coverage_min``, ``bias_max_abs``.

    Raises
    ------
    ValueError
        A method with no row in ``rows``.
    """
    missing = [m for m in methods if m not in set(rows["method"])]
    if missing:
        raise ValueError(f"no rows in the summary for {', '.join(missing)}")
    groups = rows[rows["method"].isin(list(methods))].groupby("method")
    out = groups.agg(interval_score=("interval_score", "mean"), width_ci=("width_ci", "mean"),
                     coverage_ci=("coverage_ci", "mean"), coverage_min=("coverage_ci", "min"),
                     bias_max_abs=("bias", lambda b: float(np.abs(b).max())))
    out["interval_score_mcse"] = groups["interval_score_mcse"].apply(
        lambda v: float(np.sqrt((v**2).sum())) / len(v))
    return out.loc[list(methods)]


def runner_up(choice: MethodChoice) -> tuple[str, float, float] | None:
    """The candidate with the next smallest interval score after the chosen one: its name, how much
    larger its score is, and the Monte Carlo SE of that difference (the two MCSEs combined); None
    when only the chosen method reached the interval-score step."""
    step = next(s for s in choice.steps if s.name == "interval score")
    others = {m: v for m, v in step.values.items() if m != choice.chosen}
    if not others:
        return None
    name = min(others, key=others.__getitem__)
    mcse = step.details["mcse"]
    return (name, others[name] - step.values[choice.chosen],
            math.sqrt(mcse[name] ** 2 + mcse[choice.chosen] ** 2))


def mean_band(level: float, mcse0: float, scenarios: int, z: float) -> tuple[float, float]:
    r"""Bradley's liberal band for a mean coverage, widened by its Monte Carlo error.

    :math:`c_0 \pm \{(1 - c_0)/2 + z\,\mathrm{MCSE}_0/\sqrt{S}\}`: the liberal criterion of
    [bradley1978] (an error rate within half of its nominal value either way; 92.5 % to 97.5 % for
    a 95 % interval) plus ``z`` Monte Carlo SEs of a mean of ``scenarios`` independent coverages
    at the nominal level.
    """
    if scenarios < 1:
        raise ValueError("mean_band: at least one scenario is needed")
    half = (1 - level) / 2 + z * mcse0 / math.sqrt(scenarios)
    return level - half, level + half


def _mean_gate(cov: Any, band: tuple[float, float], per_scenario: Step) -> Step:
    """Step 1 of the ``mean_coverage`` gate: mean coverage inside ``band``; else the nearest."""
    lo, hi = band
    means = {c: float(cov[c].mean()) for c in per_scenario.values}
    dist = {c: max(lo - m, m - hi, 0.0) for c, m in means.items()}
    kept = tuple(c for c in means if dist[c] == 0.0)
    note = ""
    if not kept:
        nearest = min(dist.values())
        kept = tuple(c for c in means if dist[c] <= nearest + 1e-12)
        note = "no candidate's mean coverage lay within the band; the nearest went on"
    details = {**per_scenario.details, "distance": dist}
    return Step("coverage gate", means, kept, note, details)


def choose_method(summary: Any, plan: Mapping[str, Any]) -> MethodChoice:
    """Apply the plan's rule (module docstring) to a simulation summary.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per scenario and method (:data:`analysis.engine.simulation.SUMMARY_COLUMNS`).
    plan : mapping
        ``candidates`` (list of method names), ``relevant`` (a box for :func:`in_box`),
        ``level``, and ``rule`` with ``family_alpha`` and ``min_within``.

    Returns
    -------
    MethodChoice

    Raises
    ------
    ValueError
        A candidate without rows in the relevant scenarios, candidates simulated in different
        scenarios, or missing columns.
    """
    rel, cands, keys = _relevant(summary, plan)
    rule = plan["rule"]
    level = float(plan.get("level", 0.95))
    cov = rel.pivot_table(index=keys, columns="method", values="coverage_ci", aggfunc="first")
    n_rel = len(cov)
    mcse0 = math.sqrt(level * (1 - level) / float(rel["replicates"].min()))
    z = band_multiplier(n_rel, float(rule["family_alpha"]))
    lo, hi = level - z * mcse0, level + z * mcse0
    gate, n_reach = _gate(cov, lo, hi, cands, float(rule.get("min_within", 0.5)))
    kind = str(rule.get("gate", "per_scenario"))
    mband: tuple[float, float] | None = None
    if kind == "mean_coverage":
        mband = mean_band(level, mcse0, n_rel, float(rule.get("mean_z", 1.96)))
        gate = _mean_gate(cov, mband, gate)
    elif kind != "per_scenario":
        raise ValueError(f"simulation plan: rule.gate is {kind!r}; expected 'per_scenario' or "
                         "'mean_coverage'")
    steps = [gate]
    measures = candidate_measures(rel, gate.kept)
    scores = {c: float(measures.loc[c, "interval_score"]) for c in gate.kept}
    best = min(scores.values())
    kept = tuple(c for c in gate.kept if scores[c] <= best + 1e-12)
    steps.append(Step("interval score", scores, kept,
                      details={"mcse": measures["interval_score_mcse"].to_dict(),
                               "mean_width": measures["width_ci"].to_dict(),
                               "mean_coverage": {c: gate.details["mean_coverage"][c] for c in gate.kept}}))
    if len(kept) > 1:
        steps.append(Step("tie-break", {}, kept[:1], "the candidate listed first"))
    return MethodChoice(kept[0], tuple(steps), n_rel, (lo, hi), z, mcse0, n_reach, kind, mband)


def _box_text(box: Mapping[str, Sequence[float]]) -> str:
    k, p, t = box["k"], box["proportion"], box["tau"]
    return (f"k {int(k[0])} to {int(k[1])} studies, true proportion {p[0]:g} to {p[1]:g}, "
            f"tau {t[0]:g} to {t[1]:g}")


def rule_text(plan: Mapping[str, Any], labels: Mapping[str, str] | None = None,
              scenarios: int | None = None) -> list[str]:
    """The plan's rule in words, one item per step (every number read from ``plan``; the band's
    multiplier also from the number of relevant ``scenarios`` when given)."""
    r, names = plan["rule"], dict(labels or {})
    lv = float(plan.get("level", 0.95))
    reps = int(plan.get("replicates", 1000))
    se0 = (lv * (1 - lv) / reps) ** 0.5
    alpha = float(r["family_alpha"])
    cands = "; ".join(names.get(c, c) for c in plan["candidates"])
    if scenarios:
        z = band_multiplier(scenarios, alpha)
        band = (f"z = {z:.2f} for S = {scenarios} scenarios, so the band is {100 * (lv - z * se0):.1f} % "
                f"to {100 * (lv + z * se0):.1f} %")
    else:
        band = "S the number of relevant scenarios"
    head = [f"Candidates: {cands}.",
            f"Scenarios judged (relevant): {_box_text(plan['relevant'])}, every data-generating mechanism."]
    tail = [
        ("2. Interval score (width plus 2/alpha times the distance by which the interval misses the "
         "truth): the smallest mean over the relevant scenarios wins. Bias is reported, not used to "
         "choose."),
        "3. An exact tie goes to the candidate listed first.",
    ]
    if str(r.get("gate", "per_scenario")) == "mean_coverage":
        zm = float(r.get("mean_z", 1.96))
        if scenarios:
            lo, hi = mean_band(lv, se0, scenarios, zm)
            band = f"; with S = {scenarios} scenarios the band is {100 * lo:.2f} % to {100 * hi:.2f} %"
        else:
            band = ", S the number of relevant scenarios"
        gate = (f"1. Two-sided coverage gate on the mean coverage over the relevant scenarios. Band: "
                f"{100 * lv:g} % plus or minus half of the nominal error rate ({100 * (1 - lv) / 2:g} "
                f"points; Bradley's liberal criterion), each limit widened by {zm:g} Monte Carlo SEs of "
                f"a mean of S coverages at the nominal level (sqrt({lv:g} x {1 - lv:g} / {reps}) / "
                f"sqrt(S)){band}. A candidate passes when its mean coverage lies within the band: "
                "below it the intervals are too narrow, above it needlessly wide. If nobody passes, "
                "the candidates nearest the band go on. Reported for every candidate, not used to "
                f"choose: the scenarios in which its coverage lies below, within and above the "
                f"per-scenario band (Bonferroni over the scenarios, family alpha {alpha:g}) and its "
                "lowest coverage.")
        return [*head, gate, *tail]
    return [
        *head,
        (f"1. Two-sided coverage gate. Band: {100 * lv:g} % plus or minus z Monte Carlo SEs taken at "
         f"the nominal level (MCSE = sqrt({lv:g} x {1 - lv:g} / {reps}) = {100 * se0:.2f} points), with "
         f"z the normal quantile 1 - {alpha:g} / (2 S) ({band}): a method with exactly nominal "
         f"coverage everywhere leaves the band anywhere with probability at most {alpha:g}. A "
         "candidate passes when its coverage is below the band in no relevant scenario and within "
         f"the band in at least {100 * float(r['min_within']):g} % of the scenarios where nominal "
         "coverage is reachable (at least one candidate not above the band). If nobody passes, the "
         "candidates never below the band go on; if there are none, those below it in the fewest "
         "scenarios."),
        *tail,
    ]


def choice_text(choice: MethodChoice, labels: Mapping[str, str] | None = None) -> list[str]:
    """What each step of :func:`choose_method` measured and who went on, in words."""
    names = dict(labels or {})

    def nm(m: str) -> str:
        return names.get(m, m)

    out = []
    n, reach = choice.relevant_scenarios, choice.reachable_scenarios
    for step in choice.steps:
        note = f" ({step.note})" if step.note else ""
        went = "; ".join(nm(m) for m in step.kept)
        if step.name == "coverage gate" and choice.gate == "mean_coverage" and choice.mean_band:
            d, (lo, hi) = step.details, choice.mean_band
            vals = "; ".join(
                f"{nm(m)}: mean coverage {100 * v:.1f} % (lowest {100 * d['min_coverage'][m]:.1f} %, "
                f"below the per-scenario band in {int(d['below'][m])} of {n})"
                for m, v in step.values.items())
            verb = "Went on" if step.note else "Passed"
            out.append(f"Coverage gate (mean coverage within {100 * lo:.2f} % to {100 * hi:.2f} %): "
                       f"{vals}. {verb}: {went}{note}.")
        elif step.name == "coverage gate":
            d = step.details
            vals = "; ".join(
                f"{nm(m)}: below the band in {int(v)} of {n}, within it in {int(d['within'][m])} of "
                f"{reach} where reachable, lowest coverage {100 * d['min_coverage'][m]:.1f} %"
                for m, v in step.values.items())
            verb = "Went on" if step.note else "Passed"
            out.append(f"Coverage gate: {vals}. {verb}: {went}{note}.")
        elif step.name == "interval score":
            d = step.details
            vals = "; ".join(
                f"{nm(m)}: mean interval score {v:.3f} (MCSE {d['mcse'][m]:.3f}), mean CI width "
                f"{d['mean_width'][m]:.3f}, mean coverage {100 * d['mean_coverage'][m]:.1f} %"
                for m, v in step.values.items())
            out.append(f"Interval score: {vals}. Smallest: {went}.")
        else:
            out.append(f"Tie-break: {nm(step.kept[0])} ({step.note}).")
    out.append(f"Chosen: {nm(choice.chosen)}.")
    return out
