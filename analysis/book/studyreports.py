"""The reports of each study, the judged overlap between series, and alternative readings of counts, as tables.

PRISMA 2020 [page2021] counts reports and studies separately: one study (a set of patients) can be told in a
meeting abstract, a letter and a news summary. These functions take the evidence tables (``reports``,
``overlap``, ``count_alternatives`` and the outcome counts, as pandas DataFrames) and the words the data
package gives their codes, and return DataFrames of HTML cells for the studies page. Presentation only:
nothing here decides which study enters an analysis (the analysis plan's ``overlap`` rule and its sensitivity
analyses do). A missing or empty table gives an empty frame; the page then says so in words.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from analysis.book.provenance import is_blank, linked_text, reference_links

__all__ = ["alternatives_frame", "overlap_frame", "reports_frame", "sensitivity_words"]

#: Column of :func:`reports_frame` holding HTML (a list of reports).
REPORTS_COLUMN = "Reports"


def _text(value: Any) -> str:
    return "" if is_blank(value) else str(value)


def _report_item(row: Mapping[str, Any], kinds: Mapping[str, str], counts: int) -> str:
    """One report as an HTML list item: its kind, citation, links, notes and how many counts come from it."""
    kind = kinds.get(_text(row.get("kind")), _text(row.get("kind")).replace("_", " "))
    fields = {"doi": row.get("doi"), "pmid": row.get("pmid"), "url": row.get("url")}
    links = reference_links(fields)
    nct = _text(row.get("nct_id"))
    if nct:
        links.append((nct, f"https://clinicaltrials.gov/study/{nct}"))
    linked = " · ".join(f'<a href="{html.escape(href)}">{html.escape(text)}</a>' for text, href in links)
    used = ("no count is read from it" if counts == 0 else
            f"{counts} count{'s' if counts != 1 else ''} of this review {'is' if counts == 1 else 'are'} read from it")
    parts = [f"<strong>{html.escape(kind)}</strong>: {html.escape(_text(row.get('citation')))}"]
    if linked:
        parts.append(linked)
    parts.append(f"<em>{html.escape(used)}</em>")
    notes = _text(row.get("notes"))
    if notes:
        parts.append(f"<details><summary>What was read</summary>{linked_text(notes)}</details>")
    return f"<li>{'<br>'.join(parts)}</li>"


def reports_frame(
    studies: pd.DataFrame,
    reports: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    labels: Mapping[str, str],
    kinds: Mapping[str, str],
    status_words: Mapping[str, str],
) -> pd.DataFrame:
    """One row per study: its label, status and its reports (HTML list, column :data:`REPORTS_COLUMN`).

    Parameters
    ----------
    studies : DataFrame with ``study_id`` and ``status``.
    reports : DataFrame with the columns of ``reports.csv`` (may be empty).
    outcomes : DataFrame of outcome counts with ``report_id`` (counts per report).
    labels : study id -> citation label ("Rejeski 2022").
    kinds, status_words : codes -> words (the data package's ``x-labels``).
    """
    per_report = (outcomes["report_id"].value_counts().to_dict()
                  if "report_id" in outcomes.columns else {})
    rows = []
    for _, study in studies.iterrows():
        sid = str(study["study_id"])
        mine = reports.loc[reports["study_id"] == sid] if "study_id" in reports.columns else reports.iloc[0:0]
        items = [_report_item(r, kinds, int(per_report.get(r["report_id"], 0))) for _, r in mine.iterrows()]
        cell = f'<ul class="report-list">{"".join(items)}</ul>' if items else "no report listed"
        rows.append({"Study": labels.get(sid, sid),
                     "Status": status_words.get(str(study["status"]), str(study["status"])),
                     "Number of reports": len(items), REPORTS_COLUMN: cell})
    return pd.DataFrame(rows, columns=["Study", "Status", "Number of reports", REPORTS_COLUMN])


def sensitivity_words(row: Mapping[str, Any], label: Callable[[str], str]) -> tuple[str, str]:
    """(what the primary analysis does, what the sensitivity analysis does) for one judged pair.

    The rule of the analysis plan (``overlap.action``): a likely pair keeps only ``primary_keeps`` and the
    sensitivity analysis swaps in ``swap_in``; a possible pair keeps both and the sensitivity analysis keeps
    only ``primary_keeps``; an unlikely pair changes nothing.
    """
    a, b = str(row["study_a"]), str(row["study_b"])
    keeps = _text(row.get("primary_keeps"))
    other = b if keeps == a else a
    level = str(row.get("overlap"))
    if level == "likely":
        swap = _text(row.get("swap_in")) or other
        return (f"keeps {label(keeps)} only",
                f"swaps {label(keeps)} for {label(swap)}")
    if level == "possible":
        return ("keeps both", f"keeps only {label(keeps)} (leaves out {label(other)})")
    return ("keeps both", "none")


def overlap_frame(
    overlap: pd.DataFrame,
    *,
    labels: Mapping[str, str],
    levels: Mapping[str, str],
) -> pd.DataFrame:
    """One row per judged pair: the two studies, the judgement, its evidence, what the primary and the
    sensitivity analyses do, and the reason (all plain text; the page escapes it)."""
    def label(sid: str) -> str:
        return labels.get(sid, sid)

    rows = []
    for _, r in overlap.iterrows():
        primary, sensitivity = sensitivity_words(r, label)
        checked = _text(r.get("checked_by"))
        rows.append({
            "Series": f"{label(str(r['study_a']))} and {label(str(r['study_b']))}",
            "Overlap": levels.get(str(r["overlap"]), str(r["overlap"])),
            "Evidence": _text(r.get("evidence")),
            "Primary analysis": primary,
            "Sensitivity analysis": sensitivity,
            "Reason": _text(r.get("reason")),
            "Judged": f"{_text(r.get('judged_on'))}" + (f"; checked {_text(r.get('checked_on'))}" if checked
                                                       else "; not yet checked by a second person"),
        })
    columns = ["Series", "Overlap", "Evidence", "Primary analysis", "Sensitivity analysis", "Reason", "Judged"]
    return pd.DataFrame(rows, columns=columns)


def alternatives_frame(
    alternatives: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    labels: Mapping[str, str],
    outcome_labels: Mapping[str, str],
) -> pd.DataFrame:
    """Each alternative reading beside the primary reading of the same count (plain text)."""
    primary = {(str(r["study_id"]), str(r["outcome"])): f"{int(r['events'])}/{int(r['total'])}"
               for _, r in outcomes.iterrows()}
    rows = []
    for _, r in alternatives.iterrows():
        key = (str(r["study_id"]), str(r["outcome"]))
        rows.append({
            "Study": labels.get(key[0], key[0]),
            "Outcome": outcome_labels.get(key[1], key[1]),
            "Primary reading": primary.get(key, ""),
            "Alternative reading": f"{int(r['events'])}/{int(r['total'])}: {_text(r.get('label'))}",
            "Why it is defensible": _text(r.get("reason")),
            "The sentence it rests on": _text(r.get("quote")),
        })
    columns = ["Study", "Outcome", "Primary reading", "Alternative reading", "Why it is defensible",
               "The sentence it rests on"]
    return pd.DataFrame(rows, columns=columns)
