"""Tables of reports, overlapping series and alternative readings (SYNTHETIC frames)."""

from __future__ import annotations

import pandas as pd

from analysis.book.studyreports import (
    alternatives_frame,
    overlap_frame,
    reports_frame,
    sensitivity_words,
)

LABELS = {"synthab2020": "Synth A 2020", "synthcd2021": "Synth C 2021", "synthef2022": "Synth E 2022"}
STUDIES = pd.DataFrame({"study_id": ["synthab2020", "synthcd2021", "synthef2022"],
                        "status": ["included", "included", "awaiting_data"]})
REPORTS = pd.DataFrame({
    "report_id": ["synthab2020-paper", "synthab2020-news", "synthcd2021-letter"],
    "study_id": ["synthab2020", "synthab2020", "synthcd2021"],
    "kind": ["full_paper", "news_summary", "letter"],
    "citation": ["SYNTHETIC A. Paper <one>", "SYNTHETIC news", "SYNTHETIC C. Letter"],
    "doi": ["10.0000/a", None, None], "pmid": ["123", None, None], "nct_id": [None, None, "NCT01234567"],
    "url": [None, "https://example.org/news?a=1&b=2", None], "year": [2020, 2020, 2021],
    "notes": ["SYNTHETIC: abstract read", None, None],
})
OUTCOMES = pd.DataFrame({"study_id": ["synthab2020", "synthab2020", "synthcd2021"],
                         "outcome": ["death", "neutrophil_recovery", "death"],
                         "events": [2, 8, 1], "total": [10, 10, 8],
                         "report_id": ["synthab2020-news", "synthab2020-news", "synthcd2021-letter"]})


def test_each_study_lists_its_reports_and_the_counts_read_from_each() -> None:
    frame = reports_frame(STUDIES, REPORTS, OUTCOMES, labels=LABELS,
                          kinds={"full_paper": "Full paper", "news_summary": "News summary (secondary)"},
                          status_words={"included": "Included", "awaiting_data": "Awaiting data"})
    assert frame["Study"].tolist() == ["Synth A 2020", "Synth C 2021", "Synth E 2022"]
    assert frame["Number of reports"].tolist() == [2, 1, 0]
    first = frame.loc[0, "Reports"]
    assert first.count("<li>") == 2
    assert "<strong>Full paper</strong>: SYNTHETIC A. Paper &lt;one&gt;" in first  # escaped
    assert '<a href="https://doi.org/10.0000/a">doi:10.0000/a</a>' in first
    assert '<a href="https://pubmed.ncbi.nlm.nih.gov/123/">PubMed 123</a>' in first
    assert "no count is read from it" in first and "2 counts of this review are read from it" in first
    assert 'href="https://example.org/news?a=1&amp;b=2"' in first
    assert "<strong>letter</strong>" in frame.loc[1, "Reports"]  # a code without words: readable code
    assert 'href="https://clinicaltrials.gov/study/NCT01234567"' in frame.loc[1, "Reports"]
    assert "1 count of this review is read from it" in frame.loc[1, "Reports"]
    assert frame.loc[2, "Reports"] == "no report listed" and frame.loc[2, "Status"] == "Awaiting data"


def test_an_empty_reports_table_lists_no_report() -> None:
    frame = reports_frame(STUDIES, pd.DataFrame(), OUTCOMES.drop(columns="report_id"), labels=LABELS, kinds={},
                          status_words={})
    assert frame["Reports"].tolist() == ["no report listed"] * 3


def _pair(level: str, keeps: str = "synthab2020", swap: str = "") -> dict:
    return {"study_a": "synthab2020", "study_b": "synthcd2021", "overlap": level, "primary_keeps": keeps,
            "swap_in": swap}


def test_what_each_level_does_to_the_analyses() -> None:
    label = LABELS.get
    assert sensitivity_words(_pair("likely", swap="synthcd2021"), label) == (
        "keeps Synth A 2020 only", "swaps Synth A 2020 for Synth C 2021")
    assert sensitivity_words(_pair("possible", keeps="synthcd2021"), label) == (
        "keeps both", "keeps only Synth C 2021 (leaves out Synth A 2020)")
    assert sensitivity_words(_pair("unlikely", keeps=""), label) == ("keeps both", "none")


def test_overlap_rows_read_as_words() -> None:
    rows = pd.DataFrame([{**_pair("possible"), "evidence": "SYNTHETIC same centre", "reason": "SYNTHETIC larger",
                          "judged_by": "a", "judged_on": "2026-01-01", "checked_by": None, "checked_on": None}])
    frame = overlap_frame(rows, labels=LABELS, levels={"possible": "Possible"})
    assert frame.iloc[0].to_dict() == {
        "Series": "Synth A 2020 and Synth C 2021", "Overlap": "Possible", "Evidence": "SYNTHETIC same centre",
        "Primary analysis": "keeps both", "Sensitivity analysis": "keeps only Synth A 2020 (leaves out Synth C 2021)",
        "Reason": "SYNTHETIC larger", "Judged": "2026-01-01; not yet checked by a second person"}


def test_alternative_readings_stand_beside_the_primary_reading() -> None:
    alternatives = pd.DataFrame([{"study_id": "synthab2020", "outcome": "death", "reading": "one_of_ten",
                                  "label": "SYNTHETIC one death", "events": 1, "total": 10,
                                  "reason": "SYNTHETIC reason", "quote": "SYNTHETIC quote", "source": "x"}])
    frame = alternatives_frame(alternatives, OUTCOMES, labels=LABELS, outcome_labels={"death": "Death"})
    assert frame.iloc[0]["Primary reading"] == "2/10"
    assert frame.iloc[0]["Alternative reading"] == "1/10: SYNTHETIC one death"
    assert frame.iloc[0]["Outcome"] == "Death"
