"""Individual patient data (IPD): from patient rows to counts and to time-to-event arrays.

Which column feeds which outcome is declared in the data package, not here: a field
with ``x-outcome: death`` and ``x-event-value: 0`` (for a column ``alive``) means "this
0/1 column feeds the outcome death, and 0 is the event". Time-to-event analyses are
declared under the resource's ``x-time-to-event`` key::

    {outcome: neutrophil_recovery, event: neutrophil_recovery,
     time: days_to_neutrophil_recovery, censor_time: followup_days}

``competing`` (optional; the review's plan sets it, :func:`analysis.evidence.loading.ipd_time_to_event`)
names another declared outcome that prevents this one (death before recovery): its event then ends
the patient's time as a competing event (status 2, at that outcome's ``time``) instead of censoring
it, for a cumulative incidence with a competing event
(:func:`analysis.engine.survival.aalen_johansen`); without it the patient is censored.

Pure functions on pandas DataFrames; no file I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = [
    "BinaryOutcome",
    "StudyField",
    "TimeToEvent",
    "aggregate_binary",
    "aggregate_records",
    "binary_outcomes",
    "competing_time_to_event",
    "describe_numbers",
    "study_fields",
    "time_to_event",
    "time_to_event_specs",
    "untimed",
]


@dataclass(frozen=True)
class BinaryOutcome:
    """A 0/1 column that feeds an outcome.

    Attributes
    ----------
    column : str
        Column of the patient-level table.
    outcome : str
        Outcome identifier it feeds.
    event_value : object
        The value that counts as an event. Default = 1.
    """

    column: str
    outcome: str
    event_value: Any = 1


@dataclass(frozen=True)
class TimeToEvent:
    """How to build (time, event) pairs for one outcome.

    Attributes
    ----------
    outcome : str
    event : str
        Column holding the event indicator.
    time : str
        Column holding the time to the event (used for patients with the event).
    censor_time : str
        Column holding the time of censoring (used for patients without the event).
    event_value : object
        The value of ``event`` that counts as an event. Default = 1.
    competing : str or None
        Outcome (of another declaration) whose event competes with this one. Default = None.
    """

    outcome: str
    event: str
    time: str
    censor_time: str
    event_value: Any = 1
    competing: str | None = None


def binary_outcomes(fields: Iterable[Any]) -> tuple[BinaryOutcome, ...]:
    """Read the ``x-outcome`` / ``x-event-value`` declarations of schema fields.

    Parameters
    ----------
    fields : iterable
        Objects with ``name`` and ``properties`` (:class:`analysis.evidence.datapackage.Field`).

    Returns
    -------
    tuple of BinaryOutcome
        In schema order; fields without ``x-outcome`` are skipped.
    """
    return tuple(
        BinaryOutcome(f.name, str(f.properties["x-outcome"]), f.properties.get("x-event-value", 1))
        for f in fields
        if "x-outcome" in f.properties
    )


def time_to_event_specs(
    declarations: Sequence[Mapping[str, Any]], outcomes: Sequence[BinaryOutcome]
) -> tuple[TimeToEvent, ...]:
    """Build :class:`TimeToEvent` specs from ``x-time-to-event`` declarations.

    The event value of each spec is that of the binary outcome declared on its event
    column (1 when the column declares none).

    Raises
    ------
    ValueError
        A ``competing`` outcome that no declaration names, or that names the outcome itself.
    """
    values = {o.column: o.event_value for o in outcomes}
    specs = tuple(
        TimeToEvent(
            outcome=str(d["outcome"]),
            event=str(d["event"]),
            time=str(d["time"]),
            censor_time=str(d["censor_time"]),
            event_value=values.get(str(d["event"]), 1),
            competing=None if d.get("competing") in (None, "") else str(d["competing"]),
        )
        for d in declarations
    )
    declared = {s.outcome for s in specs}
    for spec in specs:
        if spec.competing is not None and (spec.competing not in declared or spec.competing == spec.outcome):
            raise ValueError(f"x-time-to-event: {spec.outcome}: competing outcome {spec.competing!r} must be "
                             f"another declared outcome ({', '.join(sorted(declared - {spec.outcome}))})")
    return specs


def aggregate_binary(patients: pd.DataFrame, outcomes: Sequence[BinaryOutcome]) -> pd.DataFrame:
    """Count events and patients assessed for each declared 0/1 column.

    .. math:: \\text{events}_o = \\#\\{i : x_{io} = v_o\\}, \\qquad
              \\text{total}_o = \\#\\{i : x_{io} \\text{ recorded}\\}

    A patient with the column empty (not recorded) is left out of that outcome's total,
    exactly as a published denominator counts only the patients assessed. An optional
    column absent from the file is "not recorded" for every patient: no row.

    Parameters
    ----------
    patients : pandas.DataFrame
        One row per patient.
    outcomes : sequence of BinaryOutcome

    Returns
    -------
    pandas.DataFrame
        Columns ``outcome``, ``events``, ``total`` (one row per outcome with at least one
        recorded value).
    """
    rows = []
    for spec in outcomes:
        if spec.column not in patients.columns:
            continue
        recorded = patients[spec.column].dropna()
        if len(recorded):
            events = int((recorded == spec.event_value).sum())
            rows.append({"outcome": spec.outcome, "events": events, "total": len(recorded)})
    return pd.DataFrame(rows, columns=["outcome", "events", "total"]).astype(
        {"outcome": "string", "events": "Int64", "total": "Int64"}
    )


def aggregate_records(plan: Mapping[str, Any], key: str, counts: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of the target table for one study's counts, as an ``x-aggregate`` plan declares them.

    Each row holds the study key, the outcome, events and total under the plan's column names, and
    the plan's ``set`` values (untyped, as written in the descriptor).

    Parameters
    ----------
    plan : mapping
        The ``x-aggregate`` declaration (``key``, ``outcome``, ``events``, ``total``, ``set``).
    key : str
        The study's key (the file name's pattern value).
    counts : pandas.DataFrame
        :func:`aggregate_binary` output.
    """
    return [
        {str(plan["key"]): key, str(plan["outcome"]): item.outcome,
         str(plan["events"]): int(item.events), str(plan["total"]): int(item.total),
         **{str(k): v for k, v in (plan.get("set") or {}).items()}}
        for item in counts.itertuples(index=False)
    ]


