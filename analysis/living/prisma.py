"""The PRISMA 2020 flow of each review version, counted from the screening record.

Nothing is typed by hand: a version (``version``, ``search_date``, ``trigger``) takes the records
first found after the previous version's search and up to its own (for the first version, every
record up to its search date), and counts them box by box [page2021]:

* records identified, per source: rows whose ``sources`` name the source;
* removed before screening: duplicates (records identified minus unique records) and records of
  studies already in the review (decision ``known``);
* records screened: the unique records with a decision; records still without one are shown as
  awaiting screening;
* excluded at screening: decision ``exclude``; reports sought: the rest of the screened records;
  not retrieved: ``not_retrieved``; assessed: sought minus not retrieved;
* reports excluded after assessment: ``exclude_fulltext`` (by reason), and ``include`` rows whose
  study is excluded in the study table (by the study's exclusion reason);
* studies: the distinct studies of ``include`` rows, by their status in the study table
  (``included`` or ``awaiting_data``); a report not retrieved is a study awaiting data (its own
  study, or the record when it names none); ``ongoing`` counts registered studies without results.

:func:`check_flow` then verifies that every box adds up from the one before.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["DECISIONS", "FlowError", "check_flow", "flow_versions", "since_version"]

#: The screening decisions and what they mean for the flow.
DECISIONS = ("known", "exclude", "not_retrieved", "exclude_fulltext", "include", "ongoing")


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


def _count_version(rows: Sequence[Mapping[str, Any]], studies: Mapping[str, Mapping[str, Any]],
                   names: Mapping[str, str], previous_included: set[str]) -> tuple[dict[str, Any], set[str]]:
    by_source: Counter[str] = Counter(s for r in rows for s in _sources(r))
    order = [s for s in names if s in by_source] + sorted(s for s in by_source if s not in names)
    decision = Counter(str(r.get("decision") or "") for r in rows)
    unknown = set(decision) - {"", *DECISIONS}
    if unknown:
        raise FlowError(f"screening: unknown decision(s) {', '.join(sorted(unknown))}; "
                        f"allowed: {', '.join(DECISIONS)} or empty")
    duplicates = sum(by_source.values()) - len(rows)
    known, pending = decision["known"], decision[""]
    screened = len(rows) - known - pending
    excluded_ft: Counter[str] = Counter(str(r.get("reason") or "no reason given")
                                        for r in rows if r.get("decision") == "exclude_fulltext")
    included: set[str] = set()
    awaiting: set[str] = set()
    reports_included = 0
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
            excluded_ft[str(study.get("exclusion_reason") or "excluded")] += 1
            continue
        reports_included += 1
        (included if status == "included" else awaiting).add(sid)
    awaiting -= included
    new = included - previous_included
    flow = {
        "identified": [{"source": names.get(s, s), "records": by_source[s]} for s in order],
        "removed_before_screening": [{"reason": "Duplicate records", "n": duplicates},
                                     {"reason": "Records of studies already in the review", "n": known}],
        "duplicates_removed": duplicates + known,
        "awaiting_screening": pending,
        "screened": screened,
        "excluded_screening": decision["exclude"],
        "reports_sought": screened - decision["exclude"],
        "reports_not_retrieved": decision["not_retrieved"],
        "assessed": screened - decision["exclude"] - decision["not_retrieved"],
        "excluded_fulltext": [{"reason": k, "n": v} for k, v in sorted(excluded_ft.items())],
        "reports_included": reports_included,
        "ongoing": decision["ongoing"],
        "awaiting_data": len(awaiting),
        "included_new": len(new),
        "included_total": len(previous_included | included),
    }
    return flow, previous_included | included


def flow_versions(versions: Iterable[Mapping[str, Any]], screening: Sequence[Mapping[str, Any]],
                  studies: Iterable[Mapping[str, Any]],
                  source_names: Mapping[str, str] | None = None,
                  source_kinds: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The counted flow of every version, oldest first.

    Parameters
    ----------
    versions : iterable of mapping
        ``version``, ``search_date`` (and ``trigger``) of each review version.
    screening : sequence of mapping
        Rows of the screening record.
    studies : iterable of mapping
        Rows of the study table (``study_id``, ``status``, ``exclusion_reason``).
    source_names : mapping, optional
        Source id -> name shown in the diagram (and the order of the sources).
    source_kinds : mapping, optional
        Source id -> ``database``, ``register`` or ``other``; names the identification column
        (PRISMA 2020: "via databases and registers" or "via other methods").
    """
    names = dict(source_names or {})
    table = {str(s.get("study_id")): s for s in studies}
    ordered = sorted(versions, key=lambda v: (_date(v.get("search_date")) or dt.date.min))
    out, before, included = [], None, set()
    for v in ordered:
        until = _date(v.get("search_date"))
        rows = [r for r in screening
                if (f := _date(r.get("first_found"))) is not None
                and (before is None or f > before) and (until is None or f <= until)]
        counts, included = _count_version(rows, table, names, included)
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
    if "reports_included" in flow:
        checks.append(("reports assessed", int(flow["assessed"]),
                       excluded_ft + int(flow["reports_included"]) + int(flow.get("ongoing", 0))))
    problems = [f"{what} is {got}, but the boxes before give {want}"
                for what, got, want in checks if got != want]
    if int(flow["included_new"]) > int(flow["included_total"]):
        problems.append("more new studies than studies in total")
    if any(int(flow[k]) < 0 for k in ("screened", "reports_sought", "assessed", "duplicates_removed")):
        problems.append("a negative count")
    return problems


def since_version(screening: Sequence[Mapping[str, Any]], search_date: Any) -> dict[str, int]:
    """Records first found after a version's search, by decision (``awaiting`` = not screened yet)."""
    since = _date(search_date)
    rows = [r for r in screening if (f := _date(r.get("first_found"))) and (since is None or f > since)]
    counts = Counter(str(r.get("decision") or "awaiting") for r in rows)
    return {"records": len(rows), **{k: counts[k] for k in ("awaiting", *DECISIONS)}}
