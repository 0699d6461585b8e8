"""Line-aware readers for CSV and YAML files, reporting problems instead of raising.

Every value read keeps the line it came from, so that a validator can say
``studies.csv:12: n_boosted: ...``. Nothing here knows any column name: readers return
raw cells (strings for CSV, YAML scalars for YAML) and a list of :class:`Problem`.

PyYAML (the ``evidence`` extra) is imported inside the functions that need it, so that
``import analysis`` works without it; when it is missing, the error names the extra.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from analysis.evidence.extras import require

__all__ = [
    "LineDict",
    "Problem",
    "RawTable",
    "Row",
    "fix_spreadsheet_save",
    "load_yaml",
    "read_csv_rows",
    "read_text",
    "read_yaml",
    "spreadsheet_save",
    "spreadsheet_save_warning",
]

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One problem found in a data file.

    Attributes
    ----------
    path : str
        The file as shown to the user (for example ``data/studies.csv``).
    line : int
        1-based line number (a CSV header is line 1); 0 when the problem concerns the
        file as a whole (missing, unreadable).
    column : str
        The column or field concerned, or ``"-"``.
    message : str
        What is wrong, in words a clinician can act on.
    severity : {"error", "warning"}
        Errors make validation fail; warnings are reported only.
    """

    path: str
    line: int
    column: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        tag = "warning: " if self.severity == "warning" else ""
        if self.line > 0:
            return f"{self.path}:{self.line}: {self.column or '-'}: {tag}{self.message}"
        # The file as a whole (missing, unreadable): no line to point at.
        where = "" if self.column in ("", "-") else f" {self.column}:"
        return f"{self.path}:{where} {tag}{self.message}"


@dataclass
class Row:
    """One record of a table: raw cells, typed values and where each came from.

    Attributes
    ----------
    line : int
        Line where the record starts.
    raw : dict
        Field name to the value as read (``None`` when the cell is absent).
    values : dict
        Field name to the typed value (``None`` when missing or invalid); filled by the
        schema check.
    invalid : set of str
        Fields whose raw value could not be typed or broke a constraint.
    field_lines : dict
        Field name to line, when fields sit on their own lines (YAML).
    """

    line: int
    raw: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    invalid: set[str] = field(default_factory=set)
    field_lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, name: str) -> int:
        """Line of field ``name`` (the record's line when unknown)."""
        return self.field_lines.get(name, self.line)


@dataclass
class RawTable:
    """Rows read from one file, before any schema check.

    Attributes
    ----------
    path : str
        The file as shown to the user.
    columns : tuple of str
        Columns found in the header (CSV) or across records (YAML), in order.
    rows : list of Row
    header_line : int
        Line of the header (CSV) or of the list of records (YAML).
    """

    path: str
    columns: tuple[str, ...]
    rows: list[Row]
    header_line: int = 1


