"""``python -m analysis search``: run the review's searches and put new records up for screening.

The strategy file (``data/search_strategy.yaml`` by default) names everything: the sources with
their service, query and date limits, the files to write (screening record, search log, hit log:
one row per record read, naming the screening row it is, so that the PRISMA flow counts records
identified and duplicates from the hits) and
where the studies already in the review are listed (a table with a bibliography key column and
the BibTeX file). Nothing here knows the review's topic.

The run is all-or-nothing: every source is searched to its last page first; if one still fails
after its retries the command prints ONE line naming the source and the HTTP status and exits 1
with no file changed. Only then are the screening record, the search log and the hit log
written, each to a temporary file renamed over the old one. Each query gets the next search id
(``s0001``...). ``--dry-run`` prints the first request of each source
and touches nothing.

Base URLs come from ``ANALYSIS_EUTILS_URL``, ``ANALYSIS_EUROPEPMC_URL`` and
``ANALYSIS_CTGOV_URL`` (each ending with ``/``); ``NCBI_API_KEY`` (optional) raises NCBI's rate
limit from 3 to 10 requests a second; ``NCBI_EMAIL`` overrides the contact e-mail sent to NCBI
(``contact: email:`` in the strategy). NCBI asks every E-utilities user for a contact address;
without one no ``email`` parameter is sent and the command says so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.evidence.bibliography import parse_bibliography
from analysis.evidence.project import ProjectRootError, default_path
from analysis.evidence.readers import load_yaml
from analysis.living.screening import (
    COLUMNS,
    RECORD_PREFIX,
    KnownIndex,
    Merge,
    merge_records,
    read_rows,
    rows_text,
)
from analysis.living.searchsources import SERVICES, Found, Query, first_request, run_query
from analysis.living.webclient import Http, SourceError, retry_policy_from_env

__all__ = ["BASE_URLS", "Strategy", "cli_arguments", "cli_run", "load_strategy", "missing_contact_note", "run_search"]

#: service -> (environment variable, default base URL).
BASE_URLS: dict[str, tuple[str, str]] = {
    "eutils": ("ANALYSIS_EUTILS_URL", "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"),
    "europepmc": ("ANALYSIS_EUROPEPMC_URL", "https://www.ebi.ac.uk/europepmc/webservices/rest/"),
    "ctgov": ("ANALYSIS_CTGOV_URL", "https://clinicaltrials.gov/api/v2/"),
}
LOG_COLUMNS = ("search_id", "search_date", "source_id", "source", "purpose", "query", "rerun_of", "rerun_result",
               "records", "hits", "new_records", "notes")
HIT_COLUMNS = ("search_id", "rank", "record_id", "url")


class StrategyError(ValueError):
    """The strategy file is missing something; the message names file and field."""


@dataclass(frozen=True)
class Strategy:
    """The parsed strategy: queries and the files it names (absolute paths)."""

    path: Path
    queries: tuple[Query, ...]
    screening: Path
    log: Path
    known_table: Path | None
    known_id: str
    known_bibkey: str
    bibliography: Path | None
    other_sources: tuple[str, ...] = ()
    hits: Path | None = None


def _base(service: str, env: Mapping[str, str]) -> str:
    var, default = BASE_URLS[service]
    url = env.get(var) or default
    return url if url.endswith("/") else url + "/"


def _date(value: Any, where: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise StrategyError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def load_strategy(path: Path, *, today: dt.date, env: Mapping[str, str] | None = None) -> Strategy:
    """Read the strategy file; raise :class:`StrategyError` naming the field that is wrong."""
    env = os.environ if env is None else env
    if not path.is_file():
        raise StrategyError(f"{path}: file not found")
    raw = load_yaml(path) or {}
    if not isinstance(raw, dict) or not isinstance(raw.get("sources"), list) or not raw["sources"]:
        raise StrategyError(f"{path}: sources: a list of sources is required")
    contact = raw.get("contact") or {}
    key = env.get("NCBI_API_KEY", "")
    ncbi = {"tool": str(contact.get("tool") or "analysis-search")}
    email = (env.get("NCBI_EMAIL") or str(contact.get("email") or "")).strip()
    if email:  # never an empty email= (NCBI asks for a contact address; the command says when there is none)
        ncbi["email"] = email
    if key:
        ncbi["api_key"] = key
    queries = []
    for i, src in enumerate(raw["sources"]):
        where = f"{path}: sources[{i}]"
        if not isinstance(src, dict):
            raise StrategyError(f"{where}: not a mapping")
        for name in ("id", "name", "service", "query"):
            if not str(src.get(name) or "").strip():
                raise StrategyError(f"{where}.{name}: required")
        service = str(src["service"])
        if service not in SERVICES:
            raise StrategyError(f"{where}.service: {service!r} is not one of {', '.join(SERVICES)}")
        until = str(src.get("date_to") or "")
        queries.append(Query(
            source=str(src["id"]), name=str(src["name"]), service=service,
            query=" ".join(str(src["query"]).split()), base_url=_base(service, env),
            date_from=_date(src.get("date_from"), f"{where}.date_from"),
            date_to=today if until == "today" else _date(until, f"{where}.date_to"),
            page_size=int(src.get("page_size") or 100),
            params=ncbi if service == "eutils" else {},
            interval=(0.1 if key else 0.34) if service == "eutils" else 0.0,
        ))
    files = raw.get("files") or {}
    known = raw.get("known") or {}
    here = path.parent

    def _file(value: Any) -> Path | None:
        return (here / str(value)).resolve() if value else None

    return Strategy(
        path=path, queries=tuple(queries),
        screening=_file(files.get("screening") or "screening.csv"),  # type: ignore[arg-type]
        log=_file(files.get("log") or "searches.csv"),  # type: ignore[arg-type]
        hits=_file(files.get("hits") or "search_hits.csv"),
        known_table=_file(known.get("table")), known_id=str(known.get("id") or "study_id"),
        known_bibkey=str(known.get("bibkey") or "bibkey"), bibliography=_file(known.get("bibliography")),
        other_sources=tuple(str(o["id"]) for o in raw.get("other_sources") or []
                            if isinstance(o, dict) and o.get("id")),
    )


def known_index(strategy: Strategy) -> KnownIndex:
    """Identifiers of the studies already in the review (table rows and their BibTeX entries).

    A study's identifiers are its table row's ``pmid``/``doi``/``nct_id`` columns when the table
    has them, the ``pmid``, ``doi``, ``eprint`` (with ``eprinttype = pubmed``) and ``title`` fields
    of the BibTeX entry its bibliography-key column names, and the identifiers and titles of the
    screening rows linked to it. A screened record of another method (a hand search) that is not a
    study is known by its PMID, DOI or NCT id as that record.
    """
    index = KnownIndex()
    if strategy.known_table is None or not strategy.known_table.exists():
        return index
    _, rows = read_rows(strategy.known_table)
    entries = {}
    if strategy.bibliography is not None and strategy.bibliography.exists():
        entries = {e.key: e.fields for e in parse_bibliography(strategy.bibliography, recommended=()).entries}
    for row in rows:
        study = row.get(strategy.known_id, "")
        if not study:
            continue
        index.add(study, pmid=row.get("pmid", ""), doi=row.get("doi", ""), nct_id=row.get("nct_id", ""))
        fields = entries.get(row.get(strategy.known_bibkey, ""), {})
        eprint = fields.get("eprint", "") if fields.get("eprinttype", "").lower() == "pubmed" else ""
        index.add(study, pmid=fields.get("pmid", "") or eprint, doi=fields.get("doi", ""),
                  nct_id=fields.get("nct", "") or fields.get("nct_id", ""), title=fields.get("title", ""))
    # records already screened and linked to a study count too
    _, screened = read_rows(strategy.screening)
    for row in screened:
        if row.get("study_id"):
            index.add(row["study_id"], pmid=row.get("pmid", ""), doi=row.get("doi", ""),
                      nct_id=row.get("nct_id", ""), title=row.get("title", ""))
        elif row.get("decision") and set(row.get("sources", "").split(";")) <= set(strategy.other_sources):
            index.add(RECORD_PREFIX + row.get("record_id", ""), pmid=row.get("pmid", ""),
                      doi=row.get("doi", ""), nct_id=row.get("nct_id", ""))
    return index


def _search_ids(log: list[dict[str, str]], n: int) -> list[str]:
    """The next ``n`` search ids after the highest ``sNNNN`` of the log."""
    numbers = [int(m.group(1)) for r in log if (m := re.fullmatch(r"s(\d+)", r.get("search_id") or ""))]
    first = max(numbers, default=0) + 1
    return [f"s{i:04d}" for i in range(first, first + n)]


def _hit_rows(found: list[Found], merge: Merge, ids: list[str]) -> list[dict[str, str]]:
    """One row per record read, in each query's order, naming the screening row it is."""
    rows, start = [], 0
    for f, search_id in zip(found, ids, strict=True):
        record_ids = merge.hit_ids[start:start + len(f.records)]
        start += len(f.records)
        rows += [{"search_id": search_id, "rank": str(rank), "record_id": rid, "url": ""}
                 for rank, rid in enumerate(record_ids, start=1) if rid]
    return rows


