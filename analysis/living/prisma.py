"""The PRISMA 2020 flow of each review version, counted from the screening record.

Nothing is typed by hand: a version (``version``, ``search_date``, ``trigger``) takes the records
first found after the previous version's search and up to its own (for the first version, every
record up to its search date), and counts them box by box [page2021]:

* records identified, per source: every hit of a search whose results were recorded one by one
  (the hit log: ``search_id``, ``record_id``; the search log gives each search's date and
  ``source_id``), plus, per source it names, each record that no recorded hit points to (found by
  a search whose results were not recorded, or named by a lead);
* removed before screening: duplicates (records identified minus the version's unique records: a
  record returned by several searches, or again after an earlier version) and records of studies
  already in the review (decision ``known``);
* records screened: the unique records with a decision; records still without one are shown as
  awaiting screening;
* excluded at screening: decision ``exclude``, counted by reason (``reason_code`` shown through
  ``reason_labels``, else the reason in words); reports sought: the rest of the screened records;
  not retrieved: ``not_retrieved``; assessed: sought minus not retrieved;
* after assessment: ``exclude_fulltext`` (by reason), ``include`` rows whose study is excluded in
  the study table (by the study's exclusion reason), ``awaiting_classification`` (by reason),
  ``ongoing`` registered studies, and the records of included and awaiting-data studies;
* studies: the distinct studies of ``include`` rows, by their status in the study table
  (``included`` or ``awaiting_data``), and the included ones by study set (``study_sets``: a label
  and the study-table values a study of the set has, such as the analysis plan's evidence sets);
  a report not retrieved is a study awaiting data (its own study, or the record when it names none);
* reports of included studies (of this version's records, and in total with earlier versions):
  PRISMA 2020 counts reports and studies apart. A record is a report; when a reports table is
  given (``report_id``, ``study_id``, ``doi``, ``pmid``, ``nct_id``, ``url``), records matching
  one of its reports by identifier or address count as that one report.

:func:`check_flow` then verifies that every box adds up from the one before.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["DECISIONS", "FlowError", "check_flow", "flow_versions", "report_keys", "search_runs",
           "since_version"]

#: The screening decisions and what they mean for the flow.
DECISIONS = ("known", "exclude", "not_retrieved", "exclude_fulltext", "include",
             "awaiting_classification", "ongoing")


class FlowError(ValueError):
    """The screening record cannot be counted (a decision or a study link is wrong)."""


def _date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _sources(row: Mapping[str, Any]) -> list[str]:
    return [s for s in str(row.get("sources") or "").split(";") if s]


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _norm_url(url: str) -> str:
    return re.sub(r"^(https?://)?(www\.)?", "", url.strip().lower()).rstrip("/")


def _ids(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The identifiers a record or a report is known by (DOI, PMID, NCT id, address)."""
    pairs = [("doi", _text(row.get("doi")).lower()), ("pmid", _text(row.get("pmid"))),
             ("nct", _text(row.get("nct_id")).upper()), ("url", _norm_url(_text(row.get("url"))))]
    return [(k, v) for k, v in pairs if v]


def report_keys(records: Iterable[Mapping[str, Any]],
                reports: Iterable[Mapping[str, Any]] = ()) -> dict[str, str]:
    """Record id -> the report it is: a report of the reports table sharing an identifier, else itself.

    Parameters
    ----------
    records : iterable of mapping
        Screening rows (``record_id`` and the identifier columns).
    reports : iterable of mapping, optional
        Rows of the reports table (``report_id``, ``doi``, ``pmid``, ``nct_id``, ``url``); empty
        when the review has none, and then every record is its own report.
    """
    index: dict[tuple[str, str], str] = {}
    for report in reports:
        for key in _ids(report):
            index.setdefault(key, f"report {_text(report.get('report_id'))}")
    return {str(r.get("record_id")): next((index[k] for k in _ids(r) if k in index),
                                          f"record {r.get('record_id')}") for r in records}


def _identified(rows: Sequence[Mapping[str, Any]], hits: Sequence[Mapping[str, Any]],
                search_source: Mapping[str, str], hit_records: set[str]) -> Counter[str]:
    """Records identified per source: recorded hits, plus records no recorded hit points to."""
    by_source: Counter[str] = Counter(search_source.get(str(h.get("search_id")), "") for h in hits)
    for row in rows:
        if str(row.get("record_id")) not in hit_records:
            by_source.update(_sources(row))
    by_source.pop("", None)
    return by_source


