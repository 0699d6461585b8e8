"""Frictionless data package descriptors: parse them, and check data against them.

The descriptor (``datapackage.yaml``) is the single source of truth for the columns of
every table. This module knows the Table Schema vocabulary, not any table: field
``type`` (string, integer, number, boolean, date, array, any), ``constraints``
(``required``, ``unique``, ``enum``, ``minimum``, ``maximum``, ``pattern``, ``minLength``,
``maxLength``),
``primaryKey``, ``foreignKeys``, ``missingValues`` and ``fieldsMatch``. Types, constraints,
missing values, primary keys and unique fields are checked by ``frictionless`` (the
standard's reference implementation), fed the rows as inline data so that every problem
keeps the line it came from; this module reads the files (CSV, YAML records, BibTeX) with
their lines, words the messages (``file:line: column: message``, private values hidden),
checks foreign keys (with "did you mean") and these extensions (custom keys start with
``x-``):

``x-required-if`` (schema)
    ``[{field: quote, when: "confidence in ['verified_fulltext']"}]``: a field that must
    be filled when a condition holds.
``x-empty-if`` (schema)
    ``[{field: days_to_recovery, when: "recovery == 0"}]``: a field that must be left
    empty when a condition holds (optional ``message``).
``x-rules`` (package)
    ``[{table: outcomes, check: "events <= total"}, {table: outcomes, check:
    "total <= studies.n_boosted", join: study_id}]``: cross-field and cross-table rules,
    written in the small language of :mod:`analysis.evidence.rules`; optional ``when``,
    ``column``, ``message`` and ``severity`` (``error`` or ``warning``).
``x-records`` (resource)
    For a YAML resource, the top-level key holding the list of records.
``x-pattern`` (resource)
    A path pattern such as ``private/{study_id}.csv``: one table per matching file.
    ``x-pattern-reference: {resource: ..., fields: ...}`` checks the value of the pattern key.
``x-private`` (resource)
    Values of the resource are never echoed in messages.
``x-min-rows`` (resource)
    The least number of data rows a table (each file of a pattern) must have.
``x-separator`` (field)
    Multi-valued cells; ``enum`` then applies to each item.
``x-partial-date`` (field)
    A ``date`` that may be given as ``YYYY-MM``; such values stay ISO text.
``x-recommended`` (field)
    A missing value is reported as a warning, unless the record fills one of the fields
    listed in ``x-recommended-unless`` (for example ``nodoi = {a letter without a DOI}``).
``x-items`` (field of type array)
    ``{fields: [...]}``: the schema of each item of a YAML list.

Other ``x-`` keys are kept in ``properties`` for the modules that use them (IPD
aggregation, summaries, the data dictionary, ``x-covers`` and ``x-quote-support`` of
:mod:`analysis.evidence.crosschecks`).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from analysis.evidence.extras import require
from analysis.evidence.readers import LineDict, Problem, RawTable, Row, read_csv_rows, read_yaml
from analysis.evidence.rules import UNKNOWN, Expression, ExpressionError, parse_expression

__all__ = [
    "CheckedTable",
    "DescriptorError",
    "Field",
    "ForeignKey",
    "Package",
    "PackageCheck",
    "Problem",
    "Resource",
    "Rule",
    "Schema",
    "check_package",
    "read_descriptor",
]

#: Field types understood by the checker (a subset of Table Schema, plus ``array``
#: for YAML lists of records).
FIELD_TYPES = ("string", "integer", "number", "boolean", "date", "array", "any")
#: ``fieldsMatch`` modes (Table Schema v2): ``exact`` same names in the same order;
#: ``equal`` same names in any order; ``subset`` all schema fields present, extra columns
#: allowed; ``superset`` no column outside the schema, optional ones may be absent;
#: ``partial`` at least one schema field present.
FIELDS_MATCH = ("exact", "equal", "subset", "superset", "partial")
_TRUE = ("true", "True", "TRUE", "1")
_FALSE = ("false", "False", "FALSE", "0")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR_MONTH = re.compile(r"(\d{4})-(\d{2})")


class DescriptorError(ValueError):
    """The descriptor itself is unreadable or inconsistent; ``problems`` lists why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in problems))


# ---------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Field:
    """One column of a table schema (see the module docstring for the keys)."""

    name: str
    type: str = "string"
    title: str = ""
    description: str = ""
    required: bool = False
    unique: bool = False
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    separator: str | None = None
    partial_date: bool = False
    recommended: bool = False
    true_values: tuple[str, ...] = _TRUE
    false_values: tuple[str, ...] = _FALSE
    items: Schema | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ForeignKey:
    """``fields`` of this table must exist as ``reference_fields`` of ``resource``."""

    fields: tuple[str, ...]
    resource: str
    reference_fields: tuple[str, ...]


@dataclass(frozen=True)
class Conditional:
    """``field`` is required (``x-required-if``) or must be empty (``x-empty-if``) when ``when`` is true."""

    field: str
    when: Expression
    message: str = ""


