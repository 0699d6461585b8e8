"""A robustness panel: one outcome's analysis under every combination of the choices a plan names as defensible.

A pooled answer from a few small studies rests on choices a reader may not share: the method, which studies
count, how an uncertain count is read, which definition of the outcome is used. A multiverse analysis
[steegen2016] repeats the analysis under every combination of such choices; a specification curve
[simonsohn2020] shows the results sorted, with the choices each one made beneath them. This module builds the
specifications from a plan and the evidence tables and evaluates each one through
:func:`analysis.engine.metaprop.metaprop`; :mod:`analysis.book.plots.specification` draws the curve.

The plan's section ``robustness`` names three dimensions:

* ``methods``: ``simulation_candidates`` (the candidates of the simulation study that chose the primary
  method, each with the settings of :data:`analysis.engine.simulation.ENGINE_SETTINGS`),
  ``sensitivity_methods`` (the plan's ``sensitivity.methods``), or a list of plan entries (``label`` and
  engine options);
* ``inclusion_sets``: each the primary analysis's studies (``primary``) or that set with one change:
  ``drop_studies`` (study id -> reason), ``drop_where`` (study column -> values) or ``restore_excluded``
  (the rows ``primary_excludes`` leaves out put back). With ``overlap_swaps: true`` every row of the overlap
  table that names a study to swap in adds a set (the study the primary keeps replaced by it); with
  ``alternative_readings: true`` every recorded alternative reading of a count the outcome uses adds a set
  (that reading in place of the count of the outcome table);
* ``outcome_definitions``: for an outcome the plan selects by an outcome hierarchy, ``hierarchy`` (the
  plan's) and ``strict`` (its first level alone); other outcomes have their one definition.

An inclusion set that changes no row of an outcome under any definition is left out of that outcome's panel
(it would repeat the plan's analysis). Every specification follows the plan's few-study rules
(:func:`analysis.evidence.fewstudies.judge`): one they do not pool has no estimate, only the reason.

Nothing here knows a clinical topic: study ids, outcome ids and labels come from the plan and the tables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.evidence.fewstudies import exact_studies, judge
from analysis.evidence.pipeline import (
    ENGINE_OPTIONS,
    Plan,
    candidate_rows,
    fit_rows,
    split_excluded,
)

__all__ = [
    "ALTERNATIVE_COLUMNS",
    "OVERLAP_COLUMNS",
    "PANEL_COLUMNS",
    "Choice",
    "InclusionSet",
    "MethodChoice",
    "RobustnessPlan",
    "Specification",
    "alternative_sets",
    "evaluate",
    "overlap_sets",
    "run_panel",
    "short_labels",
    "specifications",
]

#: Columns of the table of alternative readings of uncertain counts (``count_alternatives.csv``).
ALTERNATIVE_COLUMNS = ("study_id", "outcome", "reading", "label", "events", "total", "reason", "quote", "source")
#: Columns of the overlap table the swaps are read from (``overlap.csv``; the others are not used here).
OVERLAP_COLUMNS = ("study_a", "study_b", "overlap", "primary_keeps", "swap_in", "reason")
#: Columns of the table :func:`run_panel` returns, in order.
PANEL_COLUMNS = (
    "outcome", "method", "method_label", "inclusion", "inclusion_label", "definition", "definition_label",
    "plan", "k", "n", "studies", "display", "reason", "estimate", "ci_lower", "ci_upper",
)  # fmt: skip

_DEFINITIONS = ("hierarchy", "strict")
_METHOD_SOURCES = ("simulation_candidates", "sensitivity_methods")
_SET_KEYS = {"id", "label", "drop_studies", "drop_where", "restore_excluded"}
_SECTION_KEYS = {"methods", "inclusion_sets", "overlap_swaps", "alternative_readings", "outcome_definitions"}
#: Plan-entry keys that do not change the estimate or its CI.
_NOT_MODEL = frozenset({"pi", "level", "label"})


@dataclass(frozen=True)
class Choice:
    """One option of one dimension: an id, its label in words, and a short form for a figure (default: the
    label)."""

    id: str
    label: str
    short_label: str = ""

    @property
    def short(self) -> str:
        """The short form of the label (the label itself when none was given)."""
        return self.short_label or self.label


@dataclass(frozen=True)
class MethodChoice(Choice):
    """A method: its engine options (:data:`analysis.evidence.pipeline.ENGINE_OPTIONS`)."""

    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InclusionSet(Choice):
    """The primary analysis's studies, or that set with one change (see the module docstring).

    ``swap`` is ``(study kept by the primary, study swapped in)``; ``reading`` is an alternative count
    ``{"study_id", "outcome", "events", "total"}``.
    """

    drop_studies: Mapping[str, str] = field(default_factory=dict)
    drop_where: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    restore_excluded: bool = False
    swap: tuple[str, str] | None = None
    reading: Mapping[str, Any] | None = None

    @property
    def is_primary(self) -> bool:
        """Whether the set is the primary analysis's own (no change)."""
        return not (self.drop_studies or self.drop_where or self.restore_excluded or self.swap or self.reading)