def _reasons(rows: Iterable[Mapping[str, Any]], labels: Mapping[str, str]) -> list[dict[str, Any]]:
    counts: Counter[str] = Counter()
    for r in rows:
        code = _text(r.get("reason_code"))
        counts[labels.get(code, code) if code else (_text(r.get("reason")) or "no reason given")] += 1
    return [{"reason": k, "n": v} for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _in_set(study: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    return all(_text(study.get(k)) == _text(v) for k, v in where.items())


def _count_version(rows: Sequence[Mapping[str, Any]], studies: Mapping[str, Mapping[str, Any]],
                   names: Mapping[str, str], previous: tuple[set[str], set[str]], *,
                   hits: Sequence[Mapping[str, Any]] = (), search_source: Mapping[str, str] | None = None,
                   hit_records: set[str] | None = None, reports: Mapping[str, str] | None = None,
                   study_sets: Mapping[str, Mapping[str, Any]] | None = None,
                   reason_labels: Mapping[str, str] | None = None,
                   ) -> tuple[dict[str, Any], tuple[set[str], set[str]]]:
    previous_included, previous_reports = previous
    labels = reason_labels or {}
    by_source = _identified(rows, hits, search_source or {}, hit_records or set())
    order = [s for s in names if s in by_source] + sorted(s for s in by_source if s not in names)
    decision = Counter(str(r.get("decision") or "") for r in rows)
    unknown = set(decision) - {"", *DECISIONS}
    if unknown:
        raise FlowError(f"screening: unknown decision(s) {', '.join(sorted(unknown))}; "
                        f"allowed: {', '.join(DECISIONS)} or empty")
    duplicates = sum(by_source.values()) - len(rows)
    known, pending = decision["known"], decision[""]
    screened = len(rows) - known - pending
    excluded_ft = _reasons((r for r in rows if r.get("decision") == "exclude_fulltext"), labels)
    by_study_reason: Counter[str] = Counter()
    included: set[str] = set()
    awaiting: set[str] = set()
    included_records: list[Mapping[str, Any]] = []
    awaiting_records = 0
    for r in rows:
        if r.get("decision") == "not_retrieved":
            awaiting.add(str(r.get("study_id") or r.get("record_id")))
        if r.get("decision") != "include":
            continue
        sid = str(r.get("study_id") or "")
        study = studies.get(sid)
        if study is None:
            raise FlowError(f"screening: record {r.get('record_id')}: decision include needs a "
                            f"study_id of the study table (got {sid!r})")
        status = str(study.get("status") or "")
        if status == "excluded":
            by_study_reason[str(study.get("exclusion_reason") or "excluded")] += 1
        elif status == "included":
            included_records.append(r)
            included.add(sid)
        else:
            awaiting_records += 1
            awaiting.add(sid)
    excluded_ft += [{"reason": k, "n": v} for k, v in sorted(by_study_reason.items())]
    awaiting -= included
    new = included - previous_included
    total = previous_included | included
    report_of = reports or {}
    new_reports = {report_of.get(str(r.get("record_id")), f"record {r.get('record_id')}") for r in included_records}
    all_reports = previous_reports | new_reports
    flow = {
        "identified": [{"source": names.get(s, s), "records": by_source[s]} for s in order],
        "removed_before_screening": [{"reason": "Duplicate records", "n": duplicates},
                                     {"reason": "Records of studies already in the review", "n": known}],
        "duplicates_removed": duplicates + known,
        "awaiting_screening": pending,
        "screened": screened,
        "excluded_screening": decision["exclude"],
        "excluded_screening_reasons": _reasons((r for r in rows if r.get("decision") == "exclude"), labels),
        "reports_sought": screened - decision["exclude"],
        "reports_not_retrieved": decision["not_retrieved"],
        "assessed": screened - decision["exclude"] - decision["not_retrieved"],
        "excluded_fulltext": excluded_ft,
        "awaiting_classification": decision["awaiting_classification"],
        "awaiting_classification_reasons": _reasons(
            (r for r in rows if r.get("decision") == "awaiting_classification"), labels),
        "records_included": len(included_records),
        "records_awaiting_data": awaiting_records,
        "reports_included": len(new_reports),
        "reports_included_total": len(all_reports),
        "ongoing": decision["ongoing"],
        "awaiting_data": len(awaiting),
        "included_new": len(new),
        "included_total": len(total),
        "included_by_set": [{"label": label, "n": sum(_in_set(studies.get(s, {}), where) for s in total)}
                            for label, where in (study_sets or {}).items()],
    }
    return flow, (total, all_reports)


def flow_versions(versions: Iterable[Mapping[str, Any]], screening: Sequence[Mapping[str, Any]],
                  studies: Iterable[Mapping[str, Any]],
                  source_names: Mapping[str, str] | None = None,
                  source_kinds: Mapping[str, str] | None = None, *,
                  hits: Sequence[Mapping[str, Any]] = (),
                  searches: Sequence[Mapping[str, Any]] = (),
                  reports: Sequence[Mapping[str, Any]] = (),
                  study_sets: Mapping[str, Mapping[str, Any]] | None = None,
                  reason_labels: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The counted flow of every version, oldest first.

    Parameters
    ----------
    versions : iterable of mapping
        ``version``, ``search_date`` (and ``trigger``) of each review version.
    screening : sequence of mapping
        Rows of the screening record.
    studies : iterable of mapping
        Rows of the study table (``study_id``, ``status``, ``exclusion_reason`` and the columns
        ``study_sets`` name).
    source_names : mapping, optional
        Source id -> name shown in the diagram (and the order of the sources).
    source_kinds : mapping, optional
        Source id -> ``database``, ``register`` or ``other``; names the identification column
        (PRISMA 2020: "via databases and registers" or "via other methods").
    hits : sequence of mapping, optional
        The hit log (``search_id``, ``record_id``): one row per result of a recorded search.
    searches : sequence of mapping, optional
        The search log (``search_id``, ``search_date``, ``source_id``) the hits refer to.
    reports : sequence of mapping, optional
        The reports table, when the review has one (see :func:`report_keys`).
    study_sets : mapping, optional
        Label -> the study-table values of the studies of that set (``{"evidence": "post_car_t"}``).
    reason_labels : mapping, optional
        Reason code -> words shown for it.

    Raises
    ------
    FlowError
        A decision is unknown, an included record names no study of the table, a hit names an
        unknown search, or a box does not add up.
    """
    names = dict(source_names or {})
    table = {str(s.get("study_id")): s for s in studies}
    search_date = {str(s.get("search_id")): _date(s.get("search_date")) for s in searches}
    search_source = {str(s.get("search_id")): _text(s.get("source_id")) for s in searches}
    for h in hits:
        if str(h.get("search_id")) not in search_date:
            raise FlowError(f"search hits: search {h.get('search_id')!r} (record {h.get('record_id')}) "
                            "is not in the search log")
    hit_records = {str(h.get("record_id")) for h in hits}
    report_of = report_keys(screening, reports)
    ordered = sorted(versions, key=lambda v: (_date(v.get("search_date")) or dt.date.min))
    out: list[dict[str, Any]] = []
    before: dt.date | None = None
    state: tuple[set[str], set[str]] = (set(), set())
    for v in ordered:
        until = _date(v.get("search_date"))

        def _inside(day: dt.date | None, until: dt.date | None = until, before: dt.date | None = before) -> bool:
            return day is not None and (before is None or day > before) and (until is None or day <= until)

        rows = [r for r in screening if _inside(_date(r.get("first_found")))]
        window_hits = [h for h in hits if _inside(search_date[str(h.get("search_id"))])]
        counts, state = _count_version(rows, table, names, state, hits=window_hits,
                                          search_source=search_source, hit_records=hit_records,
                                          reports=report_of, study_sets=study_sets,
                                          reason_labels=reason_labels)
        flow = {k: v[k] for k in v if k in ("version", "search_date", "trigger")}
        flow.update(counts)
        flow["heading"] = _heading(rows, source_kinds or {})
        problems = check_flow(flow)
        if problems:
            raise FlowError(f"version {v.get('version')}: " + "; ".join(problems))
        out.append(flow)
        before = until
    return out


def _heading(rows: Sequence[Mapping[str, Any]], kinds: Mapping[str, str]) -> str:
    used = {kinds.get(s, "database") for r in rows for s in _sources(r)}
    if used == {"other"}:
        return "Identification of new studies via other methods"
    if "other" in used:
        return "Identification of new studies via databases, registers and other methods"
    return "Identification of new studies via databases and registers"


def check_flow(flow: Mapping[str, Any]) -> list[str]:
    """Every box of a flow that does not add up from the boxes before it (empty: all add up)."""
    identified = sum(int(s["records"]) for s in flow.get("identified", []))
    removed = sum(int(s["n"]) for s in flow.get("removed_before_screening", [])) \
        if "removed_before_screening" in flow else int(flow["duplicates_removed"])
    excluded_ft = sum(int(e["n"]) for e in flow.get("excluded_fulltext", []))
    checks = [
        ("records screened", int(flow["screened"]),
         identified - removed - int(flow.get("awaiting_screening", 0))),
        ("reports sought", int(flow["reports_sought"]),
         int(flow["screened"]) - int(flow["excluded_screening"])),
        ("reports assessed", int(flow["assessed"]),
         int(flow["reports_sought"]) - int(flow["reports_not_retrieved"])),
        ("duplicates removed", int(flow["duplicates_removed"]), removed),
    ]
    if "excluded_screening_reasons" in flow:
        checks.append(("records excluded", int(flow["excluded_screening"]),
                       sum(int(e["n"]) for e in flow["excluded_screening_reasons"])))
    if "records_included" in flow:
        checks.append(("reports assessed", int(flow["assessed"]),
                       excluded_ft + int(flow["records_included"]) + int(flow.get("records_awaiting_data", 0))
                       + int(flow.get("awaiting_classification", 0)) + int(flow.get("ongoing", 0))))
    elif "reports_included" in flow:
        checks.append(("reports assessed", int(flow["assessed"]),
                       excluded_ft + int(flow["reports_included"]) + int(flow.get("ongoing", 0))))
    problems = [f"{what} is {got}, but the boxes before give {want}"
                for what, got, want in checks if got != want]
    if int(flow["included_new"]) > int(flow["included_total"]):
        problems.append("more new studies than studies in total")
    if int(flow.get("reports_included", 0)) > int(flow.get("records_included", flow.get("reports_included", 0))):
        problems.append("more reports of included studies than records of them")
    if int(flow.get("reports_included_total", flow["included_total"])) < int(flow["included_total"]):
        problems.append("fewer reports of included studies than included studies")
    if any(int(flow[k]) < 0 for k in ("screened", "reports_sought", "assessed", "duplicates_removed")):
        problems.append("a negative count")
    return problems


def since_version(screening: Sequence[Mapping[str, Any]], search_date: Any) -> dict[str, int]:
    """Records first found after a version's search, by decision (``awaiting`` = not screened yet)."""
    since = _date(search_date)
    rows = [r for r in screening if (f := _date(r.get("first_found"))) and (since is None or f > since)]
    counts = Counter(str(r.get("decision") or "awaiting") for r in rows)
    return {"records": len(rows), **{k: counts[k] for k in ("awaiting", *DECISIONS)}}


def search_runs(searches: Sequence[Mapping[str, Any]], hits: Sequence[Mapping[str, Any]], *,
                since: Any = None, until: Any = None) -> dict[str, Any]:
    """What was searched for a version: the searches run after ``since`` and up to ``until``.

    Parameters
    ----------
    searches : sequence of mapping
        The search log (``search_id``, ``search_date``, ``source_id``, ``purpose``, ``rerun_of``,
        ``rerun_result``).
    hits : sequence of mapping
        The hit log (``search_id``, ``record_id``).
    since, until : date or str, optional
        The previous version's search date (excluded) and this version's (included).

    Returns
    -------
    dict
        ``recorded``: per source id (in the log's order), the searches whose results were recorded
        one by one and their hits; ``reruns``: the re-runs per ``rerun_result``; ``rerun_of``: the
        dates of the searches they repeat; ``not_as_logged``: the re-runs that did not give what the
        earlier log names (their rows); ``unrecorded``: per purpose, the searches whose results
        were not recorded and that no re-run repeats.
    """
    first, last = _date(since), _date(until)
    window = [s for s in searches if (d := _date(s.get("search_date"))) is not None
              and (first is None or d > first) and (last is None or d <= last)]
    per_search = Counter(str(h.get("search_id")) for h in hits)
    recorded: dict[str, dict[str, int]] = {}
    for s in window:
        n = per_search[str(s.get("search_id"))]
        if n:
            entry = recorded.setdefault(_text(s.get("source_id")), {"searches": 0, "hits": 0})
            entry["searches"] += 1
            entry["hits"] += n
    reruns = [s for s in window if _text(s.get("rerun_of"))]
    repeated = {_text(s.get("rerun_of")) for s in reruns}
    dates = {str(s.get("search_id")): _date(s.get("search_date")) for s in searches}
    return {
        "recorded": [{"source_id": k, **v} for k, v in recorded.items()],
        "reruns": dict(Counter(_text(s.get("rerun_result")) or "unstated" for s in reruns)),
        "rerun_of": sorted({str(d) for k in repeated if (d := dates.get(k)) is not None}),
        "not_as_logged": [dict(s) for s in reruns if _text(s.get("rerun_result")) != "as_logged"],
        "unrecorded": dict(Counter(_text(s.get("purpose")) or "unstated" for s in window
                                   if not per_search[str(s.get("search_id"))]
                                   and str(s.get("search_id")) not in repeated)),
    }
