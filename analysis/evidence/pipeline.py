"""Run a review's pre-specified analysis plan on its evidence tables.

The orchestration layer between the evidence (tables already loaded and validated) and the pages:
it selects the studies of an evidence set, gathers the rows of each outcome, calls the engine with
the plan's options and returns immutable, JSON-serialisable results. It knows the *shape* of an
evidence base (a study table keyed by ``study_id``, a long outcome table with ``events``/``total``)
but nothing about any clinical topic: the subgroups, methods and evidence sets come from the plan.

The plan is a mapping (``analysis_plan.yaml`` in this review) with the keys ``evidence_sets``,
``primary``, ``min_studies_to_pool``, ``subgroups``, ``sensitivity`` and ``cumulative_order``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.engine.metaprop import metaprop
from analysis.engine.results import MetaPropResult

#: Engine options a plan entry may carry (everything else in the entry is descriptive).
ENGINE_OPTIONS = ("measure", "method", "ci", "pi", "level", "tau_prior_scale")


@dataclass(frozen=True)
class Plan:
    """A pre-specified analysis plan.

    Attributes
    ----------
    evidence_sets : mapping of set id to ``{"label": str, "where": {column: value}}``
    primary : engine options of the primary analysis (``measure``, ``method``, ``ci``, ``pi``, ``level``)
    min_studies_to_pool : an outcome with fewer studies shows the study result, not a pooled one
    subgroups : list of ``{"id", "column", "label", "levels"}``
    sensitivity : ``{"methods": [...], "exclude_confidence": [...], "exclude_design": [...]}``
    cumulative_order : study column giving the order of the cumulative meta-analysis
    """

    evidence_sets: Mapping[str, Mapping[str, Any]]
    primary: Mapping[str, Any]
    min_studies_to_pool: int = 2
    subgroups: tuple[Mapping[str, Any], ...] = ()
    sensitivity: Mapping[str, Any] = field(default_factory=dict)
    cumulative_order: str = "publication_date"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Plan:
        """Build a plan from its parsed YAML mapping, naming any missing key."""
        for key in ("evidence_sets", "primary"):
            if key not in raw:
                raise ValueError(f"analysis plan: required key '{key}' is missing")
        minimum = raw.get("min_studies_to_pool", 2)
        if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 1:
            raise ValueError(f"analysis plan: min_studies_to_pool must be a whole number >= 1, got {minimum!r}")
        _check_entry(raw["primary"], "primary")
        for i, entry in enumerate(raw.get("sensitivity", {}).get("methods", [])):
            _check_entry(entry, f"sensitivity.methods[{i}]")
        return cls(
            evidence_sets=raw["evidence_sets"],
            primary=raw["primary"],
            min_studies_to_pool=minimum,
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
    """The evidence on one outcome and, when there is enough of it, its meta-analysis.

    ``result`` is the engine's fit of all rows (with k = 1 it is the single study, not a pooled
    estimate); ``pooled`` says whether k reached the plan's minimum for pooling.
    """

    outcome: str
    label: str
    role: str
    rows: pd.DataFrame
    result: MetaPropResult | None
    pooled: bool

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
            "pooled": self.pooled,
            "studies": [str(s) for s in self.rows["study_id"]],
        }
        if self.result is not None:
            out["result"] = self.result.to_dict()
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
) -> dict[str, OutcomeSynthesis]:
    """Primary analysis of every outcome in the vocabulary, in vocabulary order.

    Parameters
    ----------
    studies, outcomes : the evidence tables (validated).
    vocabulary : outcome id -> ``{"label", "role", ...}`` (``outcomes.yaml``).
    plan : the analysis plan.
    evidence_set : key of ``plan.evidence_sets`` selecting the studies.
    """
    if evidence_set not in plan.evidence_sets:
        raise ValueError(f"analysis plan: no evidence set '{evidence_set}'")
    selected = select_studies(studies, plan.evidence_sets[evidence_set].get("where", {}))
    out: dict[str, OutcomeSynthesis] = {}
    for outcome, meta in vocabulary.items():
        rows = outcome_rows(selected, outcomes, outcome)
        out[outcome] = OutcomeSynthesis(
            outcome=outcome,
            label=str(meta.get("label", outcome)),
            role=str(meta.get("role", "secondary")),
            rows=rows,
            result=fit_rows(rows, plan.primary),
            pooled=len(rows) >= plan.min_studies_to_pool,
        )
    return out


def sensitivity_methods(rows: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The pooled estimate of one outcome under every method the plan lists.

    Returns one row per method with ``analysis``, ``k``, ``estimate``, ``ci_lower``,
    ``ci_upper``, ``pi_lower``, ``pi_upper``, ``tau2``, ``i2`` and ``notes``.
    """
    records = []
    for entry in plan.sensitivity.get("methods", []):
        res = fit_rows(rows, {**plan.primary, **entry})
        records.append(_row(str(entry.get("label", entry.get("method"))), res))
    return pd.DataFrame.from_records(records)


def sensitivity_subsets(rows: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The primary analysis repeated on the plan's restricted subsets of studies.

    ``exclude_confidence`` drops rows whose data are secondary or derived; ``exclude_design``
    drops designs such as single case reports. The full analysis is the first row.
    """
    records = [_row("All studies (primary analysis)", fit_rows(rows, plan.primary))]
    for key, column, text in (
        ("exclude_confidence", "confidence", "Excluding data of confidence: "),
        ("exclude_design", "design", "Excluding designs: "),
    ):
        dropped = list(plan.sensitivity.get(key, []))
        if dropped and column in rows.columns:
            kept = rows.loc[~rows[column].isin(dropped)]
            records.append(_row(text + ", ".join(dropped), fit_rows(kept, plan.primary)))
    return pd.DataFrame.from_records(records)


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
