"""Agreement between two independent extractions, counted from their disagreement log.

In double extraction a second reviewer reads the same sources without seeing the first
extraction and records the same values (counts, checklist judgements, ratings). Every
difference is written in a log with its resolution; a pair of values the log does not name
agreed. The agreement rate of one table is then

.. math:: \\text{rate} = \\frac{A}{C}, \\qquad C = S - O_2, \\qquad A = C - D,

where :math:`S` is the number of the second reviewer's records that hold a value, :math:`O_2`
the log rows of values only the second reviewer recorded, and :math:`D` the log rows of values
that differ; values only one reviewer recorded are reported beside the rate, not in it
(percentage agreement before resolution, as the Cochrane Handbook asks reviews to report for
data collection) [cochranehandbook2024].

The descriptor declares the comparison on the log's resource (``x-double-extraction``); nothing
here knows a table by name::

    x-double-extraction:
      tables:
        outcomes:                      # a value of the log's `table` column
          first: outcomes              # the first extraction (its values are the resolved ones)
          second: second_outcomes      # the second reviewer's record, as delivered
          keys: {study_id: study_id, outcome_or_item: outcome}   # log column: table column
          compared_as: {outcome: compared_as}  # optional: a second-table column naming the first's key
          values: [events, total]      # the compared value, shown joined by "/" (8/10)
          checked: checked_by          # optional: the first table's column marking a checked row
          label: outcome counts        # words for the site

The log has the columns ``table``, ``round`` (the round of the second extraction), ``kind``
(``disagreement``, ``first_only``, ``second_only``), ``first_value``, ``second_value``,
``resolution`` (``first``, ``second``, ``new_value``, ``awaiting_data``, ``not_a_count``) and
``resolved_value``. The second table has a ``round`` column; its latest round for a key is the
one compared with the first table as it now stands.

:func:`agreement` counts; :func:`log_problems` checks that the log and the tables tell the same
story (every difference logged, every resolution applied, a checked mark only on compared rows).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Agreement", "Comparison", "LogProblem", "agreement", "comparisons", "format_value", "log_problems"]

#: Log kinds: a value both recorded that differs, or a value only one reviewer recorded.
KINDS = ("disagreement", "first_only", "second_only")
#: Resolutions that leave no value in the first table.
NO_VALUE = ("awaiting_data", "not_a_count")


@dataclass(frozen=True)
class Comparison:
    """How one table of the first extraction is compared with the second (``x-double-extraction``)."""

    table: str
    first: str
    second: str
    keys: Mapping[str, str]
    values: tuple[str, ...]
    compared_as: Mapping[str, str]
    checked: str | None
    label: str
    #: Condition on the first table's rows that are extractions at all (``first_where``; e.g.
    #: ``"confidence != 'ipd'"``: counts computed from patient-level data are not read from a
    #: report, so there is nothing to extract twice); None: every row.
    first_where: str | None = None

    @classmethod
    def from_spec(cls, table: str, spec: Mapping[str, Any]) -> Comparison:
        """Read one entry of ``x-double-extraction.tables``; a missing key raises ``ValueError``."""
        missing = [k for k in ("first", "second", "keys", "values") if not spec.get(k)]
        if missing:
            raise ValueError(f"x-double-extraction: table {table!r} needs {', '.join(missing)}")
        return cls(table, str(spec["first"]), str(spec["second"]), dict(spec["keys"]),
                   tuple(str(v) for v in spec["values"]), dict(spec.get("compared_as") or {}),
                   str(spec["checked"]) if spec.get("checked") else None, str(spec.get("label") or table),
                   str(spec["first_where"]) if spec.get("first_where") else None)


def comparisons(spec: Mapping[str, Any] | None) -> list[Comparison]:
    """Every comparison of an ``x-double-extraction`` declaration (empty when there is none)."""
    tables = (spec or {}).get("tables") or {}
    return [Comparison.from_spec(str(name), entry) for name, entry in tables.items()]


@dataclass(frozen=True)
class Agreement:
    """Agreement of one table before resolution.

    Attributes
    ----------
    label : str
        What was compared, in words ("outcome counts").
    compared : int
        Values both reviewers recorded (every round).
    agreed : int
        Of those, the values that were the same.
    one_sided : int
        Values only one reviewer recorded (not in ``compared``).
    """

    label: str
    compared: int
    agreed: int
    one_sided: int

    @property
    def rate(self) -> float:
        """``agreed / compared``; NaN when nothing was compared."""
        return self.agreed / self.compared if self.compared else math.nan


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd

        if value is pd.NA:
            return True
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return str(value).strip() == ""


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def format_value(row: Mapping[str, Any], values: Sequence[str]) -> str | None:
    """The compared value of ``row``: its ``values`` columns joined by "/" (``8/10``, ``yes``).

    ``None`` when any of them is empty (no value recorded).

    Examples
    --------
    >>> format_value({"events": 8, "total": 10.0}, ["events", "total"])
    '8/10'
    >>> format_value({"events": None, "total": 10}, ["events", "total"]) is None
    True
    """
    parts = [row.get(v) for v in values]
    if any(_blank(p) for p in parts):
        return None
    return "/".join(_text(p) for p in parts)


def _round(row: Mapping[str, Any]) -> int:
    value = row.get("round")
    return 1 if _blank(value) else int(float(value))


def _key(row: Mapping[str, Any], columns: Iterable[str], replace: Mapping[str, str] | None = None) -> tuple[str, ...]:
    out = []
    for column in columns:
        value = row.get(column)
        other = (replace or {}).get(column)
        if other is not None and not _blank(row.get(other)):
            value = row.get(other)
        out.append("" if _blank(value) else _text(value))
    return tuple(out)


def _of_table(log: Iterable[Mapping[str, Any]], table: str) -> list[tuple[int, Mapping[str, Any]]]:
    return [(i, r) for i, r in enumerate(log) if _text(r.get("table", "")) == table]


def agreement(comparison: Comparison, second: Sequence[Mapping[str, Any]],
              log: Sequence[Mapping[str, Any]]) -> Agreement:
    """Agreement of one table before resolution, counted from the second table and the log.

    Parameters
    ----------
    comparison : Comparison
    second : sequence of mappings
        The second reviewer's rows (every round).
    log : sequence of mappings
        The disagreement log (rows of other tables are ignored).

    Returns
    -------
    Agreement

    Raises
    ------
    ValueError
        The log names more differences than there are values compared.
    """
    recorded = sum(format_value(r, comparison.values) is not None for r in second)
    rows = [r for _, r in _of_table(log, comparison.table)]
    kinds = [_text(r.get("kind", "")) for r in rows]
    compared = recorded - kinds.count("second_only")
    agreed = compared - kinds.count("disagreement")
    if compared < 0 or agreed < 0:
        raise ValueError(f"the disagreement log names more differences of {comparison.table} than the "
                         f"{recorded} values of the second extraction")
    return Agreement(comparison.label, compared, agreed, kinds.count("first_only") + kinds.count("second_only"))


@dataclass(frozen=True)
class LogProblem:
    """A place where the log and the tables disagree: ``where`` is ``log``, ``first`` or
    ``second``; ``index`` the row (0-based, in the sequence given); ``column`` the field;
    ``severity`` ``error`` or ``warning`` (a row extracted twice but not marked checked)."""

    where: str
    index: int
    column: str
    message: str
    severity: str = "error"


def log_problems(comparison: Comparison, first: Sequence[Mapping[str, Any]], second: Sequence[Mapping[str, Any]],
                 log: Sequence[Mapping[str, Any]]) -> list[LogProblem]:
    """Where the log, the first table and the second table of ``comparison`` disagree.

    Checked: each log row names a value the second table holds (or lacks, for ``first_only``)
    in its round, and a real difference; the latest log row of a key is applied to the first
    table (``first``/``second``/``new_value``: the first table holds ``resolved_value``;
    ``awaiting_data``/``not_a_count``: it holds no value); every difference between the second
    table's latest round and the first table has a log row; and, when ``comparison.checked`` is
    set, a first row is marked checked only if the second table has a value for it (a compared
    row without the mark is reported too).
    """
    cols = tuple(comparison.keys)                       # log columns
    first_cols = tuple(comparison.keys.values())        # the same key in the tables
    out: list[LogProblem] = []
    first_at = {_key(r, first_cols): (i, format_value(r, comparison.values)) for i, r in enumerate(first)}
    second_at: dict[tuple[int, tuple[str, ...]], tuple[int, str | None]] = {}
    latest: dict[tuple[str, ...], int] = {}
    for i, r in enumerate(second):
        key = _key(r, first_cols, comparison.compared_as)
        second_at[(_round(r), key)] = (i, format_value(r, comparison.values))
        latest[key] = max(latest.get(key, 0), _round(r))
    logged: dict[tuple[int, tuple[str, ...]], tuple[int, Mapping[str, Any]]] = {}
    for i, row in _of_table(log, comparison.table):
        key, rnd = _key(row, cols), _round(row)
        logged[(rnd, key)] = (i, row)
        out += _log_row_problems(i, row, second_at.get((rnd, key)), comparison)
    for key in {k for _, k in logged}:
        rnd = max(r for r, k in logged if k == key)
        i, row = logged[(rnd, key)]
        out += _resolution_problems(i, row, first_at.get(key, (None, None))[1])
    for key, rnd in latest.items():
        j, value = second_at[(rnd, key)]
        have = first_at.get(key, (None, None))[1]
        if (rnd, key) in logged or have == value or (value is None and have is None):
            continue
        if value is None:
            i = first_at[key][0]
            out.append(LogProblem("first", i, comparison.values[0],
                                  f"{', '.join(key)}: only the first reviewer recorded a value ({have}); the "
                                  f"disagreement log needs a first_only row for round {rnd}"))
            continue
        what = (f"the first extraction has {have}" if have is not None else "the first extraction has none")
        out.append(LogProblem("second", j, comparison.values[0],
                              f"{', '.join(key)}: the second reviewer recorded {value} and {what}, but the "
                              f"disagreement log has no row for it (round {rnd})"))
    if comparison.checked:
        out += _checked_problems(comparison, first, first_cols, _compared_keys(second_at))
    return out


def _compared_keys(second_at: Mapping[tuple[int, tuple[str, ...]], tuple[int, str | None]]) -> set[tuple[str, ...]]:
    return {key for (_, key), (_, value) in second_at.items() if value is not None}


def _log_row_problems(i: int, row: Mapping[str, Any], second: tuple[int, str | None] | None,
                      comparison: Comparison) -> list[LogProblem]:
    kind = _text(row.get("kind", ""))
    first_value = None if _blank(row.get("first_value")) else _text(row["first_value"])
    second_value = None if _blank(row.get("second_value")) else _text(row["second_value"])
    have = second[1] if second is not None else None
    where = comparison.second
    if kind in ("disagreement", "second_only") and have != second_value:
        shown = f"{have}" if have is not None else "no value"
        return [LogProblem("log", i, "second_value",
                           f"{second_value} is not the second reviewer's value in {where} for this round ({shown})")]
    if kind == "first_only" and have is not None:
        return [LogProblem("log", i, "kind", f"the second reviewer recorded {have} in {where}: not first_only")]
    if kind == "disagreement" and first_value == second_value:
        return [LogProblem("log", i, "kind", f"first and second value are the same ({first_value}): not a disagreement")]
    return []


def _resolution_problems(i: int, row: Mapping[str, Any], now: str | None) -> list[LogProblem]:
    resolution = _text(row.get("resolution", ""))
    kind = _text(row.get("kind", ""))
    resolved = None if _blank(row.get("resolved_value")) else _text(row["resolved_value"])
    expected: dict[str, str | None] = {
        "first": None if kind == "second_only" else _opt(row.get("first_value")),
        "second": None if kind == "first_only" else _opt(row.get("second_value")),
        "new_value": resolved,
        "awaiting_data": None,
        "not_a_count": None,
    }
    if resolution not in expected:
        return []
    problems = []
    want = expected[resolution]
    if resolution in ("first", "second") and resolved != want:
        problems.append(LogProblem("log", i, "resolved_value",
                                   f"resolution {resolution} keeps {want or 'no value'}, but resolved_value is "
                                   f"{resolved or 'empty'}"))
    if now != want:
        problems.append(LogProblem("log", i, "resolution",
                                   f"resolved as {resolution} ({want or 'no value'}), but the first table now has "
                                   f"{now or 'no value'}: apply the resolution or correct the log"))
    return problems


def _opt(value: Any) -> str | None:
    return None if _blank(value) else _text(value)


def _checked_problems(comparison: Comparison, first: Sequence[Mapping[str, Any]], first_cols: tuple[str, ...],
                      compared: set[tuple[str, ...]]) -> list[LogProblem]:
    column = str(comparison.checked)
    out = []
    for i, row in enumerate(first):
        key = _key(row, first_cols)
        marked = not _blank(row.get(column))
        if marked and key not in compared:
            out.append(LogProblem("first", i, column, f"{', '.join(key)}: marked as checked, but the second "
                                  f"extraction ({comparison.second}) has no value for it"))
        elif not marked and key in compared:
            out.append(LogProblem("first", i, column, f"{', '.join(key)}: extracted twice ({comparison.second} has "
                                  f"it), but {column} is empty", "warning"))
    return out
