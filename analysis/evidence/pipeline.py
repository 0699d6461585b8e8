"""Run a review's pre-specified analysis plan on its evidence tables.

The orchestration layer between the evidence (tables already loaded and validated) and the pages:
it selects the studies of an evidence set, gathers the rows of each outcome, calls the engine with
the plan's options and returns immutable, JSON-serialisable results. It knows the *shape* of an
evidence base (a study table keyed by ``study_id``, a long outcome table with ``events``/``total``)
but nothing about any clinical topic: the subgroups, methods and evidence sets come from the plan.

The plan is a mapping (``analysis_plan.yaml`` in this review) with the keys ``evidence_sets``,
``primary``, ``min_studies_to_pool``, ``few_studies`` (:mod:`analysis.evidence.fewstudies`),
``outcome_hierarchy`` (:mod:`analysis.evidence.hierarchy`), ``primary_excludes``, ``subgroups``,
``sensitivity`` and ``cumulative_order``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.engine.metaprop import metaprop
from analysis.engine.results import MetaPropResult
from analysis.evidence.fewstudies import FewStudyRules, exact_studies, judge
from analysis.evidence.hierarchy import hierarchy_levels, select_by_hierarchy

#: Engine options a plan entry may carry (everything else in the entry is descriptive).
ENGINE_OPTIONS = ("measure", "method", "ci", "pi", "level", "tau_prior_scale", "mu_prior",
                  "mu_prior_sd")


@dataclass(frozen=True)
class Plan:
    """A pre-specified analysis plan.

    Attributes
    ----------
    evidence_sets : mapping of set id to ``{"label": str, "where": {column: value}}``
    primary : engine options of the primary analysis (``measure``, ``method``, ``ci``, ``pi``, ``level``)
    min_studies_to_pool : an outcome with fewer studies shows the study results, not a pooled one
    few_studies : the rules for few or conflicting studies (:class:`FewStudyRules`)
    outcome_hierarchy : outcome id -> ordered levels of the outcome ids it is selected from
    primary_excludes : study or row column -> values whose rows the primary analysis leaves out
        (a sensitivity analysis puts them back)
    subgroups : list of ``{"id", "column", "label", "levels"}``
    sensitivity : ``{"methods": [...], "exclude_confidence": [...], "exclude_design": [...]}``
    cumulative_order : study column giving the order of the cumulative meta-analysis
    """

    evidence_sets: Mapping[str, Mapping[str, Any]]
    primary: Mapping[str, Any]
    min_studies_to_pool: int = 3
    few_studies: FewStudyRules = field(default_factory=FewStudyRules)
    outcome_hierarchy: Mapping[str, list[list[str]]] = field(default_factory=dict)
    primary_excludes: Mapping[str, list[Any]] = field(default_factory=dict)
    subgroups: tuple[Mapping[str, Any], ...] = ()
    sensitivity: Mapping[str, Any] = field(default_factory=dict)
    cumulative_order: str = "publication_date"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Plan:
        """Build a plan from its parsed YAML mapping, naming any missing key."""
        for key in ("evidence_sets", "primary"):
            if key not in raw:
                raise ValueError(f"analysis plan: required key '{key}' is missing")
        rules = FewStudyRules.from_plan(raw)
        hierarchy = raw.get("outcome_hierarchy") or {}
        if not isinstance(hierarchy, Mapping):
            raise ValueError("analysis plan: outcome_hierarchy must map outcome ids to {prefer: [...]}")  # noqa: TRY004 - plan errors are ValueErrors
        excludes = raw.get("primary_excludes") or {}
        if not isinstance(excludes, Mapping) or not all(isinstance(v, list) for v in excludes.values()):
            raise ValueError("analysis plan: primary_excludes must map a column to a list of values")
        _check_entry(raw["primary"], "primary")
        for i, entry in enumerate(raw.get("sensitivity", {}).get("methods", [])):
            _check_entry(entry, f"sensitivity.methods[{i}]")
        return cls(
            evidence_sets=raw["evidence_sets"],
            primary=raw["primary"],
            min_studies_to_pool=rules.min_studies_to_pool,
            few_studies=rules,
            outcome_hierarchy={str(k): hierarchy_levels(v, f"outcome_hierarchy.{k}") for k, v in hierarchy.items()},
            primary_excludes={str(k): list(v) for k, v in excludes.items()},
            subgroups=tuple(raw.get("subgroups", ())),
            sensitivity=raw.get("sensitivity", {}),
            cumulative_order=raw.get("cumulative_order", "publication_date"),
        )


def _check_entry(entry: Mapping[str, Any], where: str) -> None:
    """A plan entry may hold engine options and a label; anything else is a typo, named here."""
    unknown = sorted(set(entry) - set(ENGINE_OPTIONS) - {"label"})
    if unknown:
        raise ValueError(
            f"analysis plan: {where}: unknown option(s) {', '.join(unknown)}; "
            f"allowed: label, {', '.join(ENGINE_OPTIONS)}"
        )


def engine_options(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of a plan entry that :func:`analysis.engine.metaprop.metaprop` understands."""
    return {k: entry[k] for k in ENGINE_OPTIONS if k in entry}