@dataclass(frozen=True)
class RobustnessPlan:
    """The plan's ``robustness`` section, checked (:meth:`from_plan`)."""

    methods: tuple[MethodChoice, ...]
    inclusion_sets: tuple[InclusionSet, ...]
    overlap_swaps: bool = False
    alternative_readings: bool = False
    definitions: tuple[str, ...] = ("hierarchy",)

    @classmethod
    def from_plan(cls, raw: Mapping[str, Any], plan: Plan,
                  candidates: Sequence[str] | None = None) -> RobustnessPlan | None:
        """Read ``raw["robustness"]`` (None when the plan has no such section), naming any problem.

        Parameters
        ----------
        raw : the parsed analysis plan.
        plan : the same plan, parsed (its ``primary`` options complete every method's).
        candidates : the candidate methods of the simulation study (needed by ``simulation_candidates``).
        """
        section = raw.get("robustness")
        if section is None:
            return None
        if not isinstance(section, Mapping):
            raise ValueError("analysis plan: robustness must be a mapping")  # noqa: TRY004 - plan errors are ValueErrors
        unknown = sorted(set(section) - _SECTION_KEYS)
        if unknown:
            raise ValueError(f"analysis plan: robustness: unknown key(s) {', '.join(unknown)}; "
                             f"allowed: {', '.join(sorted(_SECTION_KEYS))}")
        definitions = tuple(section.get("outcome_definitions") or ("hierarchy",))
        bad = [d for d in definitions if d not in _DEFINITIONS]
        if bad or "hierarchy" not in definitions:
            raise ValueError(f"analysis plan: robustness.outcome_definitions: {list(definitions)!r}; use a list of "
                             f"{' and '.join(_DEFINITIONS)} that includes hierarchy (the plan's own)")
        sets = tuple(_inclusion_set(entry, i) for i, entry in enumerate(section.get("inclusion_sets") or []))
        primary = [s for s in sets if s.is_primary]
        if len(primary) != 1:
            raise ValueError("analysis plan: robustness.inclusion_sets must hold exactly one set without a change "
                             f"(the primary analysis's studies); found {len(primary)}")
        ids = [s.id for s in sets]
        if len(set(ids)) < len(ids):
            raise ValueError(f"analysis plan: robustness.inclusion_sets: ids repeat ({', '.join(ids)})")
        return cls(
            methods=_methods(section.get("methods"), plan, candidates),
            inclusion_sets=sets,
            overlap_swaps=_flag(section, "overlap_swaps"),
            alternative_readings=_flag(section, "alternative_readings"),
            definitions=definitions,
        )

    @property
    def primary_set(self) -> InclusionSet:
        """The inclusion set of the primary analysis."""
        return next(s for s in self.inclusion_sets if s.is_primary)


def _flag(section: Mapping[str, Any], key: str) -> bool:
    value = section.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"analysis plan: robustness.{key} must be true or false, got {value!r}")  # noqa: TRY004
    return value