@dataclass(frozen=True)
class Schema:
    """A Table Schema."""

    fields: tuple[Field, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    required_if: tuple[Conditional, ...] = ()
    empty_if: tuple[Conditional, ...] = ()
    missing_values: tuple[str, ...] = ("",)
    fields_match: str = "exact"

    @property
    def names(self) -> tuple[str, ...]:
        """Field names in schema order."""
        return tuple(f.name for f in self.fields)

    def get_field(self, name: str) -> Field:
        """The field called ``name`` (KeyError if absent)."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)


@dataclass(frozen=True)
class Resource:
    """A data resource: a file (``path``) or a family of files (``pattern``)."""

    name: str
    schema: Schema
    path: str | None = None
    pattern: str | None = None
    format: str = "csv"
    title: str = ""
    description: str = ""
    records_key: str | None = None
    private: bool = False
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """A cross-field or cross-table check (``x-rules``)."""

    table: str
    check: Expression
    when: Expression | None = None
    join: tuple[tuple[str, str], ...] = ()
    column: str = ""
    message: str = ""
    severity: str = "error"


@dataclass(frozen=True)
class Package:
    """A parsed data package descriptor."""

    name: str
    resources: tuple[Resource, ...]
    rules: tuple[Rule, ...] = ()
    title: str = ""
    description: str = ""
    properties: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    def resource(self, name: str) -> Resource:
        """The resource called ``name`` (KeyError if absent)."""
        for candidate in self.resources:
            if candidate.name == name:
                return candidate
        raise KeyError(name)


# ------------------------------------------------------------------ descriptor parsing


class _Collector:
    """Collects descriptor problems with the line of the offending key."""

    def __init__(self, shown: str) -> None:
        self.shown = shown
        self.problems: list[Problem] = []

    def add(self, where: Any, key: Any, message: str) -> None:
        line = where.line_of(key) if isinstance(where, LineDict) else 0
        self.problems.append(Problem(self.shown, line, str(key), message))

    def expression(self, where: Any, key: str) -> Expression | None:
        try:
            return parse_expression(where[key])
        except ExpressionError as exc:
            self.add(where, key, str(exc))
            return None


def read_descriptor(path: str | Path) -> Package:
    """Read and check a data package descriptor (YAML or JSON).

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    Package

    Raises
    ------
    DescriptorError
        With every problem found (unreadable file, invalid YAML, unknown types,
        unparseable rules, references to unknown resources or fields).
    """
    path = Path(path)
    shown = str(path)
    data, problems = read_yaml(path, shown)
    if problems or data is None:
        raise DescriptorError(problems or [Problem(shown, 0, "-", "the descriptor is empty")])
    try:
        return parse_descriptor(data, shown)
    except (AttributeError, TypeError, ValueError) as exc:
        if isinstance(exc, DescriptorError):
            raise
        # a block where a list or a key: value block was expected, deep in the descriptor
        message = f"the descriptor's structure is malformed ({exc})"
        raise DescriptorError([Problem(shown, 0, "-", message)]) from None


def parse_descriptor(data: Mapping[str, Any], shown: str = "datapackage") -> Package:
    """Build a :class:`Package` from a descriptor already loaded as a mapping.

    Raises
    ------
    DescriptorError
    """
    out = _Collector(shown)
    if not isinstance(data, Mapping) or not isinstance(data.get("resources"), list):
        raise DescriptorError([Problem(shown, 1, "resources", "a list of resources is required")])
    resources = tuple(r for r in (_resource(item, out) for item in data["resources"]) if r)
    rules = tuple(r for r in (_rule(item, out) for item in data.get("x-rules") or []) if r)
    package = Package(
        name=str(data.get("name", "")),
        resources=resources,
        rules=rules,
        title=str(data.get("title", "")),
        description=str(data.get("description", "")),
        properties={k: v for k, v in data.items() if str(k).startswith("x-")},
        source=shown,
    )
    _check_references(package, data, out)
    if out.problems:
        raise DescriptorError(out.problems)
    return package


def _resource(item: Any, out: _Collector) -> Resource | None:
    if not isinstance(item, Mapping) or not item.get("name"):
        out.add(item, "name", "every resource needs a name")
        return None
    if not (item.get("path") or item.get("x-pattern")):
        out.add(item, "path", f"resource {item['name']!r} needs a path or an x-pattern")
    location = str(item.get("path") or item.get("x-pattern") or "")
    fmt = str(item.get("format") or Path(location).suffix.lstrip(".") or "csv")
    fmt = {"yml": "yaml", "bib": "bibtex"}.get(fmt, fmt)
    if fmt not in ("csv", "yaml", "bibtex"):
        out.add(item, "format", f"format {fmt!r} is not supported (csv, yaml, bibtex)")
    schema = _schema(item.get("schema"), item, out)
    return Resource(
        name=str(item["name"]),
        schema=schema,
        path=item.get("path"),
        pattern=item.get("x-pattern"),
        format=fmt,
        title=str(item.get("title", "")),
        description=str(item.get("description", "")),
        records_key=item.get("x-records"),
        private=bool(item.get("x-private", False)),
        properties={k: v for k, v in item.items() if str(k).startswith("x-")},
    )


def _schema(data: Any, owner: Any, out: _Collector) -> Schema:
    if not isinstance(data, Mapping) or not isinstance(data.get("fields"), list):
        out.add(owner, "schema", "a schema with a list of fields is required")
        return Schema(fields=())
    fields = tuple(f for f in (_field(item, out) for item in data["fields"]) if f)
    match = str(data.get("fieldsMatch", "exact"))
    if match not in FIELDS_MATCH:
        out.add(data, "fieldsMatch", f"fieldsMatch must be one of {', '.join(FIELDS_MATCH)}")
    required_if = _conditionals(data, "x-required-if", out)
    empty_if = _conditionals(data, "x-empty-if", out)
    return Schema(
        fields=fields,
        primary_key=_names(data.get("primaryKey")),
        foreign_keys=tuple(_foreign_key(item, out) for item in data.get("foreignKeys") or []),
        required_if=required_if,
        empty_if=empty_if,
        missing_values=tuple(str(v) for v in data.get("missingValues", [""])),
        fields_match=match,
    )


def _field(item: Any, out: _Collector) -> Field | None:
    if not isinstance(item, Mapping) or not item.get("name"):
        out.add(item, "name", "every field needs a name")
        return None
    ftype = str(item.get("type", "string"))
    if ftype not in FIELD_TYPES:
        out.add(item, "type", f"type {ftype!r} is not one of {', '.join(FIELD_TYPES)}")
    constraints = item.get("constraints") or {}
    pattern = constraints.get("pattern")
    if pattern is not None:
        try:
            re.compile(str(pattern))
        except re.error as exc:
            out.add(constraints, "pattern", f"invalid regular expression: {exc}")
            pattern = None
    items = _schema(item["x-items"], item, out) if "x-items" in item else None
    enum = constraints.get("enum")
    return Field(
        name=str(item["name"]),
        type=ftype,
        title=str(item.get("title", "")),
        description=str(item.get("description", "")).strip(),
        required=bool(constraints.get("required", False)),
        unique=bool(constraints.get("unique", False)),
        enum=tuple(enum) if enum is not None else None,
        minimum=constraints.get("minimum"),
        maximum=constraints.get("maximum"),
        pattern=pattern,
        min_length=constraints.get("minLength"),
        max_length=constraints.get("maxLength"),
        separator=item.get("x-separator"),
        partial_date=bool(item.get("x-partial-date", False)),
        recommended=bool(item.get("x-recommended", False)),
        true_values=tuple(item.get("trueValues", _TRUE)),
        false_values=tuple(item.get("falseValues", _FALSE)),
        items=items,
        properties={k: v for k, v in item.items() if str(k).startswith("x-")},
    )


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (str(value),) if isinstance(value, str) else tuple(str(v) for v in value)


def _foreign_key(item: Any, out: _Collector) -> ForeignKey:
    reference = item.get("reference") if isinstance(item, Mapping) else None
    if not isinstance(reference, Mapping) or "fields" not in item:
        out.add(item, "foreignKeys", "each foreign key needs fields and a reference")
        return ForeignKey((), "", ())
    return ForeignKey(
        _names(item["fields"]), str(reference.get("resource", "")), _names(reference.get("fields"))
    )


def _conditionals(data: Mapping[str, Any], key: str, out: _Collector) -> tuple[Conditional, ...]:
    """The ``x-required-if`` or ``x-empty-if`` entries of a schema."""
    found = []
    for item in data.get(key) or []:
        when = (
            out.expression(item, "when") if isinstance(item, Mapping) and "when" in item else None
        )
        if when is None or "field" not in item:
            out.add(item, key, "each entry needs a field and a when condition")
            continue
        found.append(Conditional(str(item["field"]), when, str(item.get("message", ""))))
    return tuple(found)


def _rule(item: Any, out: _Collector) -> Rule | None:
    if not isinstance(item, Mapping) or "table" not in item or "check" not in item:
        out.add(item, "x-rules", "each rule needs a table and a check")
        return None
    check = out.expression(item, "check")
    when = out.expression(item, "when") if "when" in item else None
    if check is None or ("when" in item and when is None):
        return None
    join = item.get("join")
    pairs = ((join, join),) if isinstance(join, str) else tuple((join or {}).items())
    severity = str(item.get("severity", "error"))
    if severity not in ("error", "warning"):
        out.add(item, "severity", "severity must be error or warning")
    return Rule(
        table=str(item["table"]),
        check=check,
        when=when,
        join=tuple((str(a), str(b)) for a, b in pairs),
        column=str(item.get("column") or (*check.names, "-")[0]),
        message=str(item.get("message", "")),
        severity=severity,
    )


def _check_references(package: Package, data: Mapping[str, Any], out: _Collector) -> None:
    names = {r.name: r for r in package.resources}
    for resource in package.resources:
        known = set(resource.schema.names)
        for key in resource.schema.primary_key:
            if key not in known:
                out.add(data, "resources", f"{resource.name}: primaryKey {key!r} is not a field")
        for fk in resource.schema.foreign_keys:
            target = names.get(fk.resource)
            if target is None or not set(fk.reference_fields) <= set(target.schema.names):
                out.add(data, "resources", f"{resource.name}: foreign key to unknown {fk.resource}")
        for key, conds in (("x-required-if", resource.schema.required_if),
                           ("x-empty-if", resource.schema.empty_if)):
            for cond in conds:
                if cond.field not in known or not set(cond.when.names) <= known:
                    out.add(data, "resources", f"{resource.name}: {key} names unknown fields")
    for rule in package.rules:
        if rule.table not in names:
            out.add(data, "x-rules", f"rule {rule.check.text!r}: unknown table {rule.table!r}")
            continue
        for problem in _rule_reference_problems(rule, names):
            out.add(data, "x-rules", f"rule {rule.check.text!r}: {problem}")
    for resource in package.resources:
        _check_aggregate(resource, names, data, out)


def _rule_reference_problems(rule: Rule, names: Mapping[str, Resource]) -> list[str]:
    schema = names[rule.table].schema
    own = {f.name: f for f in schema.fields}
    found = []
    expressions = [rule.check] + ([rule.when] if rule.when is not None else [])
    for expression in expressions:
        found += [f"{n!r} is not a field of {rule.table}" for n in expression.names if n not in own]
        for base, attr in expression.references:
            if base in own and own[base].items is not None:
                if attr not in own[base].items.names:
                    found.append(f"{base}.{attr}: {attr!r} is not a field of the items of {base}")
            elif base not in names or attr not in names[base].schema.names:
                found.append(f"{base}.{attr} is neither a table column nor a list field")
            elif not rule.join:
                found.append(f"{base}.{attr} needs a join")
    return found


def _check_aggregate(
    resource: Resource, names: Mapping[str, Resource], data: Any, out: _Collector
) -> None:
    plan = resource.properties.get("x-aggregate")
    if plan is None:
        return
    target = names.get(str(plan.get("into"))) if isinstance(plan, Mapping) else None
    if target is None:
        out.add(data, "resources", f"{resource.name}: x-aggregate needs 'into' naming a resource")
        return
    needed = ["key", "outcome", "events", "total"]
    columns = [str(plan.get(k)) for k in needed] + [str(k) for k in plan.get("set") or {}]
    for column in columns:
        if column not in target.schema.names:
            out.add(data, "resources", f"{resource.name}: x-aggregate names unknown {column!r}")


# ------------------------------------------------------- Table Schema, on frictionless


def _frictionless() -> Any:
    return require("frictionless", "evidence", who="checking tables against their Table Schema")


def _descriptor(spec: Field, constraints: bool = True) -> dict[str, Any]:
    """The frictionless field descriptor of a field (the ``x-`` extensions are checked here)."""
    out: dict[str, Any] = {"name": spec.name, "type": "string" if spec.partial_date else spec.type}
    if spec.type == "number":
        out["floatNumber"] = True
    if spec.type == "boolean":
        out["trueValues"], out["falseValues"] = list(spec.true_values), list(spec.false_values)
    found = {
        "required": spec.required or None,
        "unique": spec.unique or None,
        "enum": list(spec.enum) if spec.enum is not None and not spec.separator else None,
        "minimum": spec.minimum,
        "maximum": spec.maximum,
        "pattern": spec.pattern,
        "minLength": spec.min_length,
        "maxLength": spec.max_length,
    }
    if constraints and any(v is not None for v in found.values()):
        out["constraints"] = {k: v for k, v in found.items() if v is not None}
    return out


_FIELDS: dict[str, Any] = {}


def _ffield(spec: Field, constraints: bool) -> Any:
    """The frictionless field of a field (cached by its descriptor)."""
    descriptor = _descriptor(spec, constraints)
    key = repr(sorted(descriptor.items()))
    if key not in _FIELDS:
        _FIELDS[key] = _frictionless().Field.from_descriptor(descriptor)
    return _FIELDS[key]


def cast_value(spec: Field, raw: Any, missing: Sequence[str] = ("",)) -> tuple[Any, str | None]:
    """Type one raw value according to its field (frictionless ``Field.read_cell``).

    Parameters
    ----------
    spec : Field
    raw : object
        A CSV cell (str) or a YAML scalar/list.
    missing : sequence of str
        Cells that mean "not reported".

    Returns
    -------
    value : object
        The typed value, ``None`` when missing or invalid.
    error : str or None
        Why the value is invalid (without quoting it).
    """
    if raw is None or (isinstance(raw, str) and raw in missing):
        return None, None
    value, notes = _ffield(spec, False).read_cell(raw)
    error = _extension_error(spec, raw, value) if not notes else _type_message(spec, raw)
    return (None, error) if error else (value, None)


def _type_message(spec: Field, raw: Any) -> str:
    """Why a value is not of its field's type, in words a contributor can act on."""
    if spec.type == "date":
        expected = "a date YYYY-MM-DD" + (" or YYYY-MM" if spec.partial_date else "")
        if isinstance(raw, str) and _DATE.fullmatch(raw):
            return f"expected {expected} (this day does not exist)"
        return f"expected {expected}"
    if spec.type == "boolean":
        return f"expected true or false ({', '.join((*spec.true_values, *spec.false_values))})"
    return {
        "string": "expected text (in YAML, put the value in quotes)",
        "integer": "expected a whole number",
        "number": "expected a number (digits, with . as decimal point)",
        "array": "expected a list",
    }.get(spec.type, f"expected a value of type {spec.type}")


def _extension_error(spec: Field, raw: Any, value: Any) -> str | None:
    """What frictionless accepts and this package does not: NaN and infinity, a decimal in an
    integer column, and an ``x-partial-date`` that is neither YYYY-MM-DD nor YYYY-MM."""
    wrong_number = isinstance(value, float) and not math.isfinite(value)
    if wrong_number or (spec.type == "integer" and isinstance(raw, bool | float)):
        return _type_message(spec, raw)
    if not spec.partial_date or isinstance(raw, date):
        return None
    month = _YEAR_MONTH.fullmatch(str(value))
    if month and 1 <= int(month.group(2)) <= 12:
        return None
    try:
        return None if _DATE.fullmatch(str(value)) and date.fromisoformat(str(value)) else _type_message(spec, "")
    except ValueError:
        return _type_message(spec, str(value))


def _partial(spec: Field, value: Any) -> Any:
    return value.isoformat() if spec.partial_date and isinstance(value, date) else value


def constraint_errors(
    spec: Field, value: Any, show: Callable[[Any], str] | None = None
) -> Iterator[str]:
    """Messages for the constraints (enum, minimum, maximum, pattern) a typed value breaks.

    ``show`` renders the offending value in the message (default: its repr for text).
    With ``x-separator``, ``enum`` applies to each item.
    """
    show = show or _shown
    if spec.separator and spec.enum is not None and isinstance(value, str):
        for item in value.split(spec.separator):
            if item not in spec.enum:
                yield _constraint_message(spec, "enum", item, show)
    _, notes = _ffield(spec, True).read_cell(value)
    for name in notes or {}:
        if name not in ("required", "unique", "type"):
            yield _constraint_message(spec, name, value, show)


def _constraint_message(spec: Field, name: str, value: Any, show: Callable[[Any], str]) -> str:
    if name == "enum":
        close = difflib.get_close_matches(str(value), [str(v) for v in spec.enum or ()], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{show(value)} is not one of: {', '.join(str(v) for v in spec.enum or ())}{hint}"
    if name == "minimum":
        return f"{show(value)} is below the minimum {spec.minimum}"
    if name == "maximum":
        return f"{show(value)} is above the maximum {spec.maximum}"
    if name == "pattern":
        hint = spec.properties.get("x-pattern-hint") or f"pattern {spec.pattern}"
        return f"{show(value)} does not match {hint}"
    if name in ("maxLength", "minLength"):
        size = len(str(value))
        limit = f"at most {spec.max_length} allowed" if name == "maxLength" else f"at least {spec.min_length} needed"
        return f"{show(value)} is {size} character{'' if size == 1 else 's'} long; {limit}"
    if name == "required":
        return "required value is missing"
    return f"{show(value)} breaks the {name} constraint"


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


# -------------------------------------------------------------------- table checks


@dataclass
class CheckedTable:
    """A table read and typed against its resource.

    Attributes
    ----------
    resource : Resource
    raw : RawTable
        The rows, with ``values`` typed (``None`` = missing or invalid).
    keys : dict
        Placeholder values of a pattern resource (``{"study_id": "x"}``), else empty.
    """

    resource: Resource
    raw: RawTable
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> list[Row]:
        """Rows of the table."""
        return self.raw.rows

    @property
    def path(self) -> str:
        """The file as shown in messages."""
        return self.raw.path


class _Reporter:
    """Builds problems for one table, hiding values of private resources."""

    def __init__(self, table: CheckedTable, problems: list[Problem]) -> None:
        self.table = table
        self.problems = problems
        self.private = table.resource.private

    def add(self, line: int, column: str, message: str, severity: str = "error") -> None:
        self.problems.append(Problem(self.table.path, line, column, message, severity))  # type: ignore[arg-type]

    def value(self, raw: Any) -> str:
        return "this value" if self.private else _shown(raw)


def check_columns(table: CheckedTable, problems: list[Problem]) -> None:
    """Compare the columns found with the schema (``fieldsMatch``)."""
    schema = table.resource.schema
    found, expected = table.raw.columns, schema.names
    report = _Reporter(table, problems)
    line, mode = table.raw.header_line, schema.fields_match
    if table.resource.format != "csv" and mode in ("exact", "equal"):
        mode = "superset"  # records of YAML/BibTeX: no order, an absent key is a missing value
    missing = [n for n in expected if n not in found]
    extra = [n for n in found if n not in expected]
    if mode in ("exact", "equal", "subset"):
        for name in missing:
            report.add(line, name, "column is missing")
    if mode == "superset":
        for name in missing:
            if schema.get_field(name).required:
                report.add(line, name, "required column is missing")
    if mode in ("exact", "equal", "superset"):
        for name in extra:
            report.add(
                _first_line(table, name, line), name, "column is not in the data package schema"
            )
    if mode == "partial" and not set(found) & set(expected):
        report.add(line, "-", "none of the schema's columns is present")
    if mode == "exact" and not missing and not extra and tuple(found) != expected:
        report.add(line, "-", f"columns are not in the schema order: {', '.join(expected)}")


def _first_line(table: CheckedTable, name: str, default: int) -> int:
    """Line where column ``name`` first appears (YAML keys sit on their own lines)."""
    for row in table.rows:
        if name in row.field_lines:
            return row.field_lines[name]
    return default


def _check_min_rows(table: CheckedTable, problems: list[Problem]) -> None:
    """``x-min-rows``: a table (for a pattern, each file) with fewer rows is an error."""
    minimum = table.resource.properties.get("x-min-rows")
    if isinstance(minimum, int) and len(table.rows) < minimum:
        rows = "row" if minimum == 1 else "rows"
        problems.append(Problem(table.path, table.raw.header_line, "-",
                                f"the file has {len(table.rows)} data rows; at least {minimum} {rows} expected"))


def check_rows(table: CheckedTable, problems: list[Problem]) -> None:
    """Type every cell and check the schema: types, constraints, missing values, primary key.

    frictionless reads the rows (as inline data, so that every row keeps its line); the
    ``x-`` extensions (``x-separator``, ``x-partial-date``, ``x-recommended``, ``x-items``,
    ``x-required-if``, ``x-empty-if``) are checked after it.
    """
    present = set(table.raw.columns)
    everywhere = table.resource.format != "csv"
    specs = [f for f in table.resource.schema.fields if everywhere or f.name in present]
    _check_records(table.rows, specs, table.resource.schema, _Reporter(table, problems))
    for row in table.rows:
        _check_required_if(row, table.resource.schema, _Reporter(table, problems))


def _check_records(rows: list[Row], specs: list[Field], schema: Schema, report: _Reporter,
                   prefixes: Sequence[str] = ()) -> None:
    """Type ``rows`` with frictionless and report its errors at the rows' lines.

    ``prefixes`` (one per row) name the items of a list field (``legs[2]``) in messages.
    """
    fl = _frictionless()
    descriptor: dict[str, Any] = {
        "fields": [_descriptor(f) for f in specs],
        "missingValues": list(schema.missing_values),
    }
    names = [f.name for f in specs]
    if schema.primary_key and set(schema.primary_key) <= set(names):
        descriptor["primaryKey"] = list(schema.primary_key)
    data = [names] + [[_inline(row.raw.get(n)) for n in names] for row in rows]
    resource = fl.Resource(data=data, schema=fl.Schema.from_descriptor(descriptor))
    with resource:
        for frow in resource.row_stream:
            index = frow.row_number - 2
            row, cells = rows[index], frow.to_dict()
            here = _Prefixed(report, prefixes[index]) if prefixes else report
            for error in frow.errors:
                _report_error(error, row, rows, specs, schema, here)
            for spec in specs:
                _finish_cell(row, spec, cells.get(spec.name), schema, here)


def _inline(raw: Any) -> Any:
    """A raw value as frictionless inline data (a YAML mapping is passed as a plain dict)."""
    return dict(raw) if isinstance(raw, LineDict) else raw


def _report_error(error: Any, row: Row, rows: list[Row], specs: list[Field], schema: Schema,
                  report: _Reporter) -> None:
    kind, name = error.type, getattr(error, "field_name", None)
    spec = next((f for f in specs if f.name == name), None)
    if kind in ("primary-key", "unique-error"):
        first = re.search(r"row at position (\d+)", error.note)
        if first is None:
            return  # a key with missing cells: the required value is reported instead
        fields = schema.primary_key if kind == "primary-key" else (str(name),)
        key = ", ".join(report.value(_raw_or_value(row, n)) for n in fields)
        earlier = rows[int(first.group(1)) - 2].line
        report.add(row.line, fields[0], f"duplicate {' + '.join(fields)} ({key}); first on line {earlier}")
    elif kind == "blank-row":
        report.add(row.line, "-", "the row is empty")
    elif spec is not None and kind == "type-error":
        row.invalid.add(spec.name)
        report.add(row.line_of(spec.name), spec.name,
                   f"{_type_message(spec, row.raw.get(spec.name))}, found {report.value(row.raw.get(spec.name))}")
    elif spec is not None and kind == "constraint-error":
        constraint = re.match(r'constraint "(\w+)"', error.note)
        which = constraint.group(1) if constraint else "constraint"
        if which != "required":
            row.invalid.add(spec.name)
        raw = row.raw.get(spec.name)
        value, wrong = cast_value(spec, raw, schema.missing_values)
        message = f"{wrong}, found {report.value(raw)}" if wrong else _constraint_message(
            spec, which, value, report.value)
        report.add(row.line_of(spec.name), spec.name, message)
    else:  # no other kind is expected from rows built here; its note may hold a value
        report.add(row.line, name or "-", kind if report.private else (error.note or kind))


def _raw_or_value(row: Row, name: str) -> Any:
    value = row.values.get(name)
    return row.raw.get(name) if value is None else value


def _finish_cell(row: Row, spec: Field, value: Any, schema: Schema, report: _Reporter) -> None:
    """The ``x-`` extensions of one cell, once frictionless has typed it."""
    line, raw = row.line_of(spec.name), row.raw.get(spec.name)
    if spec.name not in row.invalid and value is not None:
        error = _extension_error(spec, raw, value)
        messages = [f"{error}, found {report.value(raw)}"] if error else []
        if not error and spec.separator and spec.enum is not None:
            messages = [m for m in constraint_errors(spec, value, report.value) if "is not one of" in m]
        for message in messages:
            row.invalid.add(spec.name)
            report.add(line, spec.name, message)
    if spec.name in row.invalid:
        row.values[spec.name] = None
        return
    row.values[spec.name] = _partial(spec, value)
    if value is None and spec.recommended and not spec.required and not _excused(row, spec):
        keys = [report.value(row.raw.get(k)) for k in schema.primary_key if row.raw.get(k)]
        where = f" for {', '.join(keys)}" if keys else ""
        report.add(line, spec.name, f"no {spec.name}{where} (recommended)", "warning")
    if value is not None and spec.items is not None:
        _check_items(row, spec, value, report)


def _excused(row: Row, spec: Field) -> bool:
    """``x-recommended-unless: [nodoi]``: a record that fills one of these fields says why the value is absent."""
    unless = spec.properties.get("x-recommended-unless") or []
    names = [unless] if isinstance(unless, str) else list(unless)
    return any(str(row.raw.get(n) or "").strip() for n in names)


def _check_items(row: Row, spec: Field, items: list[Any], report: _Reporter) -> None:
    """``x-items``: each item of a YAML list is a record of the items' schema."""
    assert spec.items is not None
    subs: list[Row] = []
    prefixes: list[str] = []
    for position, item in enumerate(items, start=1):
        where = f"{spec.name}[{position}]"
        if not isinstance(item, Mapping):
            report.add(row.line_of(spec.name), where, "expected a block of key: value pairs")
            row.invalid.add(spec.name)
            continue
        sub = Row(item.line if isinstance(item, LineDict) else row.line, dict(item))
        sub.field_lines = dict(item.key_lines) if isinstance(item, LineDict) else {}
        for key in item:
            if key not in spec.items.names:
                report.add(sub.line_of(key), f"{where}.{key}", "field is not in the schema")
        subs.append(sub)
        prefixes.append(where)
    if subs:
        _check_records(subs, list(spec.items.fields), spec.items, report, prefixes)
    if any(sub.invalid for sub in subs):
        row.invalid.add(spec.name)
    row.values[spec.name] = None if spec.name in row.invalid else [sub.values for sub in subs]


class _Prefixed(_Reporter):
    """Reports on an item of a list field as ``field[position].item_field``."""

    def __init__(self, inner: _Reporter, prefix: str) -> None:
        super().__init__(inner.table, inner.problems)
        self.prefix = prefix

    def add(self, line: int, column: str, message: str, severity: str = "error") -> None:
        super().add(line, f"{self.prefix}.{column}", message, severity)


def _check_required_if(row: Row, schema: Schema, report: _Reporter) -> None:
    for cond in schema.required_if:
        if row.values.get(cond.field) is not None or cond.field in row.invalid:
            continue
        if _decide(cond.when, row, lambda base, attr: None) is True:
            reason = cond.message or f"required when {cond.when.text}"
            report.add(row.line_of(cond.field), cond.field, reason)
    for cond in schema.empty_if:
        if row.values.get(cond.field) is None:
            continue
        if _decide(cond.when, row, lambda base, attr: None) is True:
            reason = cond.message or f"must be empty when {cond.when.text}"
            report.add(row.line_of(cond.field), cond.field, reason)


def _decide(expression: Expression, row: Row, reference: Any) -> Any:
    if any(name in row.invalid for name in expression.names):
        return UNKNOWN

    def name(identifier: str) -> Any:
        return row.values.get(identifier)

    result = expression.evaluate(name, reference)
    return result if result is UNKNOWN else bool(result)


# ------------------------------------------------------------------ package checks


@dataclass
class PackageCheck:
    """The outcome of :func:`check_package`.

    Attributes
    ----------
    package : Package
    tables : dict of str to list of CheckedTable
        One table per resource (several for an ``x-pattern`` resource, none when the
        file could not be read).
    problems : list of Problem
        Sorted by file and line; errors and warnings.
    incomplete : set of str
        Resources whose file could not be read whole (malformed): references into them,
        and checks across them, are skipped.
    """

    package: Package
    tables: dict[str, list[CheckedTable]]
    problems: list[Problem]
    indexes: dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], Row]] = field(
        default_factory=dict, repr=False
    )
    incomplete: set[str] = field(default_factory=set)

    @property
    def errors(self) -> list[Problem]:
        """Problems of severity error."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems of severity warning."""
        return [p for p in self.problems if p.severity == "warning"]

    def table(self, name: str) -> CheckedTable | None:
        """The single table of resource ``name``, if it was read."""
        found = self.tables.get(name) or []
        return found[0] if found else None


