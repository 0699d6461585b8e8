"""Scaffold a new study from its BibTeX entry: ``python -m analysis add-study BIBKEY``.

A contributor adding a study should fill blanks, not guess columns. The command

1. reads the entry ``BIBKEY`` of the bibliography (it must exist: the reference comes first);
2. refuses a study that is already there (same study id or same bibkey);
3. appends **one** row to the study table with the study id (default: the bibkey), the bibkey,
   and the columns the descriptor's ``x-scaffold.from_bibtex`` maps to the entry (in this review
   ``publication_date`` from the entry's year and month); every other cell is left empty;
4. prints every column still to fill (required ones first, with their title and allowed values),
   a template for the rows of each table that refers to the study (outcome counts, risk of bias),
   and the descriptor's reminders.

Design choices:

* Required cells such as ``status`` are left **empty on purpose**: the validator fails until
  the contributor has chosen (``included``, ``awaiting_data`` or ``excluded``); a default would
  let an unread study slip into the analyses.
* Nothing but that one row is written. Rows of the other tables cannot be valid without the
  counts and quotes only a reader of the paper has, so they are printed as templates to copy.
* Everything is read from the data package descriptor; nothing here knows this review's
  columns. The study table is the CSV resource with a one-column primary key and a foreign key
  into the ``bibtex`` resource; the tables referring to it are those with a foreign key on that
  primary key. The optional resource key ``x-scaffold`` holds ``from_bibtex`` (column -> ``date``,
  ``year`` or a BibTeX field name) and ``reminders`` (lines printed at the end).
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from analysis.evidence.datapackage import (
    DescriptorError,
    Field,
    Package,
    Resource,
    cast_value,
    constraint_errors,
    read_descriptor,
)
from analysis.evidence.project import ProjectRootError, default_path

__all__ = [
    "Scaffold",
    "ScaffoldError",
    "StudyTable",
    "add_study",
    "bibtex_date",
    "guidance",
    "study_table",
]

DESCRIPTOR = "datapackage.yaml"
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_ISO = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


class ScaffoldError(ValueError):
    """A study that cannot be scaffolded; the message says what to do instead."""


@dataclass(frozen=True)
class StudyTable:
    """Where the studies of a data package live, as its descriptor declares them.

    Attributes
    ----------
    resource : Resource
        The study table (one row per study).
    id_field : str
        Its primary key (the study id).
    bib_field : str
        The column holding the BibTeX key (a foreign key into ``bib_resource``).
    bib_resource : Resource
        The bibliography resource (format ``bibtex``).
    """

    resource: Resource
    id_field: str
    bib_field: str
    bib_resource: Resource


@dataclass(frozen=True)
class Scaffold:
    """What :func:`add_study` wrote and what is left to fill.

    Attributes
    ----------
    study_id, bibkey : str
    path : pathlib.Path
        The study table written to.
    line : int
        Line of the new row in that file.
    filled : mapping of str to str
        Columns written, with their values.
    notes : tuple of str
        Columns that could not be filled from the entry, and why.
    reference : str
        A short description of the BibTeX entry (author, year, title).
    """

    study_id: str
    bibkey: str
    path: Path
    line: int
    filled: Mapping[str, str]
    notes: tuple[str, ...]
    reference: str


# ------------------------------------------------------------------------------ descriptor


def study_table(package: Package) -> StudyTable:
    """Find the study table of a data package.

    Raises
    ------
    ScaffoldError
        When no CSV resource has a one-column primary key and a foreign key into a
        ``bibtex`` resource.
    """
    bibtex = {r.name: r for r in package.resources if r.format == "bibtex"}
    for resource in package.resources:
        if resource.format != "csv" or not resource.path or len(resource.schema.primary_key) != 1:
            continue
        for fk in resource.schema.foreign_keys:
            if fk.resource in bibtex and len(fk.fields) == 1:
                return StudyTable(resource, resource.schema.primary_key[0], fk.fields[0],
                                  bibtex[fk.resource])
    raise ScaffoldError(
        "the data package declares no study table (a CSV resource with a one-column primaryKey "
        "and a foreign key into a bibtex resource)"
    )


def _children(package: Package, table: StudyTable) -> list[Resource]:
    """CSV resources with a foreign key on the study id, except those whose ``x-scaffold`` says
    ``template: false`` (tables someone else fills, such as a second reviewer's record)."""
    wanted = (table.id_field,)
    return [
        r for r in package.resources
        if r.format == "csv" and r.path and r is not table.resource
        and (r.properties.get("x-scaffold") or {}).get("template", True) is not False
        and any(fk.resource == table.resource.name and fk.reference_fields == wanted
                for fk in r.schema.foreign_keys)
    ]


def _pattern_children(package: Package, table: StudyTable) -> list[Resource]:
    """Per-study file families (``x-pattern``) whose pattern key is the study id."""
    found = []
    for r in package.resources:
        ref = r.properties.get("x-pattern-reference")
        if r.pattern and isinstance(ref, Mapping) and ref.get("resource") == table.resource.name:
            found.append(r)
    return found


# ------------------------------------------------------------------------------ BibTeX


def bibtex_date(fields: Mapping[str, str]) -> str | None:
    """ISO date (``YYYY-MM-DD`` or ``YYYY-MM``) of a BibTeX entry, or None without a month.

    The biblatex ``date`` field is used when it holds an ISO date; otherwise ``year`` and
    ``month`` (``3``, ``03``, ``mar``, ``March``, ``{March}``); an entry with a year only
    has no date precise enough for a ``YYYY-MM`` column.
    """
    match = _ISO.fullmatch(fields.get("date", "").strip())
    if match and match.group(2):
        return match.group(0)
    year = fields.get("year", "").strip("{} ")
    month = _month(fields.get("month", ""))
    if not re.fullmatch(r"\d{4}", year) or month is None:
        return None
    return f"{year}-{month:02d}"


def _month(raw: str) -> int | None:
    text = raw.strip("{}\" ").lower()
    if text.isdigit():
        return int(text) if 1 <= int(text) <= 12 else None
    return _MONTHS.get(text[:3])


def _entry(bib: Path, key: str) -> Mapping[str, str]:
    from analysis.evidence.bibliography import parse_bibliography

    parsed = parse_bibliography(bib, recommended=())
    unreadable = [p for p in parsed.problems if p.line == 0]
    if unreadable:
        raise ScaffoldError(str(unreadable[0]))
    about = [p for p in parsed.problems if p.severity == "error" and repr(key) in p.message]
    if about:
        raise ScaffoldError(f"{about[0]}; fix the bibliography first")
    for entry in parsed.entries:
        if entry.key == key:
            return entry.fields
    raise ScaffoldError(
        f"no entry {key!r} in {bib}; add the study's BibTeX entry there first (keys are "
        "case-sensitive)"
    )


def _describe(fields: Mapping[str, str]) -> str:
    author = fields.get("author", "").split(" and ")[0].strip("{} ")
    surname = author.split(",")[0] if "," in author else (author.split() or [""])[-1]
    title = " ".join(fields.get("title", "").replace("{", "").replace("}", "").split())
    head = ", ".join(x for x in (surname, fields.get("year", "")) if x)
    return f"{head}: {title}" if head else title


# ------------------------------------------------------------------------------ the row


def _read_table(path: Path) -> tuple[list[str], list[tuple[int, list[str]]], str, bool]:
    """Header, rows with their line, the line terminator, whether the file ends with one."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ScaffoldError(f"{path}: cannot read the study table ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ScaffoldError(f"{path}: not UTF-8 text; run python -m analysis validate") from None
    newline = "\r\n" if "\r\n" in text.split("\n", 1)[0] + "\n" else "\n"
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    rows, line = [], 2
    for row in reader:
        rows.append((line, row))
        line = reader.line_num + 1
    return header, rows, newline, text == "" or text.endswith(("\n", "\r"))


def _check_new(table: StudyTable, header: list[str], rows: list[tuple[int, list[str]]],
               path: Path, study_id: str, bibkey: str) -> None:
    missing = [c for c in (table.id_field, table.bib_field) if c not in header]
    if missing:
        raise ScaffoldError(f"{path}: the header has no column {missing[0]}; run python -m "
                            "analysis validate")
    ids, keys = header.index(table.id_field), header.index(table.bib_field)
    for line, row in rows:
        if len(row) > ids and row[ids] == study_id:
            raise ScaffoldError(f"{path}:{line}: study {study_id!r} already exists; edit that "
                                "row instead of adding the study again")
        if len(row) > keys and row[keys] == bibkey:
            raise ScaffoldError(f"{path}:{line}: bibkey {bibkey!r} is already used by study "
                                f"{row[ids] if len(row) > ids else '?'!r}; edit that row instead")


def _checked(spec: Field, value: str) -> str | None:
    """Why ``value`` does not fit column ``spec``, or None."""
    typed, error = cast_value(spec, value)
    if error is None and typed is not None:
        error = next(constraint_errors(spec, typed), None)
    return error


def _from_bibtex(resource: Resource, fields: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    plan = (resource.properties.get("x-scaffold") or {}).get("from_bibtex") or {}
    filled, notes = {}, []
    for column, source in plan.items():
        if column not in resource.schema.names:
            raise ScaffoldError(f"x-scaffold of {resource.name}: no column {column!r} in its schema")
        value = (bibtex_date(fields) if source == "date"
                 else fields.get(str(source), "").strip("{} ") or None)
        if value is None:
            why = ("the entry has no month (add month = {...} to the entry, or type the date)"
                   if source == "date" else f"the entry has no {source}")
            notes.append(f"{column} left empty: {why}")
            continue
        error = _checked(resource.schema.get_field(str(column)), value)
        if error:
            notes.append(f"{column} left empty: the entry gives {value!r}, but {error}")
            continue
        filled[str(column)] = value
    return filled, notes


def add_study(
    bibkey: str,
    data_dir: str | Path = "data",
    *,
    bib: str | Path | None = None,
    study_id: str | None = None,
) -> Scaffold:
    """Append the row of a new study to the study table, filled from its BibTeX entry.

    Parameters
    ----------
    bibkey : str
        Key of the study's entry in the bibliography.
    data_dir : str or pathlib.Path
        Folder of the data package. Default = ``"data"``.
    bib : str or pathlib.Path, optional
        The BibTeX file. Default = the descriptor's ``bibtex`` resource path.
    study_id : str, optional
        Study identifier. Default = ``bibkey`` (the convention); it must satisfy the id
        column's constraints.

    Returns
    -------
    Scaffold

    Raises
    ------
    ScaffoldError
        No such entry, a study or bibkey already present, an id the schema rejects, or an
        unreadable descriptor or table. Nothing is written then.
    """
    data_dir = Path(data_dir)
    package = _package(data_dir)
    table = study_table(package)
    bib_path = Path(bib) if bib is not None else _join(data_dir, str(table.bib_resource.path))
    fields = _entry(bib_path, bibkey)
    study_id = study_id or bibkey
    error = _checked(table.resource.schema.get_field(table.id_field), study_id)
    if error:
        raise ScaffoldError(
            f"study id {study_id!r} cannot be used: {error}; rename the BibTeX key or pass "
            "--study-id"
        )
    path = data_dir / str(table.resource.path)
    header, rows, newline, ends_clean = _read_table(path)
    _check_new(table, header, rows, path, study_id, bibkey)
    filled, notes = _from_bibtex(table.resource, fields)
    values = {table.id_field: study_id, table.bib_field: bibkey, **filled}
    out = io.StringIO()
    csv.writer(out, lineterminator=newline).writerow([values.get(c, "") for c in header])
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(("" if ends_clean else newline) + out.getvalue())
    return Scaffold(study_id, bibkey, path, _last_line(path), values, tuple(notes),
                    _describe(fields))


def _last_line(path: Path) -> int:
    """Line where the last record of a CSV file starts."""
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
    start = last = 1
    for _ in reader:
        last = start
        start = reader.line_num + 1
    return last


def _join(folder: Path, relative: str) -> Path:
    """``folder / relative`` with ``..`` resolved lexically (``data/../x.bib`` -> ``x.bib``)."""
    return Path(os.path.normpath(folder / relative))


def _package(data_dir: Path) -> Package:
    try:
        return read_descriptor(data_dir / DESCRIPTOR)
    except DescriptorError as exc:
        first = exc.problems[0] if exc.problems else "the descriptor cannot be read"
        raise ScaffoldError(f"{first}; run python -m analysis validate") from None


# ------------------------------------------------------------------------------ guidance


def _rules(spec: Field) -> str:
    kind = {
        "integer": "whole number", "number": "number", "boolean": "true or false",
        "date": "date YYYY-MM-DD" + (" or YYYY-MM" if spec.partial_date else ""),
    }.get(spec.type, "text")
    parts = [] if spec.enum is not None and spec.type == "string" else [kind]
    if spec.separator:
        parts.append(f"several values separated by {spec.separator!r}")
    if spec.enum is not None:
        parts.append("one of " + ", ".join(str(v) for v in spec.enum))
    for value, word in ((spec.minimum, "at least"), (spec.maximum, "at most")):
        if value is not None:
            parts.append(f"{word} {value:g}")
    if spec.pattern:
        parts.append(str(spec.properties.get("x-pattern-hint") or f"pattern {spec.pattern}"))
    return "; ".join(parts)


def _reference_values(package: Package, data_dir: Path) -> dict[tuple[str, str], list[str]]:
    """Allowed values of foreign-key columns: ``(resource, field) -> values`` (best effort)."""
    from analysis.evidence.validate import check_evidence

    check, _ = check_evidence(data_dir)
    if check is None:
        return {}
    found: dict[tuple[str, str], list[str]] = {}
    for resource in package.resources:
        for fk in resource.schema.foreign_keys:
            if len(fk.fields) != 1 or fk.resource not in check.tables:
                continue
            values = [row.values.get(fk.reference_fields[0]) for t in check.tables[fk.resource]
                      for row in t.rows]
            target = package.resource(fk.resource)
            if target.format != "bibtex":
                found[(resource.name, fk.fields[0])] = [str(v) for v in values if v is not None]
    return found


def _field_line(spec: Field, width: int, extra: str = "", values: Sequence[str] = ()) -> str:
    rules = _rules(spec) if not values else "one of " + ", ".join(values)
    return f"  {spec.name:<{width}}  {spec.title or spec.name}: {rules}{extra}"


def _study_lines(table: StudyTable, scaffold: Scaffold) -> list[str]:
    schema = table.resource.schema
    blank = [f for f in schema.fields if f.name not in scaffold.filled]
    conditional = {c.field: c for c in schema.required_if}
    width = max((len(f.name) for f in blank), default=0)
    required = [f for f in blank if f.required]
    when = [f for f in blank if not f.required and f.name in conditional]
    optional = [f for f in blank if not f.required and f.name not in conditional]
    lines = [(f"Fill in line {scaffold.line} of {scaffold.path} (the validator fails until every "
             "required cell is filled):")]
    if required:
        lines += ["Required:", *(_field_line(f, width) for f in required)]
    if when:
        lines.append("Required when a condition holds:")
        lines += [_field_line(f, width, f" (required when {conditional[f.name].when.text})")
                  for f in when]
    if optional:
        lines.append('Optional (leave empty for "not reported"):')
        lines += [_field_line(f, width) for f in optional]
    return lines


def _template(resource: Resource, data_dir: Path, table: StudyTable, study_id: str,
              references: Mapping[tuple[str, str], list[str]]) -> list[str]:
    schema = resource.schema
    conditional = {c.field: c for c in schema.required_if}
    width = max(len(f.name) for f in schema.fields)
    key = ", ".join(schema.primary_key) or "one row per record"
    lines = [(f"# {data_dir / str(resource.path)} ({resource.title or resource.name}): "
             f"one row per {key}")]
    for spec in schema.fields:
        if spec.name == table.id_field:
            continue
        need = " (required)" if spec.required else (
            f" (required when {conditional[spec.name].when.text})" if spec.name in conditional
            else "")
        values = references.get((resource.name, spec.name), ())
        lines.append("#" + _field_line(spec, width, need, values)[1:])
    enumerated = [f for f in schema.fields if f.name in schema.primary_key
                  and f.name != table.id_field and f.enum is not None]
    names = [f.name for f in enumerated]
    combos = list(itertools.product(*(f.enum or () for f in enumerated))) if enumerated else [()]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(schema.names)
    for combo in combos:
        given = {table.id_field: study_id, **{n: str(v) for n, v in zip(names, combo, strict=True)}}
        writer.writerow([given.get(c, "") for c in schema.names])
    return [*lines, *out.getvalue().splitlines()]


def guidance(scaffold: Scaffold, data_dir: str | Path = "data") -> str:
    """The text printed after a scaffold: what to fill, templates, reminders."""
    data_dir = Path(data_dir)
    package = _package(data_dir)
    table = study_table(package)
    filled = ", ".join(f"{k} = {v}" for k, v in scaffold.filled.items())
    lines = [
        (f"Added study {scaffold.study_id!r} at {scaffold.path}:{scaffold.line} from the BibTeX "
        f"entry {scaffold.bibkey!r} ({scaffold.reference})."),
        f"Filled: {filled}.",
        *scaffold.notes,
        "",
        *_study_lines(table, scaffold),
    ]
    references = _reference_values(package, data_dir)
    children = _children(package, table)
    if children:
        lines += ["", ("Then add the rows of the tables that refer to the study (templates below; "
                  "copy the lines you need, fill every cell you can read in the source):")]
        for resource in children:
            lines += ["", *_template(resource, data_dir, table, scaffold.study_id, references)]
    for resource in _pattern_children(package, table):
        where = str(resource.pattern).replace("{" + table.id_field + "}", scaffold.study_id)
        private = " Private: never committed; only aggregates reach the site." if resource.private else ""
        lines += ["", f"# Optional: {resource.title or resource.name} in {data_dir / where}.{private}"]
    reminders = (table.resource.properties.get("x-scaffold") or {}).get("reminders") or []
    if reminders:
        lines += ["", "Remember:", *(f"- {r}" for r in reminders)]
    lines += ["", ("Next: python -m analysis validate (until it passes), then python -m analysis "
              "diff to see what the study changes.")]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ command line


def cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m analysis add-study``."""
    parser.add_argument("bibkey", help="key of the study's entry in the BibTeX file")
    parser.add_argument("--data-dir", default=None, type=Path,
                        help="data package folder (default: data, in the repository root)")
    parser.add_argument("--bib", default=None,
                        help="BibTeX file (default: as the data package says)")
    parser.add_argument("--study-id", default=None,
                        help="study identifier (default: the BibTeX key)")


def cli_run(args: argparse.Namespace) -> int:
    """``python -m analysis add-study``: scaffold the rows and print what is left to fill."""
    try:
        data_dir = args.data_dir or default_path("data")
        scaffold = add_study(args.bibkey, data_dir, bib=args.bib, study_id=args.study_id)
        text = guidance(scaffold, data_dir)
    except (ScaffoldError, ProjectRootError) as exc:
        print(f"add-study: {exc}", file=sys.stderr)
        return 1
    print(text)
    return 0