def _inclusion_set(entry: Any, i: int) -> InclusionSet:
    where = f"analysis plan: robustness.inclusion_sets[{i}]"
    if not isinstance(entry, Mapping) or not entry.get("id") or not entry.get("label"):
        raise ValueError(f"{where}: each set needs an id and a label")
    unknown = sorted(set(entry) - _SET_KEYS)
    if unknown:
        raise ValueError(f"{where} ({entry['id']}): unknown key(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(sorted(_SET_KEYS))}")
    drops = entry.get("drop_studies") or {}
    if not isinstance(drops, Mapping) or not all(isinstance(v, str) and v.strip() for v in drops.values()):
        raise ValueError(f"{where} ({entry['id']}): drop_studies must map each study id to its reason (text)")
    filters = entry.get("drop_where") or {}
    if not isinstance(filters, Mapping):
        raise ValueError(f"{where} ({entry['id']}): drop_where must map a studies column to its values")  # noqa: TRY004
    restore = entry.get("restore_excluded", False)
    if not isinstance(restore, bool):
        raise ValueError(f"{where} ({entry['id']}): restore_excluded must be true or false")  # noqa: TRY004
    changes = sum(bool(x) for x in (drops, filters, restore))
    if changes > 1:
        raise ValueError(f"{where} ({entry['id']}): one change per set (drop_studies, drop_where or "
                         "restore_excluded), so that each set differs from the primary in one way")
    return InclusionSet(
        id=str(entry["id"]), label=" ".join(str(entry["label"]).split()),
        drop_studies={str(k): " ".join(v.split()) for k, v in drops.items()},
        drop_where={str(k): tuple(v if isinstance(v, list | tuple) else [v]) for k, v in filters.items()},
        restore_excluded=restore,
    )


def _methods(spec: Any, plan: Plan, candidates: Sequence[str] | None) -> tuple[MethodChoice, ...]:
    """The methods of the panel, each completed with the primary's options (``pi``, ``level``)."""
    base = {k: plan.primary[k] for k in ("pi", "level") if k in plan.primary}
    if spec == "simulation_candidates":
        from analysis.engine.simulation import ENGINE_SETTINGS, METHOD_LABELS

        if not candidates:
            raise ValueError("analysis plan: robustness.methods is simulation_candidates, but no candidate methods "
                             "were given (simulation plan, section candidates)")
        unknown = [c for c in candidates if c not in ENGINE_SETTINGS]
        if unknown:
            raise ValueError(f"simulation plan: candidate(s) {', '.join(unknown)} have no engine settings "
                             "(analysis.engine.simulation.ENGINE_SETTINGS)")
        methods = [MethodChoice(str(c), METHOD_LABELS.get(c, str(c)), str(c), {**base, **ENGINE_SETTINGS[c]})
                   for c in candidates]
    elif spec == "sensitivity_methods" or isinstance(spec, list):
        entries = plan.sensitivity.get("methods", []) if spec == "sensitivity_methods" else spec
        methods = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping) or "method" not in entry:
                raise ValueError(f"analysis plan: robustness methods[{i}]: a method entry needs at least 'method'")
            options = {**plan.primary, **{k: v for k, v in entry.items() if k in ENGINE_OPTIONS}}
            label = str(entry.get("label") or entry["method"])
            methods.append(MethodChoice(f"m{i + 1}", label, "",
                                        {k: options[k] for k in ENGINE_OPTIONS if k in options}))
    else:
        raise ValueError(f"analysis plan: robustness.methods: {spec!r}; use one of {', '.join(_METHOD_SOURCES)} "
                         "or a list of method entries")
    if not any(_same_model(m.options, plan.primary) for m in methods):  # the plan's own is always a specification
        options = {k: plan.primary[k] for k in ENGINE_OPTIONS if k in plan.primary}
        methods.insert(0, MethodChoice("primary", "The plan's primary method", "", options))
    return tuple(methods)