def time_to_event(
    patients: pd.DataFrame, spec: TimeToEvent, *, without_time: str = "raise"
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Times and event indicators for a Kaplan-Meier analysis.

    A patient with the event contributes ``spec.time``; a patient without it is censored
    at ``spec.censor_time``. A patient whose event column is empty (not recorded) is left
    out, as from the denominator of the binary outcome (:func:`aggregate_binary`), so the
    curve and the count describe the same patients.

    Parameters
    ----------
    patients : pandas.DataFrame
    spec : TimeToEvent
    without_time : {"raise", "omit"}, optional
        A patient whose event is recorded but who lacks the time needed (the day of the
        event, or the day to censor at): ``"raise"`` a ValueError, or ``"omit"`` the patient
        from the curve; :func:`untimed` counts them, so a page can say how many.
        Default = ``"raise"``.

    Returns
    -------
    time : numpy.ndarray of shape (n,)
    event : numpy.ndarray of shape (n,)
        1 for an event, 0 for censoring.

    Raises
    ------
    ValueError
        With ``without_time="raise"``, when a patient with the event indicator recorded lacks
        the time it needs (row position given; never the patient's identifier).
    """
    if without_time not in ("raise", "omit"):
        raise ValueError(f"without_time must be 'raise' or 'omit', got {without_time!r}")
    recorded, event, time = _timed(patients, spec)
    missing = time.isna().to_numpy(dtype=bool)
    if missing.any() and without_time == "raise":
        row = int(np.flatnonzero(missing)[0])
        needed = spec.time if event[row] else spec.censor_time
        raise ValueError(f"{needed} is empty in row {_position(patients, recorded.index[row])} "
                         f"({spec.outcome}: needed {'for the event' if event[row] else 'to censor'})")
    keep = ~missing
    return time.to_numpy(dtype=float)[keep], event[keep].astype(np.int64)


def untimed(patients: pd.DataFrame, spec: TimeToEvent, competing: TimeToEvent | None = None) -> int:
    """Patients with the event recorded but without the day a curve needs (left off it).

    With ``competing``, a patient with the competing event needs that event's day instead of the
    day of censoring (:func:`competing_time_to_event`).
    """
    if competing is not None:
        return int(_competing_timed(patients, spec, competing)[2].isna().sum())
    _, _, time = _timed(patients, spec)
    return int(time.isna().sum())


def competing_time_to_event(
    patients: pd.DataFrame, spec: TimeToEvent, competing: TimeToEvent, *, without_time: str = "raise"
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Times and status codes for a cumulative incidence with a competing event.

    Status 1: the event of ``spec``, at ``spec.time``. Status 2: not that event, but the event of
    ``competing`` (for example death before recovery), at ``competing.time``. Status 0: neither,
    censored at ``spec.censor_time``; a patient whose competing event is not recorded is censored too.
    As in :func:`time_to_event`, a patient whose event of ``spec`` is not recorded is left out, and
    one without the day needed raises or is omitted (``without_time``; :func:`untimed` counts them).

    Parameters
    ----------
    patients : pandas.DataFrame
    spec, competing : TimeToEvent
    without_time : {"raise", "omit"}, optional
        Default = ``"raise"``.

    Returns
    -------
    time : numpy.ndarray of shape (n,)
    status : numpy.ndarray of shape (n,)
        0 censored, 1 the event, 2 the competing event.

    Raises
    ------
    ValueError
        With ``without_time="raise"``, when a patient lacks the day needed (row position given;
        never the patient's identifier).
    """
    if without_time not in ("raise", "omit"):
        raise ValueError(f"without_time must be 'raise' or 'omit', got {without_time!r}")
    recorded, status, time = _competing_timed(patients, spec, competing)
    missing = time.isna().to_numpy(dtype=bool)
    if missing.any() and without_time == "raise":
        row = int(np.flatnonzero(missing)[0])
        needed = {1: spec.time, 2: competing.time}.get(int(status[row]), spec.censor_time)
        why = {1: "for the event", 2: f"for the competing event ({competing.outcome})"}.get(int(status[row]),
                                                                                           "to censor")
        raise ValueError(f"{needed} is empty in row {_position(patients, recorded.index[row])} "
                         f"({spec.outcome}: needed {why})")
    keep = ~missing
    return time.to_numpy(dtype=float)[keep], status[keep].astype(np.int64)


def _competing_timed(
    patients: pd.DataFrame, spec: TimeToEvent, competing: TimeToEvent
) -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
    """Recorded patients, their status codes (0/1/2) and their times (NA where the needed day is empty)."""
    recorded, event, time = _timed(patients, spec)
    if competing.event in recorded.columns:
        other = (recorded[competing.event] == competing.event_value).fillna(False).to_numpy(dtype=bool) & ~event
    else:
        other = np.zeros(len(recorded), dtype=bool)
    absent = pd.Series(pd.NA, index=recorded.index, dtype="Float64")
    other_time = recorded[competing.time] if competing.time in recorded.columns else absent
    time = time.where(~other, other_time.astype("Float64"))
    return recorded, np.where(event, 1, np.where(other, 2, 0)), time


def _timed(patients: pd.DataFrame, spec: TimeToEvent) -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
    """Recorded patients, their event flags and their times (NA where the needed day is empty)."""
    if spec.event not in patients.columns:  # an optional column left out: nobody recorded
        empty = patients.iloc[0:0]
        return empty, np.empty(0, dtype=bool), pd.Series([], dtype="Float64")
    recorded = patients.loc[patients[spec.event].notna().to_numpy(dtype=bool)]
    event = (recorded[spec.event] == spec.event_value).to_numpy(dtype=bool)
    absent = pd.Series(pd.NA, index=recorded.index, dtype="Float64")
    event_time = recorded[spec.time] if spec.time in recorded.columns else absent
    censor_time = recorded[spec.censor_time] if spec.censor_time in recorded.columns else absent
    time = event_time.astype("Float64").where(event, censor_time.astype("Float64"))
    return recorded, event, time


def _position(patients: pd.DataFrame, label: Any) -> int:
    """1-based row position of an index label (a row number, never the patient's code)."""
    return int(patients.index.get_indexer([label])[0]) + 1


# ------------------------------------------------------------------------------ study level


@dataclass(frozen=True)
class StudyField:
    """A study-level value derived from a patient-level column (``x-study`` of that column).

    Attributes
    ----------
    column : str
        Patient-level column.
    field : str
        Study-level field it fills (a column of the study table).
    value : object or None
        The derived value; None when no patient has the column recorded.
    derivation : str
        How it was derived, in words (counts only, never a patient's value).
    """

    column: str
    field: str
    value: Any
    derivation: str


def study_fields(
    patients: pd.DataFrame, fields: Iterable[Any], *, count_field: str | None = None
) -> tuple[StudyField, ...]:
    """Derive study-level values from the patient rows, as the schema's ``x-study`` declares.

    Each ``x-study`` entry of a field is ``{field: NAME}`` plus at most one of

    - ``map: {patient value: study value}``: translate, then combine as below;
    - ``cut: C, below: A, above: B``: a number below ``C`` gives ``A``, otherwise ``B``;
    - ``combine: median``: the median of the recorded values;
    - ``combine: list``: the distinct recorded values, sorted, joined by ``"; "``.

    Without ``combine``, the study value is the patients' common value, or ``"mixed"`` when
    they differ.

    Parameters
    ----------
    patients : pandas.DataFrame
        Typed patient rows.
    fields : iterable
        Schema fields (objects with ``name`` and ``properties``).
    count_field : str, optional
        Study field that receives the number of patients (``x-aggregate.study-count``); first.

    Returns
    -------
    tuple of StudyField
        One per ``x-study`` entry of a column present in ``patients``, in schema order.
    """
    out = [StudyField("-", count_field, len(patients), "rows of the patient file")] if count_field else []
    for spec in fields:
        for entry in spec.properties.get("x-study") or []:
            if spec.name not in patients.columns:
                continue
            values = patients[spec.name].dropna()
            out.append(_study_field(spec.name, entry, values, len(patients)))
    return tuple(out)


def _study_field(column: str, entry: Mapping[str, Any], values: pd.Series, n: int) -> StudyField:
    target = str(entry["field"])
    recorded = f"{len(values)} of {n} patients recorded"
    if values.empty:
        return StudyField(column, target, None, f"{column}: not recorded for any patient")
    if entry.get("combine") == "median":
        median = float(np.median(values.to_numpy(dtype=float)))
        return StudyField(column, target, median, f"median of {column} ({recorded})")
    if "cut" in entry:
        cut = float(entry["cut"])
        values = values.map(lambda v: entry["below"] if float(v) < cut else entry["above"])
    elif "map" in entry:
        values = values.map(lambda v: entry["map"].get(v, v))
    distinct = sorted({str(v) for v in values})
    if entry.get("combine") == "list":
        return StudyField(column, target, "; ".join(distinct), f"distinct values of {column} ({recorded})")
    value = distinct[0] if len(distinct) == 1 else "mixed"
    how = "the same for every patient" if len(distinct) == 1 else f"{len(distinct)} different values"
    return StudyField(column, target, value, f"{column}: {how} ({recorded})")


def describe_numbers(values: pd.Series) -> dict[str, float | int] | None:
    """Median, minimum, maximum and count of the recorded values (None when none is recorded)."""
    recorded = values.dropna().to_numpy(dtype=float)
    if recorded.size == 0:
        return None
    return {"median": float(np.median(recorded)), "min": float(recorded.min()),
            "max": float(recorded.max()), "n": int(recorded.size)}