def check_package(
    package: Package,
    base_dir: str | Path,
    *,
    paths: Mapping[str, str | Path] | None = None,
    shown_base: str | None = None,
) -> PackageCheck:
    """Read every resource of a package and check it against its schema and rules.

    Parameters
    ----------
    package : Package
    base_dir : str or pathlib.Path
        Directory the resource paths are relative to (the descriptor's directory).
    paths : mapping, optional
        Resource name to a path that replaces the descriptor's path.
    shown_base : str, optional
        How ``base_dir`` is written in messages (default: as given).

    Returns
    -------
    PackageCheck
        Every problem found; nothing is raised for bad data.
    """
    base = Path(base_dir)
    shown = base if shown_base is None else Path(shown_base)
    problems: list[Problem] = []
    cache: dict[Path, tuple[Any, list[Problem]]] = {}
    tables: dict[str, list[CheckedTable]] = {}
    incomplete: set[str] = set()
    for resource in package.resources:
        override = (paths or {}).get(resource.name)
        before = len(problems)
        tables[resource.name] = _read_resource(resource, base, shown, override, cache, problems)
        if any(stops_file(p) for p in problems[before:]):
            incomplete.add(resource.name)
        for table in tables[resource.name]:
            check_columns(table, problems)
            check_rows(table, problems)
            _check_min_rows(table, problems)
    result = PackageCheck(package, tables, problems, incomplete=incomplete)
    for resource in package.resources:
        _check_foreign_keys(result, resource)
        _check_pattern_reference(result, resource)
    for rule in package.rules:
        _check_rule(result, rule)
    result.problems.sort(key=lambda p: (p.path, p.line, p.column, p.message))
    return result


