"""The screening record: one row per unique record the searches ever found.

Records are the same record when they share, in this order, a PMID, a DOI (compared in lower
case without ``https://doi.org/`` or ``doi:``), a trial registration number (NCT id), or a
normalised title (lower case, letters and digits only; a title of fewer than twelve characters or
a placeholder such as "[Not Available]" identifies nothing). A record found again, by another source
or in a later run, updates its row (a new identifier, one more source, the date it was last
seen) and never makes a second row; a decision already written is never changed.

A new record that matches a study already in the review (by PMID, DOI or NCT id, or else by its
normalised title) gets the decision ``known`` with that study's id instead of waiting for
screening. Records of other methods (a hand search) are kept apart, as the PRISMA 2020 diagram
counts them in their own column.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from analysis.living.searchsources import Record

__all__ = [
    "COLUMNS",
    "RECORD_PREFIX",
    "KnownIndex",
    "Merge",
    "merge_records",
    "norm_doi",
    "norm_nct",
    "norm_pmid",
    "norm_title",
    "read_rows",
    "rows_text",
]

#: How :class:`KnownIndex` names a screened record that is not (yet) a study of the review.
RECORD_PREFIX = "record "

#: The columns the search writes (a screening file may hold more; they are kept).
COLUMNS = ("record_id", "pmid", "doi", "nct_id", "url", "title", "year", "sources", "first_found",
           "last_found", "decision", "reason_code", "reason", "study_id")

_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)


def norm_doi(value: str) -> str:
    """``10.1182/BLOOD.X`` and ``https://doi.org/10.1182/blood.x`` -> ``10.1182/blood.x``."""
    return _DOI_PREFIX.sub("", (value or "").strip()).strip().lower()


def norm_pmid(value: str) -> str:
    """A PMID as digits only (``"PMID: 00123"`` -> ``"123"``); anything else -> ``""``."""
    match = re.fullmatch(r"\s*(?:PMID:?\s*)?(\d+)\s*", value or "", re.IGNORECASE)
    return (match.group(1).lstrip("0") or "0") if match else ""


def norm_nct(value: str) -> str:
    """An NCT id in upper case without spaces; anything else -> ``""``."""
    match = re.search(r"NCT\d{8}", (value or "").upper().replace(" ", ""))
    return match.group(0) if match else ""


def norm_title(value: str) -> str:
    """A title reduced to lower-case letters and digits separated by single spaces."""
    text = unicodedata.normalize("NFKD", value or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.findall(r"[^\W_]+", text))


#: Normalised titles too short or too generic to identify a record (PubMed's placeholder for a
#: missing title, for one).
_NO_TITLE = frozenset({"not available", "untitled", "no title", "erratum", "correction", "editorial"})
_MIN_TITLE = 12


def _title_key(title: str) -> str:
    key = norm_title(title)
    return "" if len(key) < _MIN_TITLE or key in _NO_TITLE else key


def _keys(pmid: str, doi: str, nct: str, title: str) -> list[tuple[str, str]]:
    keys = [("pmid", norm_pmid(pmid)), ("doi", norm_doi(doi)), ("nct", norm_nct(nct)),
            ("title", _title_key(title))]
    return [(k, v) for k, v in keys if v]


@dataclass
class KnownIndex:
    """Identifiers of the studies already in the review: key -> study id."""

    ids: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, study_id: str, *, pmid: str = "", doi: str = "", nct_id: str = "",
            title: str = "") -> None:
        """Register one study's identifiers (empty ones are ignored)."""
        for key in _keys(pmid, doi, nct_id, title):
            self.ids.setdefault(key, study_id)

    def match(self, row: Mapping[str, str]) -> str:
        """The study a row belongs to (by PMID, DOI, NCT id, then exact normalised title), or ``""``."""
        for key in _keys(row.get("pmid", ""), row.get("doi", ""), row.get("nct_id", ""),
                         row.get("title", "")):
            if key in self.ids:
                return self.ids[key]
        return ""


@dataclass
class Merge:
    """The screening rows after a run, and what the run changed."""

    rows: list[dict[str, str]]
    new: list[str]  # record ids created by this run, in order
    new_by_source: dict[str, int]
    known_new: int
    unidentifiable: int = 0  # records with no PMID, DOI, NCT id or usable title: not recorded, counted
    hit_ids: list[str] = field(default_factory=list)  # per record read, in order: its row's id ("" if none)


