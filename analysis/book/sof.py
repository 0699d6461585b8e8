"""A summary-of-findings table in the GRADE working group's format, as HTML.

One row per outcome: the outcome, the number of patients and studies, the proportion per 100
patients (pooled, one study's own, or the studies side by side), the certainty as symbols with
its word (⊕⊕◯◯ Low) and a footnote letter for each rating down, the plain-language statement,
the counts (each opening on its provenance, :mod:`analysis.book.provenance`) and, one click away,
the reviewers' full reasoning for every domain. The footnotes, one short reason each, follow the
table, lettered in order of first appearance (:func:`analysis.evidence.grade.footnote_letters`).

The proportions come from single-arm studies: with no comparator they are what happened after the
intervention, not its effect, and the table says so (:data:`NO_COMPARATOR_NOTE`) [guyatt2008].

Generic: the rows come in :class:`SofRow` objects and the domain names in a mapping; nothing
here knows an outcome.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from analysis.evidence.grade import (
    LEVELS,
    NO_EVIDENCE,
    NOT_ASSESSED,
    Downgrade,
    footnote_letters,
    symbols,
)

__all__ = ["DOMAIN_WORDS", "NO_COMPARATOR_NOTE", "RATING_WORDS", "SofRow", "certainty_html", "sof_table"]

#: The sentence above the table: a proportion from single-arm studies is not an effect.
NO_COMPARATOR_NOTE = ("No study has a comparator: each proportion is the share of patients with the outcome after the "
                      "intervention, not the intervention's effect (the outcome can also occur without it), so the "
                      "table gives no relative effect and no difference between groups.")

#: Words for GRADE's domains (the footnotes and the reasoning name them).
DOMAIN_WORDS: Mapping[str, str] = {
    "risk_of_bias": "Risk of bias",
    "inconsistency": "Inconsistency",
    "indirectness": "Indirectness",
    "imprecision": "Imprecision",
    "publication_bias": "Publication bias",
}

#: Words for the ratings of a domain.
RATING_WORDS: Mapping[str, str] = {
    "not_serious": "not serious",
    "serious": "serious: rated down one level",
    "very_serious": "very serious: rated down two levels",
}


@dataclass(frozen=True)
class SofRow:
    """One outcome of the summary of findings.

    Attributes
    ----------
    outcome : str
        The outcome in words.
    patients, studies : int
    effect : str
        The proportion per 100 patients in words ("88 per 100 (52 to 98)"), or the studies side by side.
    certainty : str
        A level of :data:`analysis.evidence.grade.LEVELS`, ``NOT_ASSESSED`` or ``NO_EVIDENCE``.
    downgrades : tuple of Downgrade
        The domains that rate it down, in GRADE's order.
    statement : str
        The plain-language statement.
    counts_html : str
        The studies' counts as HTML (each opening on its provenance); empty when none.
    judgements : tuple of (domain, rating, reason)
        Every domain judged, with the full reason (the details view).
    effect_note : str
        How the effect was obtained ("pooled", "one study, not pooled", ...).
    """

    outcome: str
    patients: int
    studies: int
    effect: str
    certainty: str
    downgrades: tuple[Downgrade, ...] = ()
    statement: str = ""
    counts_html: str = ""
    judgements: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)
    effect_note: str = ""


def certainty_html(certainty: str, levels: Sequence[str] = LEVELS) -> str:
    """The certainty as GRADE's symbols and its word: ``⊕⊕◯◯ Low``.

    The symbols are an image for assistive technology (``role="img"`` with an ``aria-label``
    naming the certainty); the word is printed beside them. An outcome not yet assessed, or
    without evidence, gets its words and no symbols.
    """
    if certainty in (NOT_ASSESSED, NO_EVIDENCE):
        return f'<span class="grade-certainty grade-none">{html.escape(certainty[:1].upper() + certainty[1:])}</span>'
    word = certainty[:1].upper() + certainty[1:]
    return (f'<span class="grade-certainty grade-{html.escape(certainty.replace(" ", "-"))}">'
            f'<span class="grade-symbols" role="img" aria-label="Certainty of the evidence: {html.escape(certainty)}">'
            f"{symbols(certainty, levels)}</span> {html.escape(word)}</span>")


def _footnote_key(d: Downgrade) -> tuple[str, str]:
    return (d.domain, d.short)


def _domain(name: str, words: Mapping[str, str]) -> str:
    return words.get(name, name.replace("_", " ").capitalize())


def _reasoning(row: SofRow, domains: Mapping[str, str], ratings: Mapping[str, str]) -> str:
    if not row.judgements:
        return ""
    items = "".join(
        f"<li><strong>{html.escape(_domain(d, domains))}</strong> ({html.escape(ratings.get(r, r.replace('_', ' ')))})"
        f": {html.escape(why)}</li>"
        for d, r, why in row.judgements
    )
    return (f'<details class="sof-reasons"><summary>Reasons in full</summary>'
            f'<ul class="sof-reasoning">{items}</ul></details>')


def sof_table(
    rows: Sequence[SofRow],
    *,
    levels: Sequence[str] = LEVELS,
    domains: Mapping[str, str] = DOMAIN_WORDS,
    ratings: Mapping[str, str] = RATING_WORDS,
    id_prefix: str = "sof-note",
    note: str = NO_COMPARATOR_NOTE,
) -> str:
    """The summary-of-findings table and its footnotes, as HTML.

    Each rating down puts a footnote letter after the certainty, linked to its footnote below the
    table; the same footnote (same domain and short reason) keeps one letter wherever it recurs.
    Every text is HTML-escaped except ``counts_html`` (made by :mod:`analysis.book.provenance`).
    ``note`` is printed above the table (default :data:`NO_COMPARATOR_NOTE`; empty for none).
    """
    letters = footnote_letters([_footnote_key(d) for row in rows for d in row.downgrades])
    head = ("<thead><tr><th scope=\"col\">Outcome</th><th scope=\"col\">Patients (studies)</th>"
            "<th scope=\"col\">Proportion with the outcome per 100 patients (95% CI or CrI)</th>"
            "<th scope=\"col\">Certainty of the evidence (GRADE)</th><th scope=\"col\">What happens</th>"
            "<th scope=\"col\">Counts (open for the source)</th></tr></thead>")
    body = []
    for row in rows:
        notes = []
        for d in row.downgrades:
            letter = letters[_footnote_key(d)]
            if letter not in notes:
                notes.append(letter)
        marks = ("<sup class=\"sof-note\">" + ",".join(
            f'<a href="#{id_prefix}-{x}" aria-label="footnote {x}">{x}</a>' for x in notes) + "</sup>") if notes else ""
        effect = html.escape(row.effect) + (f"<br><small>{html.escape(row.effect_note)}</small>" if row.effect_note else "")
        body.append(
            f"<tr><th scope=\"row\">{html.escape(row.outcome)}</th>"
            f"<td>{row.patients} ({row.studies} {'study' if row.studies == 1 else 'studies'})</td>"
            f"<td>{effect}</td>"
            f"<td>{certainty_html(row.certainty, levels)}{marks}</td>"
            f"<td>{html.escape(row.statement)}{_reasoning(row, domains, ratings)}</td>"
            f"<td>{row.counts_html}</td></tr>"
        )
    table = (f'<p class="sof-comparator">{html.escape(note)}</p>' if note else "") + (
        f'<div class="table-scroll"><table class="review-table sof-table">{head}'
        f"<tbody>{''.join(body)}</tbody></table></div>")
    if not letters:
        return table
    notes_html = "".join(
        f'<li id="{id_prefix}-{letter}"><strong>{letter}.</strong> {html.escape(_domain(domain, domains))}: '
        f"{html.escape(short)}</li>"
        for (domain, short), letter in letters.items()
    )
    return table + f'<p class="sof-footnotes-title">Explanations</p><ol class="sof-footnotes">{notes_html}</ol>'