def _read_resource(
    resource: Resource,
    base: Path,
    shown: Path,
    override: str | Path | None,
    cache: dict[Path, tuple[Any, list[Problem]]],
    problems: list[Problem],
) -> list[CheckedTable]:
    if resource.pattern and override is None:
        return _read_pattern(resource, base, shown, cache, problems)
    relative = resource.path or ""
    path = Path(override) if override is not None else base / relative
    display = str(override) if override is not None else _join(shown, relative)
    raw = _read_one(resource, path, display, cache, problems)
    return [CheckedTable(resource, raw)] if raw is not None else []


def _join(shown: Path, relative: str) -> str:
    import os.path

    return os.path.normpath(str(shown / relative))


def _read_pattern(
    resource: Resource,
    base: Path,
    shown: Path,
    cache: dict[Path, tuple[Any, list[Problem]]],
    problems: list[Problem],
) -> list[CheckedTable]:
    pattern = str(resource.pattern)
    regex = re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern)))
    glob = re.sub(r"\{\w+\}", "*", pattern)
    tables = []
    for path in sorted(base.glob(glob)):
        relative = path.relative_to(base).as_posix()
        match = regex.fullmatch(relative)
        if match is None:
            continue
        raw = _read_one(resource, path, _join(shown, relative), cache, problems)
        if raw is not None:
            tables.append(CheckedTable(resource, raw, dict(match.groupdict())))
    return tables