def _log_rows(found: list[Found], merge: Merge, today: str, ids: list[str],
              hits: list[dict[str, str]]) -> list[dict[str, str]]:
    rows = []
    for f, search_id in zip(found, ids, strict=True):
        source = f.query.source
        rows.append({
            "search_id": search_id, "search_date": today, "source_id": source, "source": f.query.name,
            "purpose": "identification", "query": f.logged_query, "rerun_of": "", "rerun_result": "",
            "records": str(len(f.records)), "hits": str(sum(h["search_id"] == search_id for h in hits)),
            "new_records": str(merge.new_by_source.get(source, 0)),
            "notes": (f"Automatic search (python -m analysis search); the service reported "
                      f"{f.reported} records, {len(f.records)} were read; new records go to the "
                      f"screening record with source '{source}'."
                      + (f" {merge.unidentifiable} records of this run had no identifier or usable "
                         "title and were not recorded." if merge.unidentifiable else "")),
        })
    return rows


def _write_atomic(targets: dict[Path, str]) -> None:
    temps: list[tuple[Path, Path]] = []
    try:
        for target, text in targets.items():
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            temps.append((Path(name), target))
        for temp, target in temps:
            os.replace(temp, target)
    finally:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)


def _append(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...]) -> str:
    """CSV text of a log with ``rows`` appended (its own columns first, then any missing ones)."""
    header, existing = read_rows(path)
    names = list(header) if path.exists() else list(columns)
    names += [c for c in columns if c not in names]
    return rows_text(names, existing + rows)