@dataclass(frozen=True)
class OutcomeSynthesis:
    """The evidence on one outcome and, when the plan's rules allow it, its meta-analysis.

    ``rows`` are the studies of the primary analysis (``excluded`` the rows the plan's
    ``primary_excludes`` left out). ``display`` says how the outcome is shown (``none``,
    ``single``, ``side_by_side`` or ``pooled``, :func:`analysis.evidence.fewstudies.judge`) and
    ``reason`` why. ``result`` is the engine's fit, present only when ``display == "pooled"``:
    a single study or studies shown side by side are never given a model estimate; their own
    proportions with exact intervals are :attr:`studies`.
    """

    outcome: str
    label: str
    role: str
    rows: pd.DataFrame
    result: MetaPropResult | None
    display: str = "pooled"
    reason: str = ""
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)
    level: float = 0.95
    rules: FewStudyRules = field(default_factory=FewStudyRules)

    @property
    def pooled(self) -> bool:
        """Whether a pooled estimate is shown (the plan's few-study rules allow it)."""
        return self.display == "pooled"

    @property
    def studies(self) -> pd.DataFrame:
        """Each study's own proportion with its exact (Clopper-Pearson) interval."""
        return exact_studies(self.rows, self.level)

    @property
    def k(self) -> int:
        """Number of studies reporting the outcome."""
        return len(self.rows)

    @property
    def total_n(self) -> int:
        """Number of patients in the studies reporting the outcome."""
        return int(self.rows["total"].sum()) if len(self.rows) else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary for results snapshots."""
        out: dict[str, Any] = {
            "outcome": self.outcome,
            "label": self.label,
            "role": self.role,
            "k": self.k,
            "n": self.total_n,
            "events": int(self.rows["events"].sum()) if len(self.rows) else 0,
            "pooled": self.pooled,
            "display": self.display,
            "reason": self.reason,
            "studies": [str(s) for s in self.rows["study_id"]],
        }
        if "selected_from" in self.rows.columns:
            out["selected_from"] = [str(s) for s in self.rows["selected_from"]]
        if self.result is not None:
            out["result"] = result_record(self.result, self.rules)
        elif self.display == "single":  # the study itself, exact interval: no model
            study = self.studies.iloc[0]
            out["result"] = {"estimate": float(study["proportion"]), "ci_lower": float(study["ci_lower"]),
                             "ci_upper": float(study["ci_upper"]), "method": "single study",
                             "ci": "exact (Clopper-Pearson)", "k": 1}
        if not self.pooled and len(self.rows):
            out["study_results"] = self.studies.to_dict(orient="records")
        return out


#: Fields of a pooled result left out of the results snapshot: ``pvalue`` tests mu = 0, which on the logit
#: scale is a proportion of 50 % (on the arcsine or raw scale, of 0 %), a hypothesis no reader asks of a
#: proportion; a name without that meaning would mislead.
SNAPSHOT_OMITS = ("pvalue",)


def result_record(result: MetaPropResult, rules: FewStudyRules | None = None) -> dict[str, Any]:
    """A pooled result as the results snapshot records it.

    :meth:`MetaPropResult.to_dict` without :data:`SNAPSHOT_OMITS`, plus ``heterogeneity_estimable``:
    whether the plan's rules (``few_studies.min_studies_heterogeneity``) let its tau², I² and
    prediction interval be shown (they are kept as computed, for the record).
    """
    out = {k: v for k, v in result.to_dict().items() if k not in SNAPSHOT_OMITS}
    out["heterogeneity_estimable"] = (rules or FewStudyRules()).heterogeneity_estimable(result.k)
    return out


def select_studies(studies: pd.DataFrame, where: Mapping[str, Any]) -> pd.DataFrame:
    """Rows of ``studies`` whose columns equal every value in ``where`` (a list means any of)."""
    mask = pd.Series(True, index=studies.index)
    for column, wanted in where.items():
        if column not in studies.columns:
            raise ValueError(f"analysis plan: selection column '{column}' is not in the study table")
        values = wanted if isinstance(wanted, list | tuple) else [wanted]
        mask &= studies[column].isin(values)
    return studies.loc[mask]


def outcome_rows(studies: pd.DataFrame, outcomes: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """The rows of one outcome for the given studies, joined with the study columns.

    Rows are ordered by ``publication_date`` then ``study_id`` when those columns exist, so that
    every table and plot lists the studies in the same, chronological order.
    """
    rows = outcomes.loc[outcomes["outcome"] == outcome]
    rows = rows.loc[rows["study_id"].isin(studies["study_id"])]
    study_cols = [c for c in studies.columns if c not in rows.columns or c == "study_id"]
    merged = rows.merge(studies[study_cols], on="study_id", how="left", validate="many_to_one")
    order = [c for c in ("publication_date", "study_id") if c in merged.columns]
    return merged.sort_values(order, kind="stable").reset_index(drop=True) if order else merged


def fit_rows(rows: pd.DataFrame, options: Mapping[str, Any]) -> MetaPropResult | None:
    """Fit the engine to outcome rows (``events``, ``total``, ``study_id``); None when empty."""
    if rows.empty:
        return None
    labels = study_labels(rows)
    return metaprop(
        rows["events"].to_numpy(dtype=int),
        rows["total"].to_numpy(dtype=int),
        labels=labels,
        **engine_options(options),
    )


def study_labels(rows: pd.DataFrame) -> list[str]:
    """Display labels: the ``label`` column when present, else the study ids."""
    column = "label" if "label" in rows.columns else "study_id"
    return [str(v) for v in rows[column]]


def synthesise(
    studies: pd.DataFrame,
    outcomes: pd.DataFrame,
    vocabulary: Mapping[str, Mapping[str, Any]],
    plan: Plan,
    evidence_set: str = "review",
    one: Callable[..., OutcomeSynthesis] | None = None,
) -> dict[str, OutcomeSynthesis]:
    """Primary analysis of every outcome in the vocabulary, in vocabulary order.

    Parameters
    ----------
    studies, outcomes : the evidence tables (validated).
    vocabulary : outcome id -> ``{"label", "role", ...}`` (``outcomes.yaml``).
    plan : the analysis plan.
    evidence_set : key of ``plan.evidence_sets`` selecting the studies.
    one : callable, optional
        ``one(synthesis_of, outcome, meta, rows, plan, excluded)`` gives one outcome's synthesis; default
        calls :func:`synthesis_of`. A caller may pass a function that keeps results (a build's cache), so
        that an outcome whose rows did not change is not fitted again.
    """
    if evidence_set not in plan.evidence_sets:
        raise ValueError(f"analysis plan: no evidence set '{evidence_set}'")
    selected = select_studies(studies, plan.evidence_sets[evidence_set].get("where", {}))
    out: dict[str, OutcomeSynthesis] = {}
    for outcome, meta in vocabulary.items():
        rows, excluded = split_excluded(candidate_rows(selected, outcomes, outcome, plan, vocabulary), plan)
        out[outcome] = (synthesis_of(outcome, meta, rows, plan, excluded) if one is None
                        else one(synthesis_of, outcome, meta, rows, plan, excluded))
    return out


def candidate_rows(selected: pd.DataFrame, outcomes: pd.DataFrame, outcome: str, plan: Plan,
                   vocabulary: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The rows of an outcome: recorded directly, or selected by the plan's outcome hierarchy."""
    levels = plan.outcome_hierarchy.get(outcome)
    if levels is None:
        return outcome_rows(selected, outcomes, outcome)
    unknown = [o for level in levels for o in level if vocabulary is not None and o not in vocabulary]
    if unknown:
        raise ValueError(f"analysis plan: outcome_hierarchy.{outcome}: unknown outcome id(s) {', '.join(unknown)}")
    direct = outcomes.loc[outcomes["outcome"] == outcome]
    if len(direct):
        raise ValueError(
            f"outcomes: {len(direct)} row(s) recorded as '{outcome}' (study {direct['study_id'].iloc[0]}), which the "
            f"plan builds from other outcomes ({', '.join(o for level in levels for o in level)}); record the row "
            "under the study's own outcome"
        )
    chosen = select_by_hierarchy(outcomes.loc[outcomes["study_id"].isin(selected["study_id"])], levels, outcome)
    return outcome_rows(selected, chosen, outcome)


def split_excluded(rows: pd.DataFrame, plan: Plan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(kept, excluded): rows whose column holds a value listed in ``plan.primary_excludes`` are excluded."""
    mask = pd.Series(False, index=rows.index)
    for column, values in plan.primary_excludes.items():
        if column in rows.columns:
            mask |= rows[column].isin(values)
    return rows.loc[~mask].reset_index(drop=True), rows.loc[mask].reset_index(drop=True)


def synthesis_of(outcome: str, meta: Mapping[str, Any], rows: pd.DataFrame, plan: Plan,
                 excluded: pd.DataFrame | None = None) -> OutcomeSynthesis:
    """Apply the plan's few-study rules to one outcome's rows: fit only what may be pooled."""
    level = float(plan.primary.get("level", 0.95))
    studies = exact_studies(rows, level)
    fit = fit_rows(rows, plan.primary) if len(rows) >= plan.few_studies.min_studies_to_pool else None
    display, reason = judge(outcome, studies, fit, plan.few_studies)
    return OutcomeSynthesis(
        outcome=outcome,
        label=str(meta.get("label", outcome)),
        role=str(meta.get("role", "secondary")),
        rows=rows,
        result=fit if display == "pooled" else None,
        display=display,
        reason=reason,
        excluded=excluded if excluded is not None else rows.iloc[0:0],
        level=level,
        rules=plan.few_studies,
    )


def sensitivity_methods(rows: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The pooled estimate of one outcome under every method the plan lists.

    Returns one row per method with ``analysis``, ``k``, ``estimate``, ``ci_lower``,
    ``ci_upper``, ``pi_lower``, ``pi_upper``, ``tau2``, ``i2`` and ``notes``. With fewer studies
    than the plan needs to pool there is no model to vary: one row says so (a single study gives
    its own proportion with its exact interval).
    """
    if len(rows) < plan.min_studies_to_pool:
        return pd.DataFrame.from_records([_unpooled_row("No model (too few studies to pool)", rows, plan)])
    records = []
    for entry in plan.sensitivity.get("methods", []):
        res = fit_rows(rows, {**plan.primary, **entry})
        records.append(_row(str(entry.get("label", entry.get("method"))), res))
    return pd.DataFrame.from_records(records)


def sensitivity_subsets(rows: pd.DataFrame, plan: Plan, excluded: pd.DataFrame | None = None) -> pd.DataFrame:
    """The primary analysis repeated on the plan's restricted and extended sets of studies.

    ``exclude_confidence`` drops rows whose data are secondary or derived; ``exclude_design``
    drops designs; ``excluded`` (the rows the plan's ``primary_excludes`` left out of the primary
    analysis, such as single-patient case reports) are put back. The primary analysis is the
    first row. Every set follows the few-study rules: a single study gives its exact interval,
    fewer studies than the plan pools give no model row.
    """
    records = [_subset_row("Primary analysis", rows, plan)]
    for key, column, text in (
        ("exclude_confidence", "confidence", "Excluding data of confidence: "),
        ("exclude_design", "design", "Excluding designs: "),
    ):
        dropped = list(plan.sensitivity.get(key, []))
        if dropped and column in rows.columns:
            kept = rows.loc[~rows[column].isin(dropped)]
            records.append(_subset_row(text + ", ".join(dropped), kept, plan))
    if excluded is not None and len(excluded):
        what = "; ".join(f"{c.replace('_', ' ')}: {', '.join(str(v).replace('_', ' ') for v in vals)}"
                         for c, vals in plan.primary_excludes.items())
        both = pd.concat([rows, excluded], ignore_index=True)
        records.append(_subset_row(f"Including the studies the primary analysis leaves out ({what})", both, plan))
    return pd.DataFrame.from_records(records)


def _subset_row(label: str, rows: pd.DataFrame, plan: Plan) -> dict[str, Any]:
    if len(rows) < plan.min_studies_to_pool:
        return _unpooled_row(label, rows, plan)
    return _row(label, fit_rows(rows, plan.primary))


def _unpooled_row(label: str, rows: pd.DataFrame, plan: Plan) -> dict[str, Any]:
    """A set too small to pool: a single study's exact result, or nothing but the count."""
    k = len(rows)
    if k == 0:
        return {"analysis": label, "k": 0, "notes": "no studies"}
    if k > 1:
        return {"analysis": label, "k": k, "n": int(rows["total"].sum()),
                "notes": f"{k} studies: fewer than the {plan.min_studies_to_pool} the plan needs to pool; not pooled"}
    study = exact_studies(rows, float(plan.primary.get("level", 0.95))).iloc[0]
    return {"analysis": label, "k": 1, "n": int(study["n"]), "estimate": float(study["proportion"]),
            "ci_lower": float(study["ci_lower"]), "ci_upper": float(study["ci_upper"]),
            "notes": f"a single study ({study['label']}): its own proportion with its exact interval; no model"}


def _row(label: str, res: MetaPropResult | None) -> dict[str, Any]:
    if res is None:
        return {"analysis": label, "k": 0, "notes": "no studies"}
    return {
        "analysis": label,
        "k": res.k,
        "n": res.total_n,
        "estimate": res.estimate,
        "ci_lower": res.ci_lower,
        "ci_upper": res.ci_upper,
        "pi_lower": res.pi_lower,
        "pi_upper": res.pi_upper,
        "tau2": res.tau2,
        "i2": res.i2,
        "notes": "; ".join(res.notes),
    }


def cumulative_order(rows: pd.DataFrame, plan: Plan) -> np.ndarray:
    """Positions of ``rows`` in the plan's cumulative order (ties broken by study id)."""
    keys = [c for c in (plan.cumulative_order, "study_id") if c in rows.columns]
    return rows.sort_values(keys, kind="stable").index.to_numpy()