def _read_one(
    resource: Resource,
    path: Path,
    display: str,
    cache: dict[Path, tuple[Any, list[Problem]]],
    problems: list[Problem],
) -> RawTable | None:
    if resource.format == "csv":
        raw, found = read_csv_rows(path, display)
        problems += found
        return None if any(stops_file(p) for p in found) else raw
    if resource.format == "bibtex":
        from analysis.evidence.bibliography import read_bibtex_rows

        raw, found = read_bibtex_rows(path, display)
        problems += found
        return raw
    if path not in cache:
        cache[path] = read_yaml(path, display)
        problems += cache[path][1]
    data = cache[path][0]
    return None if data is None else _yaml_records(resource, data, display, problems)


def stops_file(problem: Problem) -> bool:
    """A read problem after which the file's rows cannot be trusted (its other checks are skipped).

    A malformed CSV (an unclosed quote swallows the rest of the file) or a row whose cells do
    not match the header: checking what was read would only add follow-on errors, here and
    in the tables that refer to this one.
    """
    return problem.severity == "error" and problem.message.startswith(
        ("malformed", "expected ", "not valid UTF-8")
    ) and problem.column == "-"


def _yaml_records(
    resource: Resource, data: Any, display: str, problems: list[Problem]
) -> RawTable | None:
    key = resource.records_key
    records = data.get(key) if key and isinstance(data, Mapping) else data
    line = data.line_of(key) if isinstance(data, LineDict) and key else 1
    if not isinstance(records, list):
        problems.append(Problem(display, line, key or "-", "expected a list of records here"))
        return None
    rows, columns = [], []
    for item in records:
        if not isinstance(item, Mapping):
            problems.append(
                Problem(
                    display, line, key or "-", "each record must be a block of key: value pairs"
                )
            )
            continue
        row = Row(getattr(item, "line", line), dict(item))
        row.field_lines = dict(getattr(item, "key_lines", {}))
        rows.append(row)
        columns += [str(k) for k in item if str(k) not in columns]
    return RawTable(display, tuple(columns), rows, header_line=line)


