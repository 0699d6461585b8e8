"""Checks across tables, declared by data package metadata and written as plain functions.

Two resource-level extensions of the descriptor (``datapackage.yaml``) drive them; nothing
here knows a table or a column by name:

``x-covers``
    ``[{resource: studies, key: study_id, where: "status == 'included'", each: {field: item,
    from: {file: analysis_plan.yaml, key: risk_of_bias.items}}, message: ...}]``: every row of
    ``resource`` for which ``where`` holds must have at least one row in this table with the
    same ``key`` (a field name, or ``{here: there}``); with ``matching`` (a condition on the
    rows of this table, such as ``"decision == 'include'"``), only the rows for which it holds
    count; with ``each``, one row for every value
    of ``each.field``, the values being listed in ``each.values`` or read from a YAML file
    of the data directory (``from.key`` is a dotted path; a mapping gives its keys, a list
    its items). The problem is reported on the line of the uncovered row, naming both files.
``x-quote-support``
    ``{events: events, total: total, quote: quote, derivation: derivation, when: ...}``: each
    row's count must be supported by its quote, or its derivation's arithmetic must hold
    (rules in :mod:`analysis.evidence.quotes`).
``x-double-extraction``
    on a disagreement log: the first extraction, the second reviewer's record and the log must
    tell the same story (every difference logged, every resolution applied, a checked mark only
    on rows extracted twice; rules in :mod:`analysis.evidence.agreement`).

Tables that could not be read, and rows whose fields are invalid, are skipped: their own
problem is the one to fix first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from analysis.evidence.agreement import comparisons, log_problems
from analysis.evidence.datapackage import CheckedTable, PackageCheck, Resource
from analysis.evidence.quotes import count_problems
from analysis.evidence.readers import LineDict, Problem, Row, read_yaml
from analysis.evidence.rules import ExpressionError, parse_expression

__all__ = ["coverage_problems", "cross_table_problems", "double_extraction_problems", "quote_problems"]


def cross_table_problems(check: PackageCheck, data_dir: str | Path) -> list[Problem]:
    """Every ``x-covers`` and ``x-quote-support`` problem of a checked package."""
    problems: list[Problem] = []
    for resource in check.package.resources:
        for spec in resource.properties.get("x-covers") or []:
            problems += coverage_problems(check, resource, spec, Path(data_dir))
        spec = resource.properties.get("x-quote-support")
        if isinstance(spec, Mapping):
            for table in check.tables.get(resource.name, []):
                problems += quote_problems(table, spec)
        spec = resource.properties.get("x-double-extraction")
        if isinstance(spec, Mapping):
            problems += double_extraction_problems(check, resource, spec)
    return problems


def double_extraction_problems(check: PackageCheck, resource: Resource, spec: Mapping[str, Any]) -> list[Problem]:
    """Where a disagreement log (``resource``) and the two extractions it compares disagree."""
    try:
        specs = comparisons(spec)
    except ValueError as exc:
        return [Problem(check.package.source, 0, "x-double-extraction", str(exc))]
    log = check.table(resource.name)
    if log is None or _broken(check, log):
        return []
    problems: list[Problem] = []
    for comparison in specs:
        first, second = check.table(comparison.first), check.table(comparison.second)
        if first is None or second is None or _broken(check, first) or _broken(check, second):
            continue
        tables = {"log": log, "first": first, "second": second}
        kept = {"log": list(log.rows), "first": list(_rows_where(first, comparison.first_where)),
                "second": list(second.rows)}
        rows = {name: [r.values for r in table_rows] for name, table_rows in kept.items()}
        for p in log_problems(comparison, rows["first"], rows["second"], rows["log"]):
            row = kept[p.where][p.index]
            problems.append(Problem(tables[p.where].path, row.line_of(p.column), p.column, p.message, p.severity))
    return problems


def _keys(spec: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    key = spec.get("key")
    pairs = [(key, key)] if isinstance(key, str) else list((key or {}).items())
    return tuple(str(h) for h, _ in pairs), tuple(str(t) for _, t in pairs)


def _rows_where(table: CheckedTable, where: str | None) -> Iterable[Row]:
    if not where:
        yield from table.rows
        return
    condition = parse_expression(where)
    for row in table.rows:
        if not any(n in row.invalid for n in condition.names) and condition.evaluate(row.values.get) is True:
            yield row


def coverage_problems(
    check: PackageCheck, resource: Resource, spec: Mapping[str, Any], data_dir: Path
) -> list[Problem]:
    """Rows of ``spec['resource']`` not covered by rows of ``resource`` (see ``x-covers``)."""
    here_tables = check.tables.get(resource.name) or []
    there = check.table(str(spec.get("resource")))
    if not here_tables or there is None or _broken(check, here_tables[0]) or _broken(check, there):
        return []
    here = here_tables[0]
    here_keys, there_keys = _keys(spec)
    each = spec.get("each")
    field = str(each.get("field")) if isinstance(each, Mapping) else None
    expected: tuple[Any, ...] = ()
    problems: list[Problem] = []
    if field is not None:
        expected, problems = _expected_values(each, data_dir)
        if problems:
            return problems
    found: dict[tuple[Any, ...], list[Row]] = {}
    try:
        here_rows = list(_rows_where(here, spec.get("matching")))
    except ExpressionError as exc:
        return [Problem(check.package.source, 0, "x-covers", str(exc))]
    for row in here_rows:
        found.setdefault(tuple(row.values.get(k) for k in here_keys), []).append(row)
    aggregated = _aggregated_keys(check, resource.name, here_keys) if field is None else set()
    try:
        candidates = list(_rows_where(there, spec.get("where")))
    except ExpressionError as exc:
        return [Problem(check.package.source, 0, "x-covers", str(exc))]
    for row in candidates:
        key = tuple(row.values.get(k) for k in there_keys)
        if any(v is None for v in key) or any(k in row.invalid for k in there_keys):
            continue
        shown = ", ".join(repr(v) for v in key)
        rows = found.get(key, [])
        if field is None:
            if not rows and key not in aggregated:
                message = spec.get("message") or f"needs at least one row in {_name(here.path)}"
                problems.append(Problem(there.path, row.line, there_keys[0],
                                        f"{shown}: {message}; {_name(here.path)} has none"))
            continue
        have = {r.values.get(field) for r in rows}
        missing = [v for v in expected if v not in have]
        if missing:
            message = spec.get("message") or f"needs a row in {_name(here.path)} for every {field}"
            where = f"{shown} ({_name(there.path)} line {row.line})"
            detail = f"{message}; missing {field} {', '.join(map(str, missing))} ({len(have & set(expected))} of {len(expected)} present)"
            if rows:
                problems.append(Problem(here.path, rows[-1].line, field, f"{where}: {detail}"))
            else:
                problems.append(Problem(there.path, row.line, there_keys[0],
                                        f"{shown}: {detail}; {_name(here.path)} has no row for it"))
    return problems


def _aggregated_keys(check: PackageCheck, into: str, keys: tuple[str, ...]) -> set[tuple[Any, ...]]:
    """Keys of the rows that patient-level files add to ``into`` (``x-aggregate.into``).

    A study whose counts come from its private patient-level file has outcome rows once the file is
    aggregated, even before they are copied into the table; only the file's name (its placeholder
    values) is used, never a patient value.
    """
    covered: set[tuple[Any, ...]] = set()
    for resource in check.package.resources:
        spec = resource.properties.get("x-aggregate")
        if not isinstance(spec, Mapping) or spec.get("into") != into:
            continue
        for table in check.tables.get(resource.name) or []:
            if table.rows and all(k in table.keys for k in keys):
                covered.add(tuple(table.keys[k] for k in keys))
    return covered


def _name(path: str) -> str:
    return Path(path).name


def _broken(check: PackageCheck, table: CheckedTable) -> bool:
    """A table whose file could not be read whole (its own read error is the one to fix)."""
    return table.resource.name in check.incomplete


def _expected_values(each: Mapping[str, Any], data_dir: Path) -> tuple[tuple[Any, ...], list[Problem]]:
    if "values" in each:
        return tuple(each["values"]), []
    source = each.get("from") or {}
    path = data_dir / str(source.get("file"))
    data, problems = read_yaml(path, str(path))
    if problems or data is None:
        return (), problems
    value: Any = data
    for part in str(source.get("key", "")).split("."):
        line = value.line_of(part) if isinstance(value, LineDict) else 0
        if not isinstance(value, Mapping) or part not in value:
            return (), [Problem(str(path), line, part, f"{source.get('key')} is not found here")]
        value = value[part]
    return (tuple(value) if isinstance(value, Mapping | list) else (value,)), []


def quote_problems(table: CheckedTable, spec: Mapping[str, Any]) -> list[Problem]:
    """Rows of ``table`` whose count is not supported by its quote (``x-quote-support``)."""
    names = {k: str(spec.get(k, k)) for k in ("events", "total", "quote", "derivation")}
    problems: list[Problem] = []
    try:
        rows = list(_rows_where(table, spec.get("when")))
    except ExpressionError:
        return []
    for row in rows:
        values = {k: row.values.get(v) for k, v in names.items()}
        if any(values[k] is None for k in ("events", "total", "quote")):
            continue
        if any(names[k] in row.invalid for k in ("events", "total")) or values["total"] < 1:
            continue
        if values["events"] > values["total"]:
            continue  # reported by the events <= total rule
        label = ", ".join(str(row.values.get(k)) for k in table.resource.schema.primary_key)
        for message in count_problems(values["events"], values["total"], values["quote"],
                                      values["derivation"]):
            column = names["events"]
            if message.startswith("derivation: "):
                column, message = names["derivation"], message.removeprefix("derivation: ")
            shown = f"{label}: {message}" if label else message
            problems.append(Problem(table.path, row.line_of(column), column, shown))
    return problems
