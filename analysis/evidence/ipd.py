"""Individual patient data (IPD): from patient rows to counts and to time-to-event arrays.

Which column feeds which outcome is declared in the data package, not here: a field
with ``x-outcome: death`` and ``x-event-value: 0`` (for a column ``alive``) means "this
0/1 column feeds the outcome death, and 0 is the event". Time-to-event analyses are
declared under the resource's ``x-time-to-event`` key::

    {outcome: neutrophil_recovery, event: neutrophil_recovery,
     time: days_to_neutrophil_recovery, censor_time: followup_days}

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
    "TimeToEvent",
    "aggregate_binary",
    "binary_outcomes",
    "time_to_event",
    "time_to_event_specs",
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
    """

    outcome: str
    event: str
    time: str
    censor_time: str
    event_value: Any = 1


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
    """
    values = {o.column: o.event_value for o in outcomes}
    return tuple(
        TimeToEvent(
            outcome=str(d["outcome"]),
            event=str(d["event"]),
            time=str(d["time"]),
            censor_time=str(d["censor_time"]),
            event_value=values.get(str(d["event"]), 1),
        )
        for d in declarations
    )


def aggregate_binary(patients: pd.DataFrame, outcomes: Sequence[BinaryOutcome]) -> pd.DataFrame:
    """Count events and patients assessed for each declared 0/1 column.

    .. math:: \\text{events}_o = \\#\\{i : x_{io} = v_o\\}, \\qquad
              \\text{total}_o = \\#\\{i : x_{io} \\text{ recorded}\\}

    A patient with the column empty (not recorded) is left out of that outcome's total,
    exactly as a published denominator counts only the patients assessed.

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

    Raises
    ------
    ValueError
        When a declared column is absent.
    """
    rows = []
    for spec in outcomes:
        if spec.column not in patients.columns:
            raise ValueError(f"column {spec.column!r} (outcome {spec.outcome}) is absent")
        recorded = patients[spec.column].dropna()
        if len(recorded):
            events = int((recorded == spec.event_value).sum())
            rows.append({"outcome": spec.outcome, "events": events, "total": len(recorded)})
    return pd.DataFrame(rows, columns=["outcome", "events", "total"]).astype(
        {"outcome": "string", "events": "Int64", "total": "Int64"}
    )


def time_to_event(
    patients: pd.DataFrame, spec: TimeToEvent
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Times and event indicators for a Kaplan-Meier analysis.

    A patient with the event contributes ``spec.time``; a patient without it is censored
    at ``spec.censor_time``.

    Parameters
    ----------
    patients : pandas.DataFrame
    spec : TimeToEvent

    Returns
    -------
    time : numpy.ndarray of shape (n,)
    event : numpy.ndarray of shape (n,)
        1 for an event, 0 for censoring.

    Raises
    ------
    ValueError
        When a column is absent, or a patient lacks the event indicator or the time it
        needs (row position given; never the patient's identifier).
    """
    for column in (spec.event, spec.time, spec.censor_time):
        if column not in patients.columns:
            raise ValueError(f"column {column!r} needed for {spec.outcome} is absent")
    flag = patients[spec.event]
    if flag.isna().any():
        raise ValueError(f"{spec.event} is empty in row {_first(flag.isna())}")
    event = (flag == spec.event_value).to_numpy(dtype=bool)
    time = patients[spec.time].where(event, patients[spec.censor_time])
    if time.isna().any():
        needed = np.where(event, spec.time, spec.censor_time)[_first(time.isna()) - 1]
        raise ValueError(f"{needed} is empty in row {_first(time.isna())} ({spec.outcome})")
    return time.to_numpy(dtype=float), event.astype(np.int64)


def _first(mask: pd.Series) -> int:
    """1-based position of the first True."""
    return int(np.flatnonzero(mask.to_numpy(dtype=bool))[0]) + 1