def _next_id(rows: Iterable[Mapping[str, str]]) -> int:
    numbers = [int(m.group(1)) for r in rows if (m := re.fullmatch(r"r(\d+)", r.get("record_id", "")))]
    return max(numbers, default=0) + 1


def _index(rows: list[dict[str, str]], other: frozenset[str]) -> dict[tuple[str, str], int]:
    index: dict[tuple[str, str], int] = {}
    for i, row in enumerate(rows):
        if other and set(_sources(row)) <= other:
            continue  # a record of another method (hand search) is counted in its own column
        for key in _keys(row.get("pmid", ""), row.get("doi", ""), row.get("nct_id", ""),
                         row.get("title", "")):
            index.setdefault(key, i)
    return index


def _sources(row: Mapping[str, str]) -> list[str]:
    return [s for s in (row.get("sources") or "").split(";") if s]


def merge_records(rows: list[dict[str, str]], records: Iterable[Record], *, today: str,
                  known: KnownIndex, other_sources: Iterable[str] = ()) -> Merge:
    """Add records to the screening rows; return the new rows and what changed.

    Parameters
    ----------
    rows : list of dict
        The current screening rows (not modified; copies are returned).
    records : iterable of Record
        What the sources returned, in order.
    today : str
        Date of the run (ISO), written to ``first_found`` / ``last_found``.
    known : KnownIndex
        Identifiers of the studies already in the review.
    other_sources : iterable of str, optional
        Sources that are not searches of databases or registers (a hand search). Their rows are
        never merged with the searches' records: as in the PRISMA 2020 diagram, records found by
        other methods are counted in their own column [page2021]; a search's record of the same
        report becomes its own row, marked ``known`` when it belongs to a study of the review.
    """
    out = [dict(r) for r in rows]
    index = _index(out, frozenset(other_sources))
    counter = _next_id(out)
    new: list[str] = []
    new_by_source: dict[str, int] = {}
    unidentifiable = 0
    hit_ids: list[str] = []
    for rec in records:
        keys = _keys(rec.pmid, rec.doi, rec.nct_id, rec.title)
        if not keys:
            unidentifiable += 1
            hit_ids.append("")
            continue
        hit = next((index[k] for k in keys if k in index), None)
        if hit is None:
            row = {c: "" for c in COLUMNS}
            row.update(record_id=f"r{counter:04d}", first_found=today)
            counter += 1
            out.append(row)
            hit = len(out) - 1
            new.append(row["record_id"])
            new_by_source[rec.source] = new_by_source.get(rec.source, 0) + 1
        row = out[hit]
        hit_ids.append(row["record_id"])
        for column, value in (("pmid", norm_pmid(rec.pmid)), ("doi", norm_doi(rec.doi)),
                              ("nct_id", norm_nct(rec.nct_id)), ("title", rec.title.strip()),
                              ("year", rec.year)):
            if value and not row.get(column):
                row[column] = value
        row["sources"] = ";".join(dict.fromkeys([*_sources(row), rec.source]))
        row["last_found"] = today
        for key in _keys(row["pmid"], row["doi"], row["nct_id"], row["title"]):
            index.setdefault(key, hit)
    known_new = 0
    for row in out:
        if row.get("decision"):
            continue
        study = known.match(row)
        if study.startswith(RECORD_PREFIX):
            row.update(decision="known", reason=f"the same report as {study[len(RECORD_PREFIX):]}, "
                                                "found by another method and already screened")
        elif study:
            row.update(decision="known", study_id=row.get("study_id") or study,
                       reason=f"already in the review as {study}")
        known_new += bool(study) and row["record_id"] in new
    return Merge(out, new, new_by_source, known_new, unidentifiable, hit_ids)


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file (a missing file: the screening columns and no row)."""
    if not path.exists():
        return list(COLUMNS), []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or COLUMNS)
        rows = [{k: (v or "") for k, v in row.items() if k is not None} for row in reader]
    return header, rows


def rows_text(header: list[str], rows: Iterable[Mapping[str, str]]) -> str:
    """CSV text of rows under a header (columns in that order; other keys are left out)."""
    columns = list(header)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return out.getvalue()