def _lookup(
    result: PackageCheck, resource: str, fields: tuple[str, ...]
) -> dict[tuple[Any, ...], Row]:
    cached = result.indexes.get((resource, fields))
    if cached is not None:
        return cached
    table = result.table(resource)
    index: dict[tuple[Any, ...], Row] = {}
    for row in table.rows if table else []:
        index.setdefault(tuple(row.values.get(f) for f in fields), row)
    result.indexes[(resource, fields)] = index
    return index


def _check_foreign_keys(result: PackageCheck, resource: Resource) -> None:
    for fk in resource.schema.foreign_keys:
        if result.table(fk.resource) is None or fk.resource in result.incomplete:
            continue  # the missing or broken file is reported already: no follow-on errors
        index = _lookup(result, fk.resource, fk.reference_fields)
        where = result.tables[fk.resource][0].path
        for table in result.tables[resource.name]:
            report = _Reporter(table, result.problems)
            for row in table.rows:
                key = tuple(row.values.get(f) for f in fk.fields)
                if any(v is None for v in key) or key in index:
                    continue
                shown = ", ".join(report.value(v) for v in key)
                column = " + ".join(fk.fields)
                refs = " + ".join(fk.reference_fields)
                hint = "" if report.private else suggestion(key, index)
                report.add(
                    row.line_of(fk.fields[0]),
                    column,
                    f"{shown} is not found in {Path(where).name} ({refs}){hint}",
                )


