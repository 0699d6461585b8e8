"""Provenance of a count, one click from the count: a native HTML ``<details>`` element.

Wherever a page shows a study's count (``26/31``), the count is the ``<summary>`` of a
``<details>`` element that opens on the exact sentence the count rests on, where it was read
(with links), how the count was obtained (and the arithmetic when it was derived) and whether a
second person extracted it again, independently (double extraction). ``<details>`` opens with a click, a tap or the keyboard (Enter or
Space) and is announced by screen readers as a disclosure, without JavaScript; the print style
sheet (``_static/provenance.css``) prints every one open.

Generic: the column names come in a :class:`ProvenanceFields`, the words for the codes of the
``confidence`` column (``x-labels`` of the data package) and the links of the study's reference
are passed in. Every text from the data is HTML-escaped.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DOUBLE_MARK",
    "NO_QUOTE",
    "SINGLE_MARK",
    "ProvenanceFields",
    "count_details",
    "count_list",
    "is_blank",
    "linked_text",
    "reference_links",
]

#: Marker of a count only one person has extracted (its ``checked`` column is empty).
SINGLE_MARK = "†"

#: Marker of a count extracted twice, independently (its ``checked`` column is filled).
DOUBLE_MARK = "✓"

#: Shown in place of a quote when the row has none (never a blank).
NO_QUOTE = "No quote recorded."


@dataclass(frozen=True)
class ProvenanceFields:
    """Column names of a count's provenance in a row of outcome counts.

    Attributes
    ----------
    events, total : str
        The count (``events/total``).
    quote : str
        The exact sentence the count rests on.
    source : str
        Where it was read (free text; URLs and "PubMed 12345" in it become links).
    confidence : str
        How the count was obtained (a code; its words come from the data package's ``x-labels``).
    derivation : str
        The arithmetic of a derived count.
    checked : str
        Who extracted the count a second time, independently (empty: single extraction).
    extracted_on : str
        Date of extraction.
    checked_on : str
        Date of the second extraction.
    """

    events: str = "events"
    total: str = "total"
    quote: str = "quote"
    source: str = "source"
    confidence: str = "confidence"
    derivation: str = "derivation"
    checked: str = "checked_by"
    extracted_on: str = "extracted_on"
    checked_on: str = "checked_on"


def is_blank(value: Any) -> bool:
    """Whether a cell holds nothing: None, NaN, pandas' NA or only white space."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return True
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return str(value).strip() == ""


_URL = re.compile(r"https?://[^\s<>\"')]+[^\s<>\"').,;:]")
_PUBMED = re.compile(r"\b(?:PubMed|PMID)(?:\s+record)?:?\s+(\d{5,9})\b")


def linked_text(text: Any) -> str:
    """``text`` HTML-escaped, with each web address and each "PubMed 12345" made a link.

    Examples
    --------
    >>> linked_text("abstract at https://example.org/a?b=1&c=2 (PubMed 123456)")
    'abstract at <a href="https://example.org/a?b=1&amp;c=2">https://example.org/a?b=1&amp;c=2</a> (PubMed <a href="https://pubmed.ncbi.nlm.nih.gov/123456/">123456</a>)'
    """
    if is_blank(text):
        return ""
    raw = str(text)
    out, last = [], 0
    spots = sorted(
        [(m.start(), m.end(), m.group(0), m.group(0)) for m in _URL.finditer(raw)]
        + [(m.start(1), m.end(1), m.group(1), f"https://pubmed.ncbi.nlm.nih.gov/{m.group(1)}/")
           for m in _PUBMED.finditer(raw)]
    )
    for start, end, shown, href in spots:
        if start < last:  # a PubMed number inside a web address stays part of the address
            continue
        out.append(html.escape(raw[last:start]))
        out.append(f'<a href="{html.escape(href)}">{html.escape(shown)}</a>')
        last = end
    out.append(html.escape(raw[last:]))
    return "".join(out)


def reference_links(fields: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(text, address) links of a bibliography entry: its DOI, its PubMed record, its web address.

    ``fields`` are the entry's BibTeX fields (``doi``, ``pmid``, ``url``); a ``url`` that is the
    DOI's own address is not repeated.
    """
    links: list[tuple[str, str]] = []
    doi = "" if is_blank(fields.get("doi")) else str(fields["doi"]).strip()
    doi = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", "", doi, flags=re.IGNORECASE)
    if doi:
        links.append((f"doi:{doi}", f"https://doi.org/{doi}"))
    pmid = "" if is_blank(fields.get("pmid")) else str(fields["pmid"]).strip()
    if pmid:
        links.append((f"PubMed {pmid}", f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"))
    url = "" if is_blank(fields.get("url")) else str(fields["url"]).strip()
    if url and not (doi and url.lower().rstrip("/").endswith(doi.lower())):
        links.append((url, url))
    return links


def _count(row: Mapping[str, Any], f: ProvenanceFields) -> str:
    return f"{int(row[f.events])}/{int(row[f.total])}"


def count_details(
    row: Mapping[str, Any],
    fields: ProvenanceFields | None = None,
    *,
    confidence_labels: Mapping[str, str] | None = None,
    references: Sequence[tuple[str, str]] = (),
    reference_label: str = "",
) -> str:
    """A count as ``<details><summary>26/31</summary>...</details>``, opening on its provenance.

    Parameters
    ----------
    row : mapping
        One row of outcome counts (a dict or a pandas Series) holding ``fields``' columns;
        a missing column is read as empty.
    fields : ProvenanceFields, optional
        Column names. Default = ``ProvenanceFields()``.
    confidence_labels : mapping of str to str, optional
        Words for the codes of the confidence column (``x-labels``); a code without words is
        shown with its underscores as spaces.
    references : sequence of (text, address), optional
        Links to the study's reference (:func:`reference_links`).
    reference_label : str, optional
        How the study is cited ("Gagelmann 2023"), shown before the links.

    Returns
    -------
    str
        HTML. The summary is the count, followed by :data:`SINGLE_MARK` (with the words "single
        extraction" for screen readers) when no second person has extracted it again, else by
        :data:`DOUBLE_MARK` ("double-extracted"). The body holds, in
        this order: the quote (or :data:`NO_QUOTE`), the source with its links and the
        reference's links, how the count was obtained with its derivation when there is one, and
        whether it was checked by a second person. Every text from the row is HTML-escaped.
    """
    f = fields or ProvenanceFields()
    words = confidence_labels or {}

    def cell(name: str) -> Any:
        value = row.get(name) if hasattr(row, "get") else None
        return None if is_blank(value) else value

    count = _count(row, f)
    checked = cell(f.checked) is not None
    confidence = cell(f.confidence)
    code = "" if confidence is None else str(confidence)
    css = "provenance" + (f" provenance-{re.sub(r'[^a-z0-9]+', '-', code.lower())}" if code else "")
    mark = (f'<span class="double-mark" aria-hidden="true">{DOUBLE_MARK}</span>'
            '<span class="visually-hidden"> (double-extracted)</span>' if checked else
            f'<span class="single-mark" aria-hidden="true">{SINGLE_MARK}</span>'
            '<span class="visually-hidden"> (single extraction)</span>')
    quote = cell(f.quote)
    body = [
        f'<blockquote class="provenance-quote">“{html.escape(str(quote))}”</blockquote>' if quote is not None
        else f'<p class="provenance-quote provenance-missing">{NO_QUOTE}</p>'
    ]
    source = linked_text(cell(f.source))
    refs = " · ".join(f'<a href="{html.escape(href)}">{html.escape(text)}</a>' for text, href in references)
    where = "; ".join(x for x in (
        source,
        (f"reference: {html.escape(reference_label)}" + (f" ({refs})" if refs else "")) if reference_label
        else (f"reference: {refs}" if refs else ""),
    ) if x)
    body.append(f'<p class="provenance-source"><strong>Source:</strong> {where or "not recorded"}</p>')
    how = words.get(code, code.replace("_", " ")) if code else "not recorded"
    derivation = cell(f.derivation)
    body.append(f'<p class="provenance-confidence"><strong>How the count was obtained:</strong> {html.escape(how)}'
                + (f". <strong>Derivation:</strong> {html.escape(str(derivation))}" if derivation is not None else "")
                + "</p>")
    when = cell(f.extracted_on)
    on = f" on {html.escape(str(when)[:10])}" if when is not None else ""
    second = cell(f.checked_on)
    second_on = f" on {html.escape(str(second)[:10])}" if second is not None else ""
    body.append(
        f'<p class="provenance-check"><strong>Second check:</strong> {DOUBLE_MARK} double-extracted: read again '
        f"from the source by a second person{second_on}, independently, without seeing this count; any difference "
        "between the two was resolved from the source's words.</p>" if checked else
        f'<p class="provenance-check"><strong>Second check:</strong> {SINGLE_MARK} not yet: extracted by one '
        f"person{on}; double extraction is pending.</p>"
    )
    return (f'<details class="{css}"><summary>{count}{mark}</summary>'
            f'<div class="provenance-body">{"".join(body)}</div></details>')


def count_list(items: Iterable[tuple[str, str]], empty: str = "") -> str:
    """Labelled counts as one cell: ``<ul><li>Gagelmann 2023: <details>...</details></li>...</ul>``.

    ``items`` are (label, HTML of :func:`count_details`); the label is escaped.
    """
    entries = [f"<li>{html.escape(label)}: {details}</li>" for label, details in items]
    if not entries:
        return html.escape(empty)
    return f'<ul class="provenance-list">{"".join(entries)}</ul>'
