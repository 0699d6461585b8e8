"""What changed between two versions of a review: tables computed from two results snapshots.

Everything here works on *records*: lists of JSON objects (dicts) that share an identifying key,
such as the studies of a review (key ``study_id``) or its pooled results (key ``outcome`` plus
``subgroup``). A field may be a dotted path into a nested record (``"result.ci_lower"``). Nothing
here knows the names of any particular review's fields: they are passed in.

Three kinds of table, each a tidy :class:`pandas.DataFrame`:

* :func:`record_changes`: which records were added, removed or updated, and which fields of an
  updated record changed (one row per changed record);
* :func:`field_changes`: old and new value of every changed field (one row per record and field);
* :func:`estimate_changes`: for results records, old value, new value and the signed change of
  each numeric field (estimate, CI, k, N ...), old and new value of categorical ones (certainty),
  and a ``moved`` column naming what moved;

plus :func:`history` (one row per version and record, for "estimate over versions" plots) and
:func:`records_at` (fetch a record list from a payload by a dotted path).

Typical use in a "What changed" chapter (field names are the review's, passed in)::

    from analysis.living.snapshot import load_series, previous_snapshot

    old = previous_snapshot("results", "dev")          # latest release, or None
    studies = record_changes(old.results["studies"], payload["studies"], "study_id")
    moved = estimate_changes(
        old.results["outcomes"], payload["outcomes"], ("outcome", "subgroup"),
        numeric={"estimate": "result.estimate", "ci_lower": "result.ci_lower",
                 "ci_upper": "result.ci_upper", "k": "k", "n": "n"},
        categorical={"certainty": "certainty"}, only_changed=True,
    )
    trend = history(load_series("results", current), "outcomes", ("outcome", "subgroup"),
                    {"estimate": "result.estimate"})

Numeric values that differ by no more than ``tolerance`` (default ``1e-9``, absolute) count as
unchanged: two runs of the same code on the same data give identical numbers, and a difference at
the ninth decimal is numerical noise from a new library version, not a changed result.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = [
    "DEFAULT_TOLERANCE",
    "estimate_changes",
    "field_changes",
    "history",
    "record_changes",
    "records_at",
]

#: Absolute difference below which two numbers are considered equal.
DEFAULT_TOLERANCE = 1e-9

_MISSING = object()

Records = Sequence[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]]
Fields = Sequence[str] | Mapping[str, str]


# --------------------------------------------------------------------------------------------
# helpers


def _keys(key: str | Sequence[str]) -> tuple[str, ...]:
    return (key,) if isinstance(key, str) else tuple(key)


def _get(record: Mapping[str, Any], path: str) -> Any:
    """Value at a dotted ``path`` in a nested record (``None`` when absent)."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _fields(fields: Fields) -> dict[str, str]:
    """Map output column name -> path (a plain list uses each path as its own name)."""
    if isinstance(fields, Mapping):
        return dict(fields)
    return {f: f for f in fields}


def records_at(payload: Mapping[str, Any], path: str, key: str | None = None) -> list[dict]:
    """The list of records found at dotted ``path`` in a payload.

    A mapping ``{id: record}`` is turned into a list, each record receiving its id under ``key``
    (required in that case).

    Raises
    ------
    ValueError
        When nothing is found at ``path`` or it is neither a list nor a mapping of records.
    """
    found = _get(payload, path)
    if found is None:
        raise ValueError(f"results: no records at '{path}'")
    if isinstance(found, Mapping):
        if key is None:
            raise ValueError(f"results.{path} is a mapping; name the key its ids belong to")
        return [{key: k, **dict(v)} for k, v in found.items()]
    if not isinstance(found, list) or not all(isinstance(r, Mapping) for r in found):
        raise ValueError(f"results.{path}: expected a list of records (JSON objects)")
    return [dict(r) for r in found]


def _index(records: Records, keys: tuple[str, ...], side: str) -> dict[tuple, Mapping[str, Any]]:
    """Records by their key tuple; errors name the side, the record and the problem."""
    if isinstance(records, Mapping):
        if len(keys) != 1:
            raise ValueError(f"{side} records: a mapping of records needs a single key field")
        records = [{keys[0]: k, **dict(v)} for k, v in records.items()]
    out: dict[tuple, Mapping[str, Any]] = {}
    for i, record in enumerate(records):
        missing = [k for k in keys if _get(record, k) is None]
        if missing:
            raise ValueError(f"{side} record {i}: key field(s) {', '.join(missing)} missing")
        ident = tuple(_get(record, k) for k in keys)
        if ident in out:
            shown = ", ".join(f"{k}={v!r}" for k, v in zip(keys, ident, strict=True))
            raise ValueError(f"{side} records: {shown} appears more than once")
        out[ident] = record
    return out