def run_search(strategy: Strategy, *, today: dt.date, http: Http) -> tuple[Merge, list[Found]]:
    """Search every source, merge, and write the screening record and the log (all or nothing)."""
    found = [run_query(http, q) for q in strategy.queries]  # raises SourceError: nothing written
    header, rows = read_rows(strategy.screening)
    header += [c for c in COLUMNS if c not in header]
    merge = merge_records(rows, (r for f in found for r in f.records), today=today.isoformat(),
                          known=known_index(strategy), other_sources=strategy.other_sources)
    ids = _search_ids(read_rows(strategy.log)[1], len(found))
    hits = _hit_rows(found, merge, ids)
    targets = {
        strategy.screening: rows_text(header, merge.rows),
        strategy.log: _append(strategy.log, _log_rows(found, merge, today.isoformat(), ids, hits),
                              LOG_COLUMNS),
    }
    if strategy.hits is not None:
        targets[strategy.hits] = _append(strategy.hits, hits, HIT_COLUMNS)
    _write_atomic(targets)
    return merge, found


#: The strategy the command runs by default, relative to the repository root.
STRATEGY = "data/search_strategy.yaml"


def cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``python -m analysis search``."""
    parser.add_argument("--strategy", default=None, type=Path,
                        help="the search strategy (sources, queries, date limits, files); "
                             "default: data/search_strategy.yaml in the repository root")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the first request of each source and change nothing")
    parser.add_argument("--date", default=None,
                        help="date of the run (YYYY-MM-DD; default: today, UTC)")


def missing_contact_note(strategy: Strategy) -> str:
    """The note printed when PubMed is searched without a contact e-mail; empty otherwise."""
    if not any(q.service == "eutils" and not q.params.get("email") for q in strategy.queries):
        return ""
    return ("search: note: no contact e-mail for NCBI (PubMed), which asks for one; set NCBI_EMAIL="
            f"you@example.org, or contact: email: in {strategy.path}")


def _summary(merge: Merge, found: list[Found]) -> str:
    lines = [f"{f.query.name}: {len(f.records)} records read ({f.reported} reported), "
             f"{merge.new_by_source.get(f.query.source, 0)} new" for f in found]
    pending = sum(1 for r in merge.rows if not r.get("decision"))
    lines.append(f"{len(merge.new)} new records ({merge.known_new} already in the review, marked "
                 f"known); {pending} records await screening.")
    if merge.unidentifiable:
        lines.append(f"{merge.unidentifiable} records had no PMID, DOI, NCT id or usable title and "
                     "could not be recorded (see the search log).")
    return "\n".join(lines)


def cli_run(args: argparse.Namespace) -> int:
    """Run the command; 0 on success, 1 when a source failed, 2 for a bad strategy file."""
    try:
        today = dt.date.fromisoformat(args.date) if args.date else dt.datetime.now(dt.UTC).date()
        strategy = load_strategy(args.strategy or default_path(STRATEGY, marker=STRATEGY), today=today)
    except (StrategyError, ValueError, ProjectRootError) as exc:
        print(f"search: {exc}", file=sys.stderr)
        return 2
    note = missing_contact_note(strategy)
    if note:
        print(note, file=sys.stderr)
    if args.dry_run:
        for q in strategy.queries:
            print(f"{q.name}: {first_request(q).text()}")
        print(f"(dry run: would update {strategy.screening} and append to {strategy.log})")
        return 0
    try:
        with Http(policy=retry_policy_from_env()) as http:
            merge, found = run_search(strategy, today=today, http=http)
    except SourceError as exc:
        print(f"search failed, nothing written: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"search: {exc}", file=sys.stderr)
        return 2
    print(_summary(merge, found))
    return 0



