"""The validator: check a whole evidence base against its data package descriptor.

``python -m analysis validate [DATA_DIR] [--bib references.bib]`` prints every problem,
one per line as ``file:line: column: message`` (line 1 is a CSV header; line 0 means the
file as a whole), and exits with status 1; when there is no error it prints one summary
line (built from the descriptor's ``x-summary``) and exits with 0. Warnings go to
standard error and do not change the exit status. Bad data never produce a traceback.

Root causes come first: a file that cannot be read as a table (a malformed CSV, a row whose
cells do not match the header) is reported before anything else, and its other checks, and
those of the tables that refer to it, are skipped rather than repeated as follow-on errors.
Beyond each table's schema, the descriptor's ``x-covers`` and ``x-quote-support`` declare
checks across tables (:mod:`analysis.evidence.crosschecks`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from analysis.evidence.crosschecks import cross_table_problems
from analysis.evidence.datapackage import (
    DescriptorError,
    PackageCheck,
    Problem,
    check_package,
    read_descriptor,
    stops_file,
)
from analysis.evidence.project import ProjectRootError, default_path
from analysis.evidence.readers import fix_spreadsheet_save
from analysis.evidence.rules import ExpressionError, parse_expression

__all__ = ["DEFAULT_DESCRIPTOR", "ValidationReport", "check_evidence", "fix_line_endings", "main", "validate"]

#: Name of the descriptor inside a data directory.
DEFAULT_DESCRIPTOR = "datapackage.yaml"


@dataclass(frozen=True)
class ValidationReport:
    """Everything the validator found.

    Attributes
    ----------
    problems : tuple of Problem
        Errors and warnings, sorted by file and line.
    summary : str
        The one-line summary (meaningful when ``ok``).
    check : PackageCheck or None
        The typed tables; ``None`` when the descriptor itself could not be read.
    """

    problems: tuple[Problem, ...]
    summary: str
    check: PackageCheck | None

    @property
    def errors(self) -> tuple[Problem, ...]:
        """Problems of severity error."""
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Problems of severity warning."""
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors


def check_evidence(
    data_dir: str | Path = "data",
    *,
    bib: str | Path | None = None,
    descriptor: str | Path | None = None,
) -> tuple[PackageCheck | None, list[Problem]]:
    """Read the descriptor of ``data_dir`` and check every resource.

    Parameters
    ----------
    data_dir : str or pathlib.Path
        Directory holding the descriptor and the tables. Default = ``"data"``.
    bib : str or pathlib.Path, optional
        A BibTeX file replacing the path of every ``bibtex`` resource.
    descriptor : str or pathlib.Path, optional
        Descriptor path. Default = ``data_dir / "datapackage.yaml"``.

    Returns
    -------
    check : PackageCheck or None
        ``None`` when the descriptor cannot be used.
    problems : list of Problem
    """
    data_dir = Path(data_dir)
    path = Path(descriptor) if descriptor is not None else data_dir / DEFAULT_DESCRIPTOR
    try:
        package = read_descriptor(path)
    except DescriptorError as exc:
        return None, list(exc.problems)
    overrides = {r.name: Path(bib) for r in package.resources if r.format == "bibtex" and bib}
    check = check_package(package, data_dir, paths=overrides)
    check.problems.extend(cross_table_problems(check, path.parent))
    check.problems.sort(key=lambda p: (not stops_file(p), p.path, p.line, p.column, p.message))
    return check, list(check.problems)


def validate(
    data_dir: str | Path = "data",
    *,
    bib: str | Path | None = None,
    descriptor: str | Path | None = None,
) -> ValidationReport:
    """Check an evidence base and build the summary line.

    Parameters
    ----------
    data_dir, bib, descriptor
        As for :func:`check_evidence`.

    Returns
    -------
    ValidationReport
    """
    check, problems = check_evidence(data_dir, bib=bib, descriptor=descriptor)
    summary = summary_line(check) if check is not None else ""
    return ValidationReport(tuple(problems), summary, check)


def summary_line(check: PackageCheck) -> str:
    """The one-line summary declared by the descriptor's ``x-summary``.

    Each entry is ``{resource, text, where?, count?, omit_zero?}``: ``text`` holds
    ``{n}``, the number of records (or of files with ``count: files``) of ``resource``,
    restricted to records where the rule expression ``where`` is true.
    """
    parts = []
    for entry in check.package.properties.get("x-summary") or []:
        n = _count(check, entry)
        if n or not entry.get("omit_zero", False):
            parts.append(str(entry.get("text", "{n} " + str(entry.get("resource")))).format(n=n))
    return "data OK: " + ", ".join(parts) if parts else "data OK"


def _count(check: PackageCheck, entry: Mapping[str, Any]) -> int:
    tables = check.tables.get(str(entry.get("resource")), [])
    if entry.get("count") == "files":
        return len(tables)
    rows = [row for table in tables for row in table.rows]
    if "where" not in entry:
        return len(rows)
    try:
        where = parse_expression(entry["where"])
    except ExpressionError:
        return 0
    return sum(1 for row in rows if where.evaluate(row.values.get) is True)


def report(result: ValidationReport, out: TextIO, err: TextIO) -> int:
    """Print a validation report; return the exit status (0 ok, 1 errors).

    Errors go to ``out``, one per line, followed by a count; warnings to ``err``.
    """
    for problem in result.warnings:
        print(problem, file=err)
    if result.ok:
        print(result.summary, file=out)
        return 0
    for problem in result.errors:
        print(problem, file=out)
    n = len(result.errors)
    print(f"{n} problem{'s' if n != 1 else ''} found", file=err)
    return 1


def main(
    data_dir: str | Path = "data",
    bib: str | Path | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the validator as the command line does; return the exit status."""
    return report(validate(data_dir, bib=bib), out or sys.stdout, err or sys.stderr)


def cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m analysis validate``."""
    parser.add_argument(
        "data_dir", nargs="?", default=None,
        help="evidence directory (default: data, in the repository root found from the current folder)",
    )
    parser.add_argument(
        "--bib", default=None, help="BibTeX file (default: as the data package says)"
    )
    parser.add_argument(
        "--fix-line-endings", action="store_true",
        help="first rewrite every CSV file of the evidence directory saved with a byte-order mark or CRLF "
        "line endings (as spreadsheet programs save) as UTF-8 without a byte-order mark, with LF endings",
    )


def cli_run(args: argparse.Namespace) -> int:
    """``python -m analysis validate``: print every problem; exit status 1 if there is an error."""
    try:
        data_dir = args.data_dir or default_path("data")
    except ProjectRootError as exc:
        print(f"validate: {exc}", file=sys.stderr)
        return 2
    if args.fix_line_endings:
        for path in fix_line_endings(data_dir):
            print(f"rewrote {path} (UTF-8 without a byte-order mark, LF line endings)", file=sys.stderr)
    return main(data_dir, args.bib, out=sys.stdout, err=sys.stderr)


def fix_line_endings(data_dir: str | Path) -> list[Path]:
    """Rewrite each CSV file under ``data_dir`` saved with a byte-order mark or CRLF line endings.

    Returns the files rewritten, in order; every other file is left untouched.
    """
    return [path for path in sorted(Path(data_dir).rglob("*.csv")) if fix_spreadsheet_save(path)]
