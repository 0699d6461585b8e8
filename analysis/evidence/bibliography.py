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

__all__ = [
    "BibEntry",
    "Bibliography",
    "author_year",
    "citation_fields",
    "citation_labels",
    "labelled_bibtex",
    "parse_bibliography",
    "read_bibtex_rows",
]

_ENTRY_HEAD = re.compile(r"@\s*(\w+)\s*[{(]\s*([^,\s]*)")

#: An author field that stands in for an unknown author list ("[author list not read]", "Authors not verified").
_PLACEHOLDER_AUTHOR = re.compile(r"not (?:yet )?(?:verified|read|identified|known)", re.IGNORECASE)

#: How a work whose authors are not known is named: its journal (or where it appeared) and this remark.
UNKNOWN_AUTHORS = "authors not yet identified"


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
    if not author or not year or _PLACEHOLDER_AUTHOR.search(author):
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


def _venue(fields: Mapping[str, str]) -> str:
    """Where a work appeared, shortest form first: ``shortjournal``, ``journal``, ``howpublished``, ``publisher``."""
    for name in ("shortjournal", "journal", "howpublished", "publisher"):
        value = _latex_to_text(fields.get(name, "")).strip()
        if value:
            return value
    return ""


def _provisional(fields: Mapping[str, str]) -> bool:
    author = fields.get("author", "").strip()
    return not author or bool(_PLACEHOLDER_AUTHOR.search(author))


def citation_labels(entries: Iterable[BibEntry]) -> dict[str, str]:
    """Readable, unique labels of bibliography entries, by key.

    * an entry with a first author reads "Surname year" (:func:`author_year`);
    * an entry whose author list is missing or a stand-in ("[author list not read]") reads
      "Venue year (authors not yet identified)", the venue being ``shortjournal``, ``journal``,
      ``howpublished`` or ``publisher``, whichever comes first;
    * labels that would be the same for different works get a letter after the year, in key order
      ("Rejeski 2023a", "Rejeski 2023b"), as author-year styles do (APA 7, section 8.19);
    * an entry with nothing to build a label from keeps its key.

    Parameters
    ----------
    entries : iterable of BibEntry

    Returns
    -------
    dict of str to str
    """
    out = {}
    for key, (who, year) in _citations(entries).items():
        if not (who and year):
            out[key] = key
        elif who.endswith(f"({UNKNOWN_AUTHORS})"):
            out[key] = f"{who.removesuffix(f' ({UNKNOWN_AUTHORS})')} {year} ({UNKNOWN_AUTHORS})"
        else:
            out[key] = f"{who} {year}"
    return out


def _citations(entries: Iterable[BibEntry]) -> dict[str, tuple[str, str]]:
    """Key -> (who, year with its disambiguating letter), in key order."""
    cited = {e.key: citation_fields(e.fields) for e in sorted(entries, key=lambda e: e.key)}
    groups: dict[tuple[str, str], list[str]] = {}
    for key, pair in cited.items():
        if all(pair):
            groups.setdefault(pair, []).append(key)
    out = {}
    for key, (who, year) in cited.items():
        same = groups.get((who, year), [key])
        letter = _LETTERS[same.index(key)] if len(same) > 1 else ""
        out[key] = (who, f"{year}{letter}" if year else year)
    return out


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def citation_fields(fields: Mapping[str, str]) -> tuple[str, str]:
    """(who, year) of an entry as a citation shows them; ``("", "")`` when they cannot be read.

    ``who`` is the first author's surname, or "Venue (authors not yet identified)" for an entry
    whose author list is a stand-in (see :func:`citation_labels`).
    """
    year = fields.get("year", "").strip()
    if not year:
        return "", ""
    if _provisional(fields):
        venue = _venue(fields)
        return (f"{venue} ({UNKNOWN_AUTHORS})", year) if venue else ("", "")
    label = author_year(fields)
    return (label.rsplit(" ", 1)[0], year) if label else ("", "")


def labelled_bibtex(text: str) -> str:
    """The BibTeX ``text`` rewritten so that author-year citations of it are readable and unique.

    Same-author same-year works get their letter in ``year`` ("2023a"); an entry whose author list
    is a stand-in gets ``author = {{Venue (authors not yet identified)}}`` (a corporate name, so that
    styles print it whole). Every other field is kept. Meant for citation renderers that build
    labels from ``author`` and ``year`` (for example sphinxcontrib-bibtex's author_year style).
    """
    model = require("bibtexparser.model", "evidence", who="writing BibTeX files")
    bibtexparser = require("bibtexparser", "evidence", who="writing BibTeX files")
    library = _parse(text)
    entries = [_entry(block) for block in library.entries]
    cited = _citations(entries)
    for block, entry in zip(library.entries, entries, strict=True):
        who, year = cited[entry.key]
        if not (who and year):
            continue
        if _provisional(entry.fields):
            block.set_field(model.Field("author", "{" + who + "}"))
        if year != entry.fields.get("year", "").strip():
            block.set_field(model.Field("year", year))
    return bibtexparser.write_string(library)