#: Up to this many valid values are listed after an unknown one.
SHORT_LIST = 20


def suggestion(value: Any, valid: Iterable[Any]) -> str:
    """``"; did you mean 'x'?"`` (:func:`difflib.get_close_matches`) and, for a short list, the valid values.

    ``value`` and the valid values may be tuples (keys of several fields); they are compared as text.
    """

    def text(v: Any) -> str:
        return ", ".join(str(x) for x in v) if isinstance(v, tuple) else str(v)

    options = sorted({text(v) for v in valid if v is not None and v != ()})
    close = difflib.get_close_matches(text(value), options, n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    if 0 < len(options) <= SHORT_LIST:
        hint += f"; valid: {', '.join(options)}"
    return hint


def _check_pattern_reference(result: PackageCheck, resource: Resource) -> None:
    reference = resource.properties.get("x-pattern-reference")
    if not resource.pattern or not isinstance(reference, Mapping):
        return
    fields = _names(reference.get("fields"))
    index = _lookup(result, str(reference.get("resource")), fields)
    for table in result.tables[resource.name]:
        key = tuple(table.keys.get(f) for f in fields)
        if key not in index:
            names = ", ".join(f"{f} {table.keys.get(f)!r}" for f in fields)
            message = f"file name gives {names}, which is not in {reference.get('resource')}"
            result.problems.append(Problem(table.path, 0, "-", message))


def _check_rule(result: PackageCheck, rule: Rule) -> None:
    for table in result.tables.get(rule.table, []):
        report = _Reporter(table, result.problems)
        for row in table.rows:
            reference = _Joiner(result, rule, row)
            if rule.when is not None and _decide(rule.when, row, reference) is not True:
                continue
            if _decide(rule.check, row, reference) is False:
                message = _rule_message(rule, row, reference, report)
                report.add(row.line_of(rule.column), rule.column, message, rule.severity)


def _rule_message(rule: Rule, row: Row, reference: _Joiner, report: _Reporter) -> str:
    values = [f"{n} = {report.value(row.values.get(n))}" for n in rule.check.names]
    values += [f"{b}.{a} = {report.value(reference(b, a))}" for b, a in rule.check.references]
    head = rule.message or f"check failed: {rule.check.text}"
    return f"{head} ({'; '.join(values)})" if values else head


class _Joiner:
    """Resolves ``table.column`` for a rule: joined row of another table, or list items."""

    def __init__(self, result: PackageCheck, rule: Rule, row: Row) -> None:
        self.result, self.rule, self.row = result, rule, row

    def __call__(self, base: str, attr: str) -> Any:
        own = self.row.values.get(base)
        if isinstance(own, list):
            return [item.get(attr) if isinstance(item, Mapping) else None for item in own]
        if not self.rule.join or self.result.table(base) is None:
            return None
        local = tuple(n for n, _ in self.rule.join)
        remote = tuple(n for _, n in self.rule.join)
        key = tuple(self.row.values.get(n) for n in local)
        target = _lookup(self.result, base, remote).get(key)
        return None if target is None else target.values.get(attr)
