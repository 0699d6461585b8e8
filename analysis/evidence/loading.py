"""Load a validated evidence base as typed pandas DataFrames.

:func:`load_evidence` runs the validator and refuses data with errors (the message lists
every problem, one per line). It then types each table from the data package schema and,
where individual patient data (IPD) files exist (an ``x-pattern`` resource with an
``x-aggregate`` declaration, in this review ``data/private/<study_id>.csv``), aggregates
them to counts per outcome that **replace** the study's published rows for the outcomes
the IPD covers; the values in ``x-aggregate.set`` mark those rows (here ``confidence =
ipd``). Published rows for outcomes the IPD does not cover are kept. With
``x-aggregate.study-resource`` (here ``studies``), the study's fields that are empty or
``unknown`` are completed from the patient rows as the IPD columns' ``x-study`` declare
(and ``study-count`` receives the number of patients); a stated value is never replaced.

No patient-level row leaves this module except through :func:`load_ipd`, which a
Kaplan-Meier analysis calls explicitly.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

from analysis.evidence.datapackage import (
    Package,
    PackageCheck,
    Problem,
    Resource,
    cast_value,
    constraint_errors,
)
from analysis.evidence.ipd import (
    StudyField,
    TimeToEvent,
    aggregate_binary,
    aggregate_records,
    binary_outcomes,
    study_fields,
    time_to_event_specs,
)
from analysis.evidence.validate import check_evidence

__all__ = [
    "Evidence",
    "EvidenceError",
    "ipd_resource",
    "ipd_time_to_event",
    "load_evidence",
    "load_ipd",
    "table_frame",
    "time_to_event_plan",
]


class EvidenceError(ValueError):
    """The evidence base has errors; ``problems`` lists them (``file:line: column: message``)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"the evidence base has {len(self.problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class Evidence:
    """A loaded evidence base (immutable: every access returns a copy).

    Attributes
    ----------
    package : Package
        The data package descriptor.
    data_dir : str
    ipd_studies : tuple of str
        Keys (study ids) whose counts come from individual patient data.
    warnings : tuple of Problem
        Warnings of the validator (missing recommended values...).
    """

    package: Package
    data_dir: str
    ipd_studies: tuple[str, ...] = ()
    warnings: tuple[Problem, ...] = ()
    _tables: Mapping[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    _records: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict, repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the tables (the descriptor's resources, private ones excepted)."""
        return tuple(self._tables)

    def table(self, name: str) -> pd.DataFrame:
        """A copy of table ``name`` with the dtypes of its schema."""
        if name not in self._tables:
            raise KeyError(f"no table {name!r}; tables: {', '.join(self._tables)}")
        return self._tables[name].copy()

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.table(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def records(self, name: str) -> list[dict[str, Any]]:
        """Typed records of a YAML resource (nested lists kept), as deep copies."""
        if name not in self._records:
            raise KeyError(f"no YAML resource {name!r}; YAML resources: {', '.join(self._records)}")
        return [copy.deepcopy(dict(r)) for r in self._records[name]]


def load_evidence(
    data_dir: str | Path = "data",
    *,
    bib: str | Path | None = None,
    descriptor: str | Path | None = None,
    ipd: bool = True,
) -> Evidence:
    """Validate and load the evidence base.

    Parameters
    ----------
    data_dir : str or pathlib.Path, optional
        Default = ``"data"``.
    bib : str or pathlib.Path, optional
        BibTeX file replacing the descriptor's bibliography path.
    descriptor : str or pathlib.Path, optional
        Default = ``data_dir / "datapackage.yaml"``.
    ipd : bool, optional
        Replace published counts by those aggregated from IPD files when present.
        Default = True.

    Returns
    -------
    Evidence

    Raises
    ------
    EvidenceError
        When the validator finds any error (all of them are listed).
    """
    check, problems = check_evidence(data_dir, bib=bib, descriptor=descriptor)
    errors = [p for p in problems if p.severity == "error"]
    if check is None or errors:
        raise EvidenceError(errors)
    tables: dict[str, pd.DataFrame] = {}
    records: dict[str, tuple[Mapping[str, Any], ...]] = {}
    for resource in check.package.resources:
        found = check.tables.get(resource.name) or []
        if resource.pattern or not found:
            continue
        tables[resource.name] = table_frame(resource, [row.values for row in found[0].rows])
        if resource.format == "yaml":
            records[resource.name] = tuple(MappingProxyType(dict(r.values)) for r in found[0].rows)
    replaced = _apply_ipd(check, tables) if ipd else ()
    return Evidence(
        package=check.package,
        data_dir=str(data_dir),
        ipd_studies=replaced,
        warnings=tuple(p for p in problems if p.severity == "warning"),
        _tables=MappingProxyType(tables),
        _records=MappingProxyType(records),
    )


def load_ipd(
    data_dir: str | Path,
    key: str,
    *,
    resource: str | None = None,
    descriptor: str | Path | None = None,
) -> pd.DataFrame:
    """Load one IPD file (patient-level rows) after validating it.

    Use only for analyses that need patient rows (Kaplan-Meier); show only aggregates.

    Parameters
    ----------
    data_dir : str or pathlib.Path
    key : str
        The value of the file name's pattern key (the study id).
    resource : str, optional
        The pattern resource; default: the only one with ``x-aggregate``.
    descriptor : str or pathlib.Path, optional

    Returns
    -------
    pandas.DataFrame
        Typed patient rows.

    Raises
    ------
    EvidenceError
        When the file is absent or has errors.
    """
    check, problems = check_evidence(data_dir, descriptor=descriptor)
    if check is None:
        raise EvidenceError(problems)
    spec = ipd_resource(check.package, resource)
    for table in check.tables.get(spec.name, []):
        if key in table.keys.values():
            errors = [p for p in problems if p.path == table.path and p.severity == "error"]
            if errors:
                raise EvidenceError(errors)
            return table_frame(spec, [row.values for row in table.rows])
    where = str(spec.pattern).replace("{", "").replace("}", "")
    raise EvidenceError([Problem(str(Path(data_dir) / where), 0, "-", f"no file for {key!r}")])


def ipd_time_to_event(package: Package, resource: str | None = None,
                      competing: Mapping[str, str] | None = None) -> tuple[TimeToEvent, ...]:
    """The time-to-event analyses declared for the IPD resource (``x-time-to-event``).

    ``competing`` (the plan's ``time_to_event.competing``, :func:`time_to_event_plan`) names, per outcome,
    the outcome that competes with it; it adds to (or overrides) a declaration's own ``competing``.
    """
    spec = ipd_resource(package, resource)
    declarations = [dict(d) for d in spec.properties.get("x-time-to-event") or []]
    for d in declarations:
        if competing and str(d.get("outcome")) in competing:
            d["competing"] = competing[str(d["outcome"])]
    known = {str(d.get("outcome")) for d in declarations}
    if competing and (unknown := sorted(set(competing) - known)):
        raise ValueError(f"analysis plan: time_to_event.competing names outcome(s) {', '.join(unknown)} that no "
                         f"x-time-to-event declaration of the data package has ({', '.join(sorted(known))})")
    return time_to_event_specs(declarations, binary_outcomes(spec.schema.fields))


def time_to_event_plan(raw_plan: Mapping[str, Any] | None) -> tuple[dict[str, str], tuple[float, ...]]:
    """The plan's ``time_to_event`` section: which outcome competes with which, and the days to read curves at.

    ``competing`` maps an outcome to the outcome that prevents it (``{neutrophil_recovery: death}``);
    ``time_points`` lists non-negative days. Both are optional (none by default).

    Raises
    ------
    ValueError
        A section, mapping or list of the wrong shape (the message names the key).
    """
    section = (raw_plan or {}).get("time_to_event") or {}
    if not isinstance(section, Mapping):
        raise ValueError("analysis plan: time_to_event must be a mapping")  # noqa: TRY004 - plan errors are ValueErrors
    unknown = sorted(set(section) - {"competing", "time_points"})
    if unknown:
        raise ValueError(f"analysis plan: time_to_event: unknown key(s) {', '.join(unknown)}")
    competing = section.get("competing") or {}
    if not isinstance(competing, Mapping) or not all(isinstance(v, str) and v for v in competing.values()):
        raise ValueError("analysis plan: time_to_event.competing must map outcome ids to outcome ids")
    points = section.get("time_points") or []
    if not isinstance(points, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in points):
        raise ValueError(f"analysis plan: time_to_event.time_points must be a list of non-negative numbers, "
                         f"got {points!r}")
    return {str(k): str(v) for k, v in competing.items()}, tuple(float(v) for v in points)


def ipd_resource(package: Package, name: str | None = None) -> Resource:
    """The IPD resource: ``name``, or else the one pattern resource that declares ``x-aggregate``.

    Raises
    ------
    ValueError
        When no name is given and the descriptor declares no such resource, or several.
    """
    if name is not None:
        return package.resource(name)
    candidates = [r for r in package.resources if r.pattern and "x-aggregate" in r.properties]
    if len(candidates) != 1:
        raise ValueError("name the IPD resource: the descriptor declares none or several")
    return candidates[0]


# ------------------------------------------------------------------------------ typing

_DTYPES = {"integer": "Int64", "number": "Float64", "boolean": "boolean", "string": "string"}


def table_frame(resource: Resource, rows: list[Mapping[str, Any]]) -> pd.DataFrame:
    """A DataFrame of typed rows with the dtypes of the resource's schema.

    integer -> ``Int64``, number -> ``Float64``, boolean -> ``boolean``, string ->
    ``string``, date -> ``datetime64`` (ISO text ``string`` when ``x-partial-date``),
    array and any -> ``object``. Missing values are ``<NA>``/``NaT``.
    """
    columns = {}
    for spec in resource.schema.fields:
        values = [row.get(spec.name) for row in rows]
        columns[spec.name] = _series(values, spec.type, spec.partial_date)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(rows)))


def _series(values: list[Any], ftype: str, partial: bool) -> pd.Series:
    if ftype == "date" and not partial:
        stamps = [pd.Timestamp(v) if isinstance(v, date) else pd.NaT for v in values]
        return pd.Series(stamps, dtype="datetime64[ns]")
    dtype = "string" if ftype == "date" else _DTYPES.get(ftype, "object")
    return pd.Series(values, dtype=dtype)


def _apply_ipd(check: PackageCheck, tables: dict[str, pd.DataFrame]) -> tuple[str, ...]:
    replaced: list[str] = []
    for resource in check.package.resources:
        plan = resource.properties.get("x-aggregate")
        if not resource.pattern or not isinstance(plan, Mapping):
            continue
        outcomes = binary_outcomes(resource.schema.fields)
        for table in check.tables.get(resource.name, []):
            key = table.keys[str(plan["key"])]
            patients = table_frame(resource, [row.values for row in table.rows])
            counts = aggregate_binary(patients, outcomes)
            target = check.package.resource(str(plan["into"]))
            tables[target.name] = _replace(tables[target.name], target, plan, key, counts)
            if plan.get("study-resource") in tables:
                study = check.package.resource(str(plan["study-resource"]))
                found = study_fields(patients, resource.schema.fields, count_field=plan.get("study-count"))
                tables[study.name] = _complete(tables[study.name], study, str(plan["key"]), key, found)
            replaced.append(key)
    return tuple(replaced)


def _complete(frame: pd.DataFrame, target: Resource, key_col: str, key: str,
              found: tuple[StudyField, ...]) -> pd.DataFrame:
    """Fill the study's fields that are empty or ``unknown`` with the values derived from its IPD.

    A value the study table states is never replaced: the patient file completes the published
    description (so that the cohort enters the subgroup analyses), it does not contradict it.
    """
    frame = frame.copy()
    rows = (frame[key_col] == key).fillna(False).to_numpy(dtype=bool)
    for item in found:
        if item.value is None or item.field not in frame.columns or not rows.any():
            continue
        current = frame.loc[rows, item.field].iloc[0]
        if _is_missing(current) or current == "unknown":
            value = item.value if not isinstance(item.value, float) else round(item.value, 6)
            frame.loc[rows, item.field] = pd.Series([_typed(target, item.field, value)] * int(rows.sum()),
                                                    index=frame.index[rows], dtype=frame[item.field].dtype)
    return frame


def _is_missing(value: Any) -> bool:
    if isinstance(value, list):
        return not value
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _replace(
    frame: pd.DataFrame, target: Resource, plan: Mapping[str, Any], key: str, counts: pd.DataFrame
) -> pd.DataFrame:
    key_col, outcome_col = str(plan["key"]), str(plan["outcome"])
    covered = set(counts["outcome"])
    keep = ~((frame[key_col] == key) & frame[outcome_col].isin(covered)).fillna(False)
    rows = [{k: _typed(target, k, v) if k in (plan.get("set") or {}) else v for k, v in record.items()}
            for record in aggregate_records(plan, key, counts)]
    added = table_frame(target, rows)
    return pd.concat([frame[keep.to_numpy(dtype=bool)], added], ignore_index=True)


def _typed(target: Resource, name: str, value: Any) -> Any:
    spec = target.schema.get_field(name)
    typed, error = cast_value(spec, value if spec.type != "string" else str(value))
    error = error or next(constraint_errors(spec, typed), None) if typed is not None else error
    if error is not None or typed is None:
        raise ValueError(f"x-aggregate sets {name} = {value!r}, which its schema rejects: {error}")
    return typed