class LineDict(dict[Any, Any]):
    """A ``dict`` from YAML that remembers its line and the line of each key."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        """Line of ``key`` (the mapping's line when unknown)."""
        return getattr(self, "key_lines", {}).get(key, self.line)


def read_text(path: Path, shown: str) -> tuple[str | None, list[Problem]]:
    """Read a UTF-8 text file (a byte-order mark is accepted).

    Returns
    -------
    text : str or None
        ``None`` when the file cannot be read.
    problems : list of Problem
    """
    data, problems = _read_bytes(path, shown)
    return (None, problems) if data is None else _decode(data, shown)


def _read_bytes(path: Path, shown: str) -> tuple[bytes | None, list[Problem]]:
    try:
        return path.read_bytes(), []
    except FileNotFoundError:
        return None, [Problem(shown, 0, "-", "file not found")]
    except OSError as exc:
        return None, [Problem(shown, 0, "-", f"cannot read the file: {exc.strerror}")]


def _decode(data: bytes, shown: str) -> tuple[str | None, list[Problem]]:
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = f"not valid UTF-8 (byte {data[exc.start]:#04x}); save the file as UTF-8"
        return None, [Problem(shown, line, "-", message)]


#: Start of the warning about a file saved as spreadsheet programs save CSV files.
SPREADSHEET_SAVE = "saved with "


def spreadsheet_save(data: bytes) -> tuple[str, ...]:
    """What marks ``data`` as saved by a spreadsheet program: a byte-order mark, CRLF line endings."""
    marks = []
    if data.startswith(codecs.BOM_UTF8):
        marks.append("a byte-order mark (BOM)")
    if b"\r\n" in data:
        marks.append("Windows line endings (CRLF)")
    return tuple(marks)


def spreadsheet_save_warning(data: bytes, shown: str) -> list[Problem]:
    """A warning naming the file when it was saved with a byte-order mark and/or CRLF line endings.

    Such a file reads correctly, but a change saved that way shows every line as changed in
    ``git diff`` (a byte-order mark, and CRLF endings where git does not convert them).
    """
    marks = spreadsheet_save(data)
    if not marks:
        return []
    message = (f"{SPREADSHEET_SAVE}{' and '.join(marks)}, as spreadsheet programs save CSV files: it reads "
               "correctly, but git shows every line as changed. Fix: python -m analysis validate "
               "--fix-line-endings (rewrites it as UTF-8 without a BOM, with LF line endings), or save it "
               "from the spreadsheet as plain CSV in UTF-8")
    return [Problem(shown, 1, "-", message, "warning")]


def fix_spreadsheet_save(path: Path) -> bool:
    """Rewrite ``path`` without a byte-order mark and with LF line endings; True if it changed.

    Nothing else changes: a CRLF inside a quoted cell becomes LF like every other line ending.
    """
    data = path.read_bytes()
    if not spreadsheet_save(data):
        return False
    text = data.removeprefix(codecs.BOM_UTF8).replace(b"\r\n", b"\n")
    path.write_bytes(text)
    return True


def read_csv_rows(path: Path, shown: str) -> tuple[RawTable | None, list[Problem]]:
    """Read an RFC 4180 CSV file into raw rows with their starting line numbers.

    Empty lines are skipped (they hold no data). A row with the wrong number of cells is
    reported and not turned into a record, since its cells cannot be matched to columns.
    Quoting errors stop the reading of the file at the line where they occur.

    Parameters
    ----------
    path : pathlib.Path
    shown : str
        The path as shown in messages.

    Returns
    -------
    table : RawTable or None
        ``None`` when the file cannot be read or has no header.
    problems : list of Problem
    """
    data, problems = _read_bytes(path, shown)
    if data is None:
        return None, problems
    text, problems = _decode(data, shown)
    if text is None:
        return None, problems
    problems += spreadsheet_save_warning(data, shown)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[Row] = []
    last_line = 0
    try:
        for cells in reader:
            start, last_line = last_line + 1, reader.line_num
            if not cells:
                continue
            if header is None:
                header = cells
                problems += _header_problems(header, shown, start)
                continue
            if len(cells) != len(header):
                message = f"expected {len(header)} cells as in the header, found {len(cells)}"
                problems.append(Problem(shown, start, "-", message))
                continue
            rows.append(Row(start, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            problems.append(Problem(shown, last_line + 1, "-", _unclosed_quote(last_line + 1, reader.line_num)))
        else:
            problems.append(Problem(shown, reader.line_num, "-", f"malformed CSV: {exc}"))
    if header is None:
        problems.append(Problem(shown, 1, "-", "the file is empty: a header line is required"))
        return None, problems
    return RawTable(shown, tuple(header), rows), problems


def _unclosed_quote(start: int, end: int) -> str:
    """Message for a quoted cell opened on line ``start`` and still open at the end (line ``end``)."""
    if end <= start:
        where = f"on line {start}, the last line of the file"
    else:
        where = f"on line {start} or after it (the file ends at line {end})"
    return ("malformed CSV: the quoted cell opened in the record that starts here is never closed "
            f"(a closing \" is missing {where})")


def _header_problems(header: list[str], shown: str, line: int) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for name in header:
        if name != name.strip():
            problems.append(Problem(shown, line, repr(name), "column name has surrounding spaces"))
        if name in seen:
            problems.append(Problem(shown, line, name, "column appears twice in the header"))
        seen.add(name)
    return problems


def read_yaml(path: Path, shown: str) -> tuple[Any, list[Problem]]:
    """Read a YAML file with safe loading; mappings become :class:`LineDict`.

    Duplicate keys, which YAML parsers silently overwrite, are reported.

    Returns
    -------
    data : object or None
        ``None`` when the file cannot be read or parsed.
    problems : list of Problem
    """
    text, problems = read_text(path, shown)
    if text is None:
        return None, problems
    yaml = require("yaml", "evidence", who="reading YAML files")

    loader = None
    try:
        loader = _line_loader(yaml)(text)
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else _reader_line(exc, text)
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [*problems, Problem(shown, line, "-", f"invalid YAML: {reason}")]
    finally:
        if loader is not None:
            loader.dispose()
    duplicates = getattr(loader, "duplicates", [])
    problems += [
        Problem(shown, ln, str(k), "key appears twice in the same block") for k, ln in duplicates
    ]
    return data, problems


def load_yaml(path: Path) -> Any:
    """Parse a YAML file already known to be valid (fast: libyaml's loader when available).

    For files a contributor edits, prefer :func:`read_yaml`, which reports problems with lines.
    """
    yaml = require("yaml", "evidence", who="reading YAML files")
    with Path(path).open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _reader_line(exc: Any, text: str) -> int:
    """Line of a YAML reader error (bad character), which carries a position, not a mark."""
    position = getattr(exc, "position", None)
    return text[:position].count("\n") + 1 if isinstance(position, int) else 0


def _line_loader(yaml: Any) -> type:
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: ~10x faster

    class LineLoader(base):  # type: ignore[misc, valid-type]
        duplicates: list[tuple[Any, int]]

    def construct(loader: Any, node: Any) -> LineDict:
        loader.flatten_mapping(node)
        mapping = LineDict()
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str | int | float | bool | None):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a plain value", key_node.start_mark
                )
            if key in mapping:
                loader.__dict__.setdefault("duplicates", []).append((key, line))
            mapping[key] = loader.construct_object(value_node, deep=True)
            mapping.key_lines[key] = line
        return mapping

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct)
    return LineLoader