def _same(a: Any, b: Any, tolerance: float) -> bool:
    numeric = (int, float)
    if (
        isinstance(a, numeric)
        and isinstance(b, numeric)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return math.isclose(a, b, rel_tol=0.0, abs_tol=tolerance)
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _flat_paths(record: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of every leaf of a nested record (lists are leaves)."""
    paths: list[str] = []
    for name, value in record.items():
        path = f"{prefix}{name}"
        if isinstance(value, Mapping) and value:
            paths.extend(_flat_paths(value, path + "."))
        else:
            paths.append(path)
    return paths


def _compared_paths(
    old: Mapping[str, Any], new: Mapping[str, Any], fields: Fields | None, ignore: Iterable[str]
) -> dict[str, str]:
    if fields is not None:
        return _fields(fields)
    skipped = set(ignore)
    paths = dict.fromkeys(_flat_paths(old) + _flat_paths(new))
    return {p: p for p in paths if p not in skipped}


def _key_columns(keys: tuple[str, ...], ident: tuple) -> dict[str, Any]:
    return dict(zip(keys, ident, strict=True))


def _ordered(old_ix: Mapping[tuple, Any], new_ix: Mapping[tuple, Any]) -> list[tuple]:
    """Keys in new order, then removed ones in old order."""
    return list(new_ix) + [k for k in old_ix if k not in new_ix]


# --------------------------------------------------------------------------------------------
# record-level changes


def field_changes(
    old: Records,
    new: Records,
    key: str | Sequence[str],
    fields: Fields | None = None,
    ignore: Iterable[str] = (),
    tolerance: float = DEFAULT_TOLERANCE,
) -> pd.DataFrame:
    """Every changed field of every record present in both versions.

    Parameters
    ----------
    old, new : list of dict (or mapping id -> dict)
        Records of the older and the newer version.
    key : str or sequence of str
        Field(s) identifying a record.
    fields : list of dotted paths, or mapping column name -> path, optional
        Fields to compare. Default: every leaf field of either record except ``ignore``.
    ignore : iterable of str
        Paths left out when ``fields`` is not given.
    tolerance : float
        Absolute tolerance for numbers. Default = 1e-9.

    Returns
    -------
    pandas.DataFrame
        Columns ``*key, field, old, new``; one row per changed field, records in the newer
        version's order. ``old``/``new`` hold the values as stored (``None`` = absent).
    """
    keys = _keys(key)
    old_ix, new_ix = _index(old, keys, "old"), _index(new, keys, "new")
    rows = []
    for ident, record in new_ix.items():
        before = old_ix.get(ident)
        if before is None:
            continue
        for name, path in _compared_paths(before, record, fields, ignore).items():
            if name in keys:
                continue
            a, b = _get(before, path), _get(record, path)
            if not _same(a, b, tolerance):
                rows.append({**_key_columns(keys, ident), "field": name, "old": a, "new": b})
    columns = [*keys, "field", "old", "new"]
    return pd.DataFrame(rows, columns=columns).astype({"old": object, "new": object})


def record_changes(
    old: Records,
    new: Records,
    key: str | Sequence[str],
    fields: Fields | None = None,
    ignore: Iterable[str] = (),
    tolerance: float = DEFAULT_TOLERANCE,
) -> pd.DataFrame:
    """Records added, removed or updated between two versions.

    Parameters are those of :func:`field_changes`.

    Returns
    -------
    pandas.DataFrame
        Columns ``*key, change, fields``: ``change`` is ``"added"``, ``"removed"`` or
        ``"updated"``; ``fields`` lists the changed fields of an updated record, joined by
        ``"; "`` (empty for added and removed records). Unchanged records are left out. Rows
        follow the newer version's order, removed records last.
    """
    keys = _keys(key)
    old_ix, new_ix = _index(old, keys, "old"), _index(new, keys, "new")
    details = field_changes(old, new, key, fields, ignore, tolerance)
    changed: dict[tuple, list[str]] = {}
    for row in details.to_dict("records"):
        changed.setdefault(tuple(row[k] for k in keys), []).append(row["field"])
    rows = []
    for ident in _ordered(old_ix, new_ix):
        if ident not in old_ix:
            rows.append({**_key_columns(keys, ident), "change": "added", "fields": ""})
        elif ident not in new_ix:
            rows.append({**_key_columns(keys, ident), "change": "removed", "fields": ""})
        elif ident in changed:
            joined = "; ".join(changed[ident])
            rows.append({**_key_columns(keys, ident), "change": "updated", "fields": joined})
    return pd.DataFrame(rows, columns=[*keys, "change", "fields"])


# --------------------------------------------------------------------------------------------
# estimates


def _numeric_column(values: list[Any]) -> pd.Series:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="Int64")
    return pd.Series([pd.NA if v is None else v for v in values], dtype="Float64")


def _check_numeric(value: Any, where: str) -> Any:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise ValueError(f"{where}: {value!r} is not a number")


def estimate_changes(
    old: Records,
    new: Records,
    key: str | Sequence[str],
    numeric: Fields,
    categorical: Fields = (),
    tolerance: float = DEFAULT_TOLERANCE,
    only_changed: bool = False,
) -> pd.DataFrame:
    """How each result moved between two versions.

    Parameters
    ----------
    old, new : list of dict (or mapping id -> dict)
        Result records of the older and the newer version (e.g. one per outcome and subgroup).
    key : str or sequence of str
        Field(s) identifying a result, e.g. ``("outcome", "subgroup")``.
    numeric : list of dotted paths, or mapping column name -> path
        Numeric fields, e.g. ``{"estimate": "result.estimate", "k": "k", "n": "n"}``.
    categorical : list of dotted paths, or mapping column name -> path
        Other fields compared for equality, e.g. ``{"certainty": "certainty"}``.
    tolerance : float
        Absolute tolerance for numbers. Default = 1e-9.
    only_changed : bool
        Drop results whose status is ``"unchanged"``. Default = False.

    Returns
    -------
    pandas.DataFrame
        Columns ``*key, status``, then ``<name>_old``, ``<name>_new`` and ``<name>_change``
        (new minus old; nullable ``Int64`` when every value is an integer, else ``Float64``) for
        each numeric field, ``<name>_old`` and ``<name>_new`` for each categorical field, and
        ``moved`` (the names of the fields that changed, ``"; "``-joined). ``status`` is
        ``"added"``, ``"removed"``, ``"changed"`` or ``"unchanged"``. Rows follow the newer
        version's order, removed results last.

    Raises
    ------
    ValueError
        When a numeric field holds something that is not a number (naming record and field).
    """
    keys = _keys(key)
    num, cat = _fields(numeric), _fields(categorical)
    old_ix, new_ix = _index(old, keys, "old"), _index(new, keys, "new")
    table: dict[str, list[Any]] = {k: [] for k in keys}
    table["status"] = []
    for name in num:
        table.update({f"{name}_old": [], f"{name}_new": [], f"{name}_change": []})
    for name in cat:
        table.update({f"{name}_old": [], f"{name}_new": []})
    table["moved"] = []
    for ident in _ordered(old_ix, new_ix):
        before, after = old_ix.get(ident), new_ix.get(ident)
        label = ", ".join(str(v) for v in ident)
        moved = []
        for name, path in num.items():
            a = _check_numeric(_get(before, path), f"old {label}.{name}") if before else None
            b = _check_numeric(_get(after, path), f"new {label}.{name}") if after else None
            delta = b - a if a is not None and b is not None else None
            if before and after and not _same(a, b, tolerance):
                moved.append(name)
            table[f"{name}_old"].append(a)
            table[f"{name}_new"].append(b)
            table[f"{name}_change"].append(delta)
        for name, path in cat.items():
            a = _get(before, path) if before else None
            b = _get(after, path) if after else None
            if before and after and not _same(a, b, tolerance):
                moved.append(name)
            table[f"{name}_old"].append(a)
            table[f"{name}_new"].append(b)
        status = (
            "added"
            if before is None
            else "removed"
            if after is None
            else "changed"
            if moved
            else "unchanged"
        )
        for k, v in _key_columns(keys, ident).items():
            table[k].append(v)
        table["status"].append(status)
        table["moved"].append("; ".join(moved))
    frame = pd.DataFrame({k: v for k, v in table.items() if k in (*keys, "status", "moved")})
    for name in num:
        for suffix in ("old", "new", "change"):
            frame[f"{name}_{suffix}"] = _numeric_column(table[f"{name}_{suffix}"])
    for name in cat:
        for suffix in ("old", "new"):
            frame[f"{name}_{suffix}"] = pd.Series(table[f"{name}_{suffix}"], dtype=object)
    order = [*keys, "status"]
    for name in num:
        order += [f"{name}_old", f"{name}_new", f"{name}_change"]
    for name in cat:
        order += [f"{name}_old", f"{name}_new"]
    frame = frame[[*order, "moved"]]
    if only_changed:
        frame = frame[frame["status"] != "unchanged"].reset_index(drop=True)
    return frame


# --------------------------------------------------------------------------------------------
# history


def history(
    versions: Sequence[Any],
    path: str,
    key: str | Sequence[str],
    fields: Fields,
) -> pd.DataFrame:
    """Values of chosen fields in every version, for "estimate over versions" plots.

    Parameters
    ----------
    versions : sequence of snapshots, or of ``(version, date, payload)`` tuples
        Oldest first; a snapshot is anything with ``version``, ``date`` and ``results``
        attributes (e.g. :func:`analysis.living.snapshot.load_series`); dates are shown as ISO text.
    path : str
        Dotted path of the record list inside each payload, e.g. ``"outcomes"``.
    key : str or sequence of str
        Field(s) identifying a record.
    fields : list of dotted paths, or mapping column name -> path

    Returns
    -------
    pandas.DataFrame
        Columns ``version, date, *key, *fields``; one row per version and record. A version
        where a record is absent has no row for it (nothing is filled in).
    """
    keys = _keys(key)
    wanted = _fields(fields)
    rows = []
    for item in versions:
        version, date, payload = (
            (item.version, item.date, item.results) if hasattr(item, "results") else item
        )
        date = date.isoformat() if hasattr(date, "isoformat") else date
        for ident, record in _index(records_at(payload, path), keys, version).items():
            row = {"version": version, "date": date, **_key_columns(keys, ident)}
            row.update({name: _get(record, p) for name, p in wanted.items()})
            rows.append(row)
    return pd.DataFrame(rows, columns=["version", "date", *keys, *wanted])
