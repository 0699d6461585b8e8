"""A count's provenance as native HTML (:mod:`analysis.book.provenance`).

Rows are SYNTHETIC. The HTML is read back with the standard library's parser, so the tests check
what a browser (and a screen reader) gets: the count in ``<summary>``, the quote as text inside
the same ``<details>``, links with the right addresses, and nothing a quote could inject.
"""

from __future__ import annotations

import math
from html.parser import HTMLParser

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.book.provenance import (
    DOUBLE_MARK,
    NO_QUOTE,
    SINGLE_MARK,
    ProvenanceFields,
    count_details,
    count_list,
    is_blank,
    linked_text,
    reference_links,
)

LABELS = {"verified_abstract": "Read in the abstract", "secondary": "From a secondary source (news or review)",
          "derived": "Derived (computed; see derivation)"}


def _row(**kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "events": 26, "total": 31, "quote": "SYNTHETIC: 26 patients (84%) responded.", "source":
        "https://example.org/abstract (abstract)", "confidence": "verified_abstract", "derivation": None,
        "checked_by": None, "extracted_on": "2026-11-25",
    }
    row.update(kw)
    return row


class _Details(HTMLParser):
    """Each top-level <details>: its summary text, its body text, its classes and its links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[dict[str, object]] = []
        self.depth = 0
        self.in_summary = False
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "details":
            self.depth += 1
            if self.depth == 1:
                self.found.append({"summary": "", "body": "", "class": a.get("class", ""), "links": [],
                                   "tags": []})
        elif self.depth:
            self.found[-1]["tags"].append(tag)  # type: ignore[union-attr]
        if tag == "summary":
            self.in_summary = True
        if tag == "a" and self.depth:
            self.found[-1]["links"].append(a.get("href", ""))  # type: ignore[union-attr]

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            self.depth -= 1
        if tag == "summary":
            self.in_summary = False

    def handle_data(self, data: str) -> None:
        if self.depth:
            key = "summary" if self.in_summary else "body"
            self.found[-1][key] += data  # type: ignore[operator]


def _parse(text: str) -> list[dict[str, object]]:
    parser = _Details()
    parser.feed(text)
    parser.close()
    return parser.found


def test_the_count_is_the_summary_and_the_quote_the_body() -> None:
    (found,) = _parse(count_details(_row(), confidence_labels=LABELS))
    assert str(found["summary"]).startswith("26/31")
    assert "SYNTHETIC: 26 patients (84%) responded." in str(found["body"])
    assert "Read in the abstract" in str(found["body"])
    assert "https://example.org/abstract" in found["links"]  # type: ignore[operator]
    assert "provenance-verified-abstract" in str(found["class"])


@pytest.mark.parametrize("quote", ['<b>bold</b> & "quoted" \'single\'', "a < b > c", "</details><script>x</script>"])
def test_quotes_sources_and_derivations_are_escaped(quote: str) -> None:
    html = count_details(_row(quote=quote, source=f"at {quote}", derivation=f"d {quote}", confidence="derived"))
    for raw in ("<b>", "<script>", "</details><script>"):
        assert raw not in html
    assert "&lt;" in html
    assert "&amp;" in html or "&" not in quote
    (found,) = _parse(html)
    assert quote in str(found["body"])  # read back as the same text
    assert f"d {quote}" in str(found["body"])
    assert found["tags"].count("script") == 0  # type: ignore[union-attr]


@pytest.mark.parametrize("missing", [None, math.nan, pd.NA, "", "   "])
def test_a_missing_quote_says_so_and_is_never_blank(missing: object) -> None:
    html = count_details(_row(quote=missing))
    (found,) = _parse(html)
    assert NO_QUOTE in str(found["body"])
    assert "“”" not in html
    assert "<blockquote" not in html


def test_a_derived_count_shows_its_derivation() -> None:
    html = count_details(_row(confidence="derived", derivation="SYNTHETIC: 84% of 31 = 26.04 -> 26"),
                         confidence_labels=LABELS)
    (found,) = _parse(html)
    assert "Derived (computed; see derivation)" in str(found["body"])
    assert "Derivation: SYNTHETIC: 84% of 31 = 26.04 -> 26" in str(found["body"])
    assert "provenance-derived" in str(found["class"])
    without = count_details(_row(derivation=None))
    assert "Derivation" not in without


def test_a_secondary_count_is_marked_as_secondary() -> None:
    html = count_details(_row(confidence="secondary"), confidence_labels=LABELS)
    (found,) = _parse(html)
    assert "From a secondary source (news or review)" in str(found["body"])
    assert "provenance-secondary" in str(found["class"])
    # without words for the code, the code itself is shown readably
    (plain,) = _parse(count_details(_row(confidence="secondary_source")))
    assert "secondary source" in str(plain["body"])


def test_single_and_double_extraction_are_marked() -> None:
    (single,) = _parse(count_details(_row(checked_by=None)))
    assert SINGLE_MARK in str(single["summary"])
    assert "single extraction" in str(single["summary"])  # the words a screen reader reads for the mark
    assert "not yet" in str(single["body"])
    assert "2026-11-25" in str(single["body"])
    (checked,) = _parse(count_details(_row(checked_by="SYNTHETIC second person", checked_on="2026-12-01")))
    assert str(checked["summary"]) == f"26/31{DOUBLE_MARK} (double-extracted)"
    assert SINGLE_MARK not in str(checked["body"])
    assert "read again from the source by a second person on 2026-12-01, independently" in str(checked["body"])
    assert "SYNTHETIC second person" not in str(checked["body"])  # who checked stays in the data
    (undated,) = _parse(count_details(_row(checked_by="SYNTHETIC second person")))
    assert "by a second person, independently" in str(undated["body"])


def test_other_column_names_and_a_series_row() -> None:
    fields = ProvenanceFields(events="x", total="n", quote="sentence", source="where", confidence="how",
                              derivation="maths", checked="second", extracted_on="date")
    row = pd.Series({"x": 3, "n": 4, "sentence": "SYNTHETIC three of four", "where": "p. 2", "how": "derived",
                     "maths": "SYNTHETIC 3 + 0", "second": "someone", "date": "2020-01-01"})
    (found,) = _parse(count_details(row, fields))
    assert found["summary"] == f"3/4{DOUBLE_MARK} (double-extracted)"
    assert "SYNTHETIC three of four" in str(found["body"])
    assert "SYNTHETIC 3 + 0" in str(found["body"])


def test_reference_links_from_the_bibliography_entry() -> None:
    links = reference_links({"doi": "https://doi.org/10.1000/X1", "pmid": "12345678",
                             "url": "https://doi.org/10.1000/X1"})
    assert links == [("doi:10.1000/X1", "https://doi.org/10.1000/X1"),
                     ("PubMed 12345678", "https://pubmed.ncbi.nlm.nih.gov/12345678/")]
    assert reference_links({"url": "https://example.org/p"}) == [("https://example.org/p", "https://example.org/p")]
    assert reference_links({}) == []
    html = count_details(_row(), references=links, reference_label="SYNTHETIC 2020")
    (found,) = _parse(html)
    assert "https://doi.org/10.1000/X1" in found["links"]  # type: ignore[operator]
    assert "https://pubmed.ncbi.nlm.nih.gov/12345678/" in found["links"]  # type: ignore[operator]
    assert "SYNTHETIC 2020" in str(found["body"])


def test_no_source_at_all_says_not_recorded() -> None:
    (found,) = _parse(count_details(_row(source=None)))
    assert "Source: not recorded" in str(found["body"])


def test_linked_text_links_addresses_and_pubmed_numbers() -> None:
    text = "abstract at https://example.org/a?b=1&c=2, also PubMed 29205259 and PMID: 1234567."
    html = linked_text(text)
    assert '<a href="https://example.org/a?b=1&amp;c=2">' in html
    assert '<a href="https://pubmed.ncbi.nlm.nih.gov/29205259/">29205259</a>' in html
    assert '<a href="https://pubmed.ncbi.nlm.nih.gov/1234567/">1234567</a>' in html
    assert html.count("<a ") == 3
    # the trailing comma and full stop are not part of the address
    assert "c=2,</a>" not in html
    # an address ending in a PubMed path, then a number: two links, neither inside the other
    both = linked_text("https://proxy.example/pubmed.ncbi.nlm.nih.gov/PubMed 29205259")
    assert both.count("<a ") == 2 and "</a></a>" not in both
    assert linked_text(None) == ""
    assert linked_text("<i>no address</i>") == "&lt;i&gt;no address&lt;/i&gt;"


def test_count_list_labels_each_count_and_says_when_there_is_none() -> None:
    html = count_list([("Study <A>", count_details(_row())), ("Study B", count_details(_row(events=1, total=2)))])
    assert html.count("<li>") == 2
    assert "Study &lt;A&gt;" in html
    assert [d["summary"] for d in _parse(html)] == ["26/31† (single extraction)", "1/2† (single extraction)"]
    assert count_list([], empty="no count recorded") == "no count recorded"


def test_is_blank() -> None:
    assert all(is_blank(v) for v in (None, math.nan, pd.NA, "", " \t"))
    assert not any(is_blank(v) for v in (0, "0", "x", 0.0))


@settings(max_examples=200, deadline=None)
@given(quote=st.text(min_size=1).filter(lambda s: s.strip() != ""),
       events=st.integers(0, 500), extra=st.integers(0, 500))
def test_any_quote_reads_back_as_itself_inside_its_count(quote: str, events: int, extra: int) -> None:
    html = count_details(_row(quote=quote, events=events, total=events + max(extra, 1)))
    found = _parse(html)
    assert len(found) == 1
    assert str(found[0]["summary"]).startswith(f"{events}/{events + max(extra, 1)}")
    body = str(found[0]["body"])
    # HTML parsers normalise carriage returns; compare the text as a browser would show it
    assert quote.replace("\r\n", "\n").replace("\r", "\n") in body.replace("\r\n", "\n").replace("\r", "\n")
    assert found[0]["tags"].count("details") == 0  # type: ignore[union-attr]
