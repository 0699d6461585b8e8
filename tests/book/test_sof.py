"""The summary-of-findings table in GRADE's format (:mod:`analysis.book.sof`). Rows are SYNTHETIC."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from analysis.book.sof import SofRow, certainty_html, sof_table
from analysis.evidence.grade import NO_EVIDENCE, NOT_ASSESSED, Downgrade


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.attrs: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _read(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    return parser


@pytest.mark.parametrize(("level", "symbols", "word"), [
    ("high", "⊕⊕⊕⊕", "High"), ("moderate", "⊕⊕⊕◯", "Moderate"), ("low", "⊕⊕◯◯", "Low"),
    ("very low", "⊕◯◯◯", "Very low"),
])
def test_certainty_shows_symbols_the_word_and_a_text_alternative(level: str, symbols: str, word: str) -> None:
    html = certainty_html(level)
    read = _read(html)
    assert "".join(read.text).split() == [symbols, *word.split()]
    images = [a for tag, a in read.attrs if a.get("role") == "img"]
    assert len(images) == 1 and images[0]["aria-label"] == f"Certainty of the evidence: {level}"


@pytest.mark.parametrize("state", [NOT_ASSESSED, NO_EVIDENCE])
def test_no_symbols_without_a_judgement(state: str) -> None:
    html = certainty_html(state)
    assert "⊕" not in html and "◯" not in html
    assert state[1:] in html


D = Downgrade  # domain, rating, short, reason

ROWS = [
    SofRow("Outcome <one>", 48, 3, "88 per 100 (52 to 98)", "very low",
           (D("risk_of_bias", "serious", "rob short", "rob long"), D("imprecision", "very_serious", "imp A", "l"),
            D("publication_bias", "serious", "pb same", "l")),
           "The evidence is very uncertain about how often outcome <one> occurs.", "<b>counts</b>",
           (("risk_of_bias", "serious", "rob long & more"), ("inconsistency", "not_serious", "single study"))),
    SofRow("Outcome two", 12, 1, "100 per 100 (74 to 100)", "low",
           (D("imprecision", "serious", "imp B", "l"), D("publication_bias", "serious", "pb same", "l"))),
    SofRow("Outcome three", 0, 0, "No study", NO_EVIDENCE),
    SofRow("Outcome four", 5, 1, "80 per 100 (28 to 99)", NOT_ASSESSED, statement="No statement."),
]


def test_footnotes_are_lettered_in_order_unique_and_reused_for_the_same_reason() -> None:
    html = sof_table(ROWS)
    notes = re.findall(r'<li id="sof-note-([a-z]+)"><strong>\1\.</strong> ([^<]*)</li>', html)
    assert notes == [("a", "Risk of bias: rob short"), ("b", "Imprecision: imp A"), ("c", "Publication bias: pb same"),
                     ("d", "Imprecision: imp B")]
    rows = html.split("<tr>")[2:]  # after the header row
    marks = [re.findall(r'href="#sof-note-([a-z]+)"', r) for r in rows]
    assert marks == [["a", "b", "c"], ["d", "c"], [], []]
    assert sof_table(ROWS) == html  # stable


def test_every_referenced_footnote_exists_and_none_is_orphaned() -> None:
    many = [SofRow(f"O{i}", 1, 1, "x", "very low", (D("imprecision", "serious", f"reason {i}", "l"),))
            for i in range(30)]
    html = sof_table(many)
    ids = re.findall(r'<li id="sof-note-([a-z]+)">', html)
    refs = set(re.findall(r'href="#sof-note-([a-z]+)"', html))
    assert len(ids) == len(set(ids)) == 30
    assert set(ids) == refs
    assert ids[25:28] == ["z", "aa", "ab"]


def test_the_table_escapes_text_keeps_counts_and_opens_on_the_full_reasoning() -> None:
    html = sof_table(ROWS)
    assert "Outcome &lt;one&gt;" in html and "<one>" not in html
    assert "<b>counts</b>" in html  # counts are HTML made by the provenance renderer
    assert "rob long &amp; more" in html
    assert html.count('<details class="sof-reasons">') == 1  # only the row with judgements
    assert "Inconsistency</strong> (not serious): single study" in html
    assert "48 (3 studies)" in html and "12 (1 study)" in html
    assert "⊕◯◯◯</span> Very low" in html and "⊕⊕◯◯</span> Low" in html
    assert "Not yet assessed" in html and "No evidence" in html


def test_no_footnote_list_without_ratings_down() -> None:
    html = sof_table([SofRow("O", 3, 1, "x", "low")])
    assert "sof-footnotes" not in html and "sof-note" not in html


def test_the_table_says_that_a_single_arm_proportion_is_not_an_effect() -> None:
    from html import escape

    from analysis.book.sof import NO_COMPARATOR_NOTE

    html = sof_table(ROWS)
    assert html.startswith(f'<p class="sof-comparator">{escape(NO_COMPARATOR_NOTE)}</p>')
    assert "not the intervention's effect" in NO_COMPARATOR_NOTE and "without it" in NO_COMPARATOR_NOTE
    assert sof_table(ROWS, note="").startswith('<div class="table-scroll">')


def test_the_review_s_footnotes_show_indirectness_with_the_source_s_own_time_to_event_figure() -> None:
    """Where a count is crude (any time during follow-up) and its source gives a time-to-event estimate, the
    indirectness rating says so in the footnote of the summary of findings (data/grade.csv)."""
    import csv
    from pathlib import Path

    import pandas as pd

    from analysis.evidence.grade import downgrades

    root = Path(__file__).resolve().parents[2]
    with (root / "data" / "outcomes.csv").open(encoding="utf-8") as handle:
        timed = [r for r in csv.DictReader(handle) if "cumulative" in r["timepoint"]]
    assert timed, "no count has a time-to-event figure beside it"
    judged = pd.read_csv(root / "data" / "grade.csv")
    for row in timed:
        figure = row["timepoint"].split("cumulative")[1].split()[-1].rstrip(")")  # "82%"
        notes = [d for d in downgrades(judged, row["outcome"]) if d.domain == "indirectness"]
        assert notes, row["outcome"]
        assert figure in notes[0].short and f"{row['events']}/{row['total']}" in notes[0].short
