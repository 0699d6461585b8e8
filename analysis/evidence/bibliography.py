"""Read a BibTeX bibliography with bibtexparser 2 and report what it could not read.

bibtexparser 2 does not raise on bad input: it keeps what it could parse and stores the
rest as *failed blocks* (a duplicate entry key, a duplicate field inside an entry, a
block whose syntax broke). This module turns every failed block into a
:class:`~analysis.evidence.readers.Problem` with its line, so that nothing is dropped silently.

bibtexparser is imported inside the functions, so ``import analysis`` works without it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.evidence.extras import require
from analysis.evidence.readers import Problem, RawTable, Row, read_text

__all__ = ["BibEntry", "Bibliography", "author_year", "parse_bibliography", "read_bibtex_rows"]

_ENTRY_HEAD = re.compile(r"@\s*(\w+)\s*[{(]\s*([^,\s]*)")


@dataclass(frozen=True)
class BibEntry:
    """One BibTeX entry.

    Attributes
    ----------
    key : str
    entry_type : str
        Lower case (``article``, ``book``...).
    line : int
        1-based line of the ``@``.
    fields : mapping of str to str
        Field names in lower case, values without enclosing braces or quotes.
    """

    key: str
    entry_type: str
    line: int
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Bibliography:
    """Entries read from a ``.bib`` file and the problems met while reading it.

    Attributes
    ----------
    path : str
    entries : tuple of BibEntry
        In file order; for a duplicated key only the first entry.
    problems : tuple of Problem
    """

    path: str
    entries: tuple[BibEntry, ...]
    problems: tuple[Problem, ...] = ()

    @property
    def keys(self) -> frozenset[str]:
        """The entry keys."""
        return frozenset(e.key for e in self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def parse_bibliography(
    path: str | Path, shown: str | None = None, *, recommended: Iterable[str] = ("doi",)
) -> Bibliography:
    """Parse a BibTeX file; report failed blocks and missing recommended fields.

    Parameters
    ----------
    path : str or pathlib.Path
    shown : str, optional
        How the file is named in messages (default: ``path``).
    recommended : iterable of str, optional
        Fields whose absence is reported as a warning. Default = ``("doi",)``.

    Returns
    -------
    Bibliography
        Problems: a duplicate key (the first entry is kept), a duplicate field, a
        malformed entry (with the line it starts on and why parsing stopped), an
        unreadable file; warnings for missing recommended fields.
    """
    shown = str(path) if shown is None else shown
    text, problems = read_text(Path(path), shown)
    if text is None:
        return Bibliography(shown, (), tuple(problems))
    library = _parse(text)
    entries = [_entry(block) for block in library.entries]
    for block in library.failed_blocks:
        problem, entry = _failed(block, shown)
        problems.append(problem)
        if entry is not None:
            entries.append(entry)
    entries.sort(key=lambda e: e.line)
    for entry in entries:
        for name in recommended:
            if not entry.fields.get(name):
                message = f"entry {entry.key!r} has no {name} (recommended)"
                problems.append(Problem(shown, entry.line, name, message, "warning"))
    return Bibliography(shown, tuple(entries), tuple(sorted(problems)))


def read_bibtex_rows(path: Path, shown: str) -> tuple[RawTable | None, list[Problem]]:
    """Read a ``.bib`` file as a table for the data package checker.

    Each entry becomes a row with ``key``, ``entry_type`` and its fields (lower case),
    so that a descriptor can give the bibliography a schema (for example a recommended
    ``doi``) and other tables foreign keys into it.

    Returns
    -------
    table : RawTable or None
        ``None`` when the file cannot be read.
    problems : list of Problem
    """
    bib = parse_bibliography(path, shown, recommended=())
    if not bib.entries and any(p.line == 0 for p in bib.problems):
        return None, list(bib.problems)
    rows, columns = [], ["key", "entry_type"]
    for entry in bib.entries:
        rows.append(
            Row(entry.line, {"key": entry.key, "entry_type": entry.entry_type, **entry.fields})
        )
        columns += [name for name in entry.fields if name not in columns]
    return RawTable(shown, tuple(columns), rows), list(bib.problems)


def _parse(text: str) -> Any:
    bibtexparser = require("bibtexparser", "evidence", who="reading BibTeX files")

    splitter_log = logging.getLogger("bibtexparser.splitter")
    previous = splitter_log.disabled
    splitter_log.disabled = True  # failed blocks are reported by us, with their lines
    try:
        return bibtexparser.parse_string(text)
    finally:
        splitter_log.disabled = previous


def _entry(block: Any) -> BibEntry:
    fields = {str(f.key).lower(): str(f.value).strip() for f in block.fields}
    return BibEntry(str(block.key), str(block.entry_type).lower(), block.start_line + 1, fields)


def _failed(block: Any, shown: str) -> tuple[Problem, BibEntry | None]:
    model = require("bibtexparser.model", "evidence", who="reading BibTeX files")
    DuplicateBlockKeyBlock, DuplicateFieldKeyBlock = model.DuplicateBlockKeyBlock, model.DuplicateFieldKeyBlock

    line = (block.start_line or 0) + 1
    if isinstance(block, DuplicateBlockKeyBlock):
        first = block.previous_block.start_line + 1
        message = f"duplicate entry key {block.key!r}; first on line {first} (that one is kept)"
        return Problem(shown, line, "key", message), None
    if isinstance(block, DuplicateFieldKeyBlock):
        entry = _entry(block.ignore_error_block)
        names = ", ".join(sorted(block.duplicate_keys))
        return Problem(shown, line, names, f"entry {entry.key!r} gives this field twice"), entry
    head = _ENTRY_HEAD.match(str(block.raw).lstrip())
    label = f"entry {head.group(2)!r}" if head and head.group(2) else "block"
    reason = (
        getattr(block.error, "abort_reason", "") or str(block.error) or "syntax error"
    ).strip()
    return Problem(shown, line, "-", f"malformed {label}: {reason}"), None


def author_year(fields: Mapping[str, str]) -> str | None:
    """"Surname year" of the first author of a BibTeX entry, LaTeX accents decoded.

    A brace-protected corporate author (``{The ASCO Post}``) is kept whole; stand-in texts such as
    "[author list not read]" or "Authors not verified" give None (the study id is shown instead).
    """
    author, year = fields.get("author", "").strip(), fields.get("year", "")
    if not author or not year or re.search(r"not (verified|read)", author, re.IGNORECASE):
        return None
    first = author.split(" and ")[0].strip()
    if first.startswith("{") and first.endswith("}") and "," not in first:
        surname = first[1:-1]
    else:
        surname = first.split(",")[0] if "," in first else first.split()[-1]
    surname = _latex_to_text(surname).strip()
    if not surname or not surname[0].isalpha():
        return None
    return f"{surname} {year}"


def _latex_to_text(text: str) -> str:
    latex2text = require("pylatexenc.latex2text", "evidence", who="decoding LaTeX in BibTeX fields")
    return latex2text.LatexNodes2Text().latex_to_text(text)