def _same_model(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two sets of engine options fit the same model (every option but the level, the prediction
    interval and the label; an option one of them lacks counts as empty)."""
    keys = sorted((set(a) | set(b)) - _NOT_MODEL)
    return all(str(a.get(k, "")).upper() == str(b.get(k, "")).upper() for k in keys)


# --------------------------------------------------------------------------- recorded alternatives


def _line(index: Any) -> int:
    return int(index) + 2  # the header is line 1


def alternative_sets(table: pd.DataFrame, study_labels: Mapping[str, str], known_studies: Sequence[str],
                     known_outcomes: Sequence[str], name: str = "count_alternatives.csv") -> list[InclusionSet]:
    """One inclusion set per recorded alternative reading of a count (checked; an empty table gives none).

    Raises
    ------
    ValueError
        Naming the file, line, field and problem: a missing column, an unknown study or outcome, a count that
        is not a whole number, more events than patients, or a reading id used twice for the same count.
    """
    if table is None or table.empty:
        return []
    missing = [c for c in ("study_id", "outcome", "reading", "label", "events", "total") if c not in table.columns]
    if missing:
        raise ValueError(f"{name}: column(s) {', '.join(missing)} missing (expected {', '.join(ALTERNATIVE_COLUMNS)})")
    out, seen = [], set()
    for index, row in table.iterrows():
        where = f"{name}: line {_line(index)}"
        study, outcome, reading = (str(row[c]).strip() for c in ("study_id", "outcome", "reading"))
        if study not in known_studies:
            raise ValueError(f"{where}: study_id {study!r} is not a study of studies.csv")
        if outcome not in known_outcomes:
            raise ValueError(f"{where}: outcome {outcome!r} is not an outcome id of the vocabulary")
        if not reading or reading == "nan":
            raise ValueError(f"{where}: reading is empty (give a short id, e.g. nine_of_eleven)")
        events, total = _whole(row["events"], f"{where}: events"), _whole(row["total"], f"{where}: total")
        if total < 1 or events > total:
            raise ValueError(f"{where}: events {events} and total {total}: need 0 <= events <= total and total >= 1")
        if (study, outcome, reading) in seen:
            raise ValueError(f"{where}: reading {reading!r} of {study}, {outcome} is recorded twice")
        seen.add((study, outcome, reading))
        label = " ".join(str(row["label"]).split())
        who = study_labels.get(study, study)
        out.append(InclusionSet(
            id=f"reading:{study}:{outcome}:{reading}",
            label=f"{who} read as {events}/{total} ({label})", short_label=f"{who} as {events}/{total}",
            reading={"study_id": study, "outcome": outcome, "events": events, "total": total},
        ))
    return out


def _whole(value: Any, where: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not np.isfinite(number) or number != int(number) or number < 0:
        raise ValueError(f"{where}: {value!r} is not a whole number of patients")
    return int(number)


def overlap_sets(table: pd.DataFrame, study_labels: Mapping[str, str], known_studies: Sequence[str],
                 name: str = "overlap.csv") -> list[InclusionSet]:
    """One inclusion set per overlap judgement that names a study to swap in (others give none).

    The set is the primary's studies with ``primary_keeps`` replaced by ``swap_in``.
    """
    if table is None or table.empty:
        return []
    missing = [c for c in ("study_a", "study_b", "primary_keeps", "swap_in") if c not in table.columns]
    if missing:
        raise ValueError(f"{name}: column(s) {', '.join(missing)} missing (expected at least {', '.join(OVERLAP_COLUMNS)})")
    out = []
    for index, row in table.iterrows():
        where = f"{name}: line {_line(index)}"
        swap_in = "" if pd.isna(row["swap_in"]) else str(row["swap_in"]).strip()
        if not swap_in:
            continue
        keeps = "" if pd.isna(row["primary_keeps"]) else str(row["primary_keeps"]).strip()
        pair = {str(row["study_a"]).strip(), str(row["study_b"]).strip()}
        for column, value in (("primary_keeps", keeps), ("swap_in", swap_in)):
            if value not in known_studies:
                raise ValueError(f"{where}: {column} {value!r} is not a study of studies.csv")
            if value not in pair:
                raise ValueError(f"{where}: {column} {value!r} is neither study_a nor study_b of the row")
        if keeps == swap_in:
            raise ValueError(f"{where}: swap_in {swap_in!r} is the study the primary keeps")
        a, b = study_labels.get(swap_in, swap_in), study_labels.get(keeps, keeps)
        out.append(InclusionSet(
            id=f"swap:{keeps}:{swap_in}",
            label=f"{a} in place of {b} (overlap)", short_label=f"{a} for {b}",
            swap=(keeps, swap_in),
        ))
    return out


# --------------------------------------------------------------------------- specifications


@dataclass(frozen=True)
class Specification:
    """One analysis of the panel: an outcome's rows under one method, inclusion set and definition."""

    outcome: str
    method: MethodChoice
    inclusion: InclusionSet
    definition: Choice
    rows: pd.DataFrame
    plan: bool = False

    def inputs(self) -> tuple[Any, ...]:
        """Everything the evaluation depends on, as plain values (a cache key)."""
        rows = tuple(zip(self.rows["study_id"].astype(str), self.rows["label"].astype(str),
                         self.rows["events"].astype(int), self.rows["total"].astype(int), strict=True))
        return (self.outcome, self.method.id, tuple(sorted((k, str(v)) for k, v in self.method.options.items())),
                self.inclusion.id, self.definition.id, self.plan, rows)


def _definitions(outcome: str, plan: Plan, rplan: RobustnessPlan,
                 vocabulary: Mapping[str, Mapping[str, Any]]) -> list[tuple[Choice, Plan]]:
    levels = plan.outcome_hierarchy.get(outcome)
    if levels is None:
        return [(Choice("as_recorded", "The outcome as recorded", "As recorded"), plan)]
    out = [(Choice("hierarchy", "The outcome hierarchy (the plan's)", "Hierarchy (plan's)"), plan)]
    if "strict" in rplan.definitions and len(levels) > 1:
        names = " or ".join(str(vocabulary.get(o, {}).get("label", o)).lower() for o in levels[0])
        strict = dataclasses.replace(plan, outcome_hierarchy={**plan.outcome_hierarchy, outcome: [levels[0]]})
        out.append((Choice("strict", f"Strict definition only ({names})", "Strict only"), strict))
    return out


def _named(inclusion: InclusionSet, study_labels: Mapping[str, str]) -> InclusionSet:
    """A set that drops studies by id, with their labels in its label ("Without X (Li 2023)")."""
    if not inclusion.drop_studies:
        return inclusion
    names = ", ".join(study_labels.get(s, s) for s in inclusion.drop_studies)
    return dataclasses.replace(inclusion, label=f"{inclusion.label} ({names})", short_label=inclusion.short)


def _apply(inclusion: InclusionSet, kept: pd.DataFrame, excluded: pd.DataFrame, pool: pd.DataFrame) -> pd.DataFrame:
    """The rows of one inclusion set, from the primary's rows (``kept``), the rows ``primary_excludes``
    left out (``excluded``) and every candidate row of the evidence set (``pool``, for swaps)."""
    rows = kept
    if inclusion.drop_studies:
        rows = rows.loc[~rows["study_id"].isin(list(inclusion.drop_studies))]
    for column, values in inclusion.drop_where.items():
        if column not in rows.columns:
            raise ValueError(f"analysis plan: robustness set {inclusion.id}: drop_where column '{column}' is not in "
                             "the study table")
        rows = rows.loc[~rows[column].isin(list(values))]
    if inclusion.restore_excluded:
        rows = pd.concat([rows, excluded], ignore_index=True)
    if inclusion.swap:
        keeps, swap_in = inclusion.swap
        if keeps in set(rows["study_id"]):
            rows = pd.concat([rows.loc[rows["study_id"] != keeps], pool.loc[pool["study_id"] == swap_in]],
                             ignore_index=True)
    if inclusion.reading:
        rows = _read_as(rows, inclusion.reading)
    return rows.reset_index(drop=True)


def _read_as(rows: pd.DataFrame, reading: Mapping[str, Any]) -> pd.DataFrame:
    source = rows["selected_from"] if "selected_from" in rows.columns else rows["outcome"]
    hit = (rows["study_id"] == reading["study_id"]) & (source == reading["outcome"])
    out = rows.copy()
    out.loc[hit, "events"] = int(reading["events"])
    out.loc[hit, "total"] = int(reading["total"])
    return out


def _signature(rows: pd.DataFrame) -> tuple:
    return tuple(sorted(zip(rows["study_id"].astype(str), rows["events"].astype(int), rows["total"].astype(int),
                            strict=True)))


def specifications(
    outcome: str,
    selected: pd.DataFrame,
    universe: pd.DataFrame,
    outcomes: pd.DataFrame,
    plan: Plan,
    rplan: RobustnessPlan,
    vocabulary: Mapping[str, Mapping[str, Any]],
    extra_sets: Sequence[InclusionSet] = (),
    study_labels: Mapping[str, str] | None = None,
) -> list[Specification]:
    """Every specification of one outcome: methods x inclusion sets x outcome definitions.

    Parameters
    ----------
    outcome : the outcome id.
    selected : the studies of the evidence set the primary analysis uses.
    universe : the studies of the evidence set whatever their status (a study swapped in may come from them).
    outcomes : the outcome table (with a ``label`` column of study labels).
    plan, rplan : the analysis plan and its robustness section.
    vocabulary : the outcome vocabulary.
    extra_sets : the inclusion sets of the overlap swaps and alternative readings (:func:`overlap_sets`,
        :func:`alternative_sets`).
    study_labels : study id -> label; a set that drops studies by id names them in its label.

    Returns
    -------
    list of Specification
        Ordered by definition, inclusion set and method; exactly one has ``plan=True`` (the plan's method, the
        primary set, the plan's definition). Inclusion sets that change no row of this outcome are left out.
    """
    definitions = _definitions(outcome, plan, rplan, vocabulary)
    sets = [_named(s, study_labels or {}) for s in (*rplan.inclusion_sets, *extra_sets)]
    by_definition = []
    for choice, plan_d in definitions:
        kept, excluded = split_excluded(candidate_rows(selected, outcomes, outcome, plan_d, vocabulary), plan)
        pool = candidate_rows(universe, outcomes, outcome, plan_d, vocabulary)
        by_definition.append((choice, {s.id: _apply(s, kept, excluded, pool) for s in sets}))
    primary = rplan.primary_set.id
    plan_method = next(m.id for m in rplan.methods if _same_model(m.options, plan.primary))
    changing = [s for s in sets if s.id == primary
                or any(_signature(rows[s.id]) != _signature(rows[primary]) for _, rows in by_definition)]
    out = []
    for choice, rows in by_definition:
        for inclusion in changing:
            for method in rplan.methods:
                is_plan = (choice.id in ("hierarchy", "as_recorded") and inclusion.id == primary
                           and method.id == plan_method)
                out.append(Specification(outcome, method, inclusion, choice, rows[inclusion.id], is_plan))
    if sum(s.plan for s in out) != 1:
        raise ValueError(f"{outcome}: the panel should hold the plan's own analysis once; found {sum(s.plan for s in out)}")
    return out


def short_labels(specs: Sequence[Specification]) -> dict[tuple[str, str], str]:
    """``(dimension, option id) -> short label`` of every option the specifications use (for a figure)."""
    out: dict[tuple[str, str], str] = {}
    for spec in specs:
        for dimension, choice in (("method", spec.method), ("inclusion", spec.inclusion),
                                  ("definition", spec.definition)):
            out.setdefault((dimension, choice.id), choice.short)
    return out


# --------------------------------------------------------------------------- evaluation


def evaluate(spec: Specification, plan: Plan) -> dict[str, Any]:
    """One specification under the plan's few-study rules: its estimate and CI when they pool it.

    The fit is :func:`analysis.evidence.pipeline.fit_rows` (``metaprop`` with the method's options) when the
    set has at least ``min_studies_to_pool`` studies; :func:`analysis.evidence.fewstudies.judge` then says
    whether it is a pooled estimate. A specification the rules do not pool gets no estimate (None), and the
    reason.
    """
    rows = spec.rows
    level = float(spec.method.options.get("level", plan.primary.get("level", 0.95)))
    studies = exact_studies(rows, level)
    fit = fit_rows(rows, spec.method.options) if len(rows) >= plan.few_studies.min_studies_to_pool else None
    display, reason = judge(spec.outcome, studies, fit, plan.few_studies)
    pooled = display == "pooled" and fit is not None
    return {
        "outcome": spec.outcome,
        "method": spec.method.id, "method_label": spec.method.label,
        "inclusion": spec.inclusion.id, "inclusion_label": spec.inclusion.label,
        "definition": spec.definition.id, "definition_label": spec.definition.label,
        "plan": spec.plan,
        "k": len(rows), "n": int(rows["total"].sum()) if len(rows) else 0,
        "studies": "; ".join(str(s) for s in rows["study_id"]),
        "display": display, "reason": reason,
        "estimate": float(fit.estimate) if pooled else None,
        "ci_lower": float(fit.ci_lower) if pooled else None,
        "ci_upper": float(fit.ci_upper) if pooled else None,
    }


#: A cache: ``cache(inputs, compute)`` returns ``compute()``, or a stored value for equal ``inputs``.
Cache = Callable[[Any, Callable[[], Any]], Any]


def _frozen(value: Any) -> Any:
    """A hashable copy of a rule value (mappings as sorted pairs)."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def run_panel(specs: Sequence[Specification], plan: Plan, cache: Cache | None = None) -> pd.DataFrame:
    """Evaluate every specification (:func:`evaluate`); one row each, columns :data:`PANEL_COLUMNS`.

    With ``cache`` the records of the whole panel are looked up by its inputs (the rows and options of every
    specification and the plan's few-study rules) and computed only when absent.
    """
    def compute() -> list[dict[str, Any]]:
        return [evaluate(s, plan) for s in specs]

    rules = tuple((f.name, _frozen(getattr(plan.few_studies, f.name)))
                  for f in dataclasses.fields(plan.few_studies))
    inputs = ("robustness-panel", rules, tuple(s.inputs() for s in specs))
    records = cache(inputs, compute) if cache is not None else compute()
    frame = pd.DataFrame.from_records(records, columns=list(PANEL_COLUMNS))
    for column in ("estimate", "ci_lower", "ci_upper"):
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype(float)
    return frame
