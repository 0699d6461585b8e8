"""De-duplication and known records of the screening record (SYNTHETIC records)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from analysis.living.screening import KnownIndex, merge_records, norm_doi, norm_pmid, norm_title
from analysis.living.searchsources import Record


def test_identifiers_are_normalised() -> None:
    assert norm_doi("https://doi.org/10.1182/BLOOD.X") == "10.1182/blood.x"
    assert norm_doi("doi: 10.1/A") == "10.1/a"
    assert norm_pmid("PMID: 00123") == "123" and norm_pmid("") == "" and norm_pmid("X1") == ""
    assert norm_title("Stem-Cell  Boost: a Séries!") == "stem cell boost a series"


def test_a_record_seen_by_two_sources_is_one_row_and_gains_identifiers() -> None:
    merge = merge_records([], [
        Record("a", title="Synthetic one"),
        Record("b", title="SYNTHETIC ONE.", doi="10.9/X"),
        Record("c", title="Other", doi="https://doi.org/10.9/x", pmid="5"),
    ], today="2030-01-01", known=KnownIndex())
    assert len(merge.rows) == 1
    row = merge.rows[0]
    assert (row["sources"], row["doi"], row["pmid"], row["title"]) == ("a;b;c", "10.9/x", "5", "Synthetic one")
    assert merge.new_by_source == {"a": 1}


def test_known_records_and_kept_decisions() -> None:
    known = KnownIndex()
    known.add("s1", pmid="9")
    rows = [{"record_id": "r0007", "pmid": "", "doi": "", "nct_id": "", "title": "Decided synthetic record",
             "sources": "a", "first_found": "2029-01-01", "decision": "exclude", "reason": "x"}]
    merge = merge_records(rows, [Record("b", title="Decided synthetic record", pmid="9"), Record("b", pmid="9"),
                                 Record("b", nct_id="nct00000009", title="New synthetic record")],
                          today="2030-01-01", known=known)
    assert merge.rows[0]["decision"] == "exclude" and merge.rows[0]["pmid"] == "9"
    assert [r["record_id"] for r in merge.rows] == ["r0007", "r0008"]
    assert merge.rows[1]["nct_id"] == "NCT00000009" and merge.rows[1]["decision"] == ""
    assert merge.known_new == 0


def test_nothing_found_changes_nothing() -> None:
    assert merge_records([], [], today="2030-01-01", known=KnownIndex()).rows == []


@given(st.lists(st.tuples(st.sampled_from(["1", "2", ""]), st.sampled_from(["10.1/a", "10.1/B", ""]),
                          st.sampled_from(["Title number one", "Title number two", "TITLE number ONE.", "[Not Available]."])), max_size=12))
def test_merging_twice_adds_no_row(items: list[tuple[str, str, str]]) -> None:
    records = [Record("s", pmid=p, doi=d, title=t) for p, d, t in items]
    once = merge_records([], records, today="2030-01-01", known=KnownIndex())
    twice = merge_records(once.rows, records, today="2030-01-02", known=KnownIndex())
    assert len(twice.rows) == len(once.rows) and twice.new == []
    assert len(once.rows) + once.unidentifiable <= len(items)


def test_placeholders_and_short_titles_identify_nothing() -> None:
    merge = merge_records([], [Record("a", title="[Not Available]."), Record("b", title="Short"),
                               Record("c", title="[Not available]", pmid="12")],
                          today="2030-01-01", known=KnownIndex())
    assert merge.unidentifiable == 2 and [r["pmid"] for r in merge.rows] == ["12"]


def test_records_of_other_methods_are_kept_apart_and_recognised() -> None:
    hand = [{"record_id": "r0001", "pmid": "", "doi": "10.1/h", "nct_id": "", "title": "Hand found",
             "sources": "hand", "first_found": "2029-01-01", "decision": "include", "reason": "x",
             "study_id": "s1"}]
    known = KnownIndex()
    known.add("s1", doi="10.1/h", title="Hand found")
    merge = merge_records(hand, [Record("db", doi="10.1/H", title="HAND FOUND!"), Record("db", title="Hand found")],
                          today="2030-01-01", known=known, other_sources=["hand"])
    assert [r["record_id"] for r in merge.rows] == ["r0001", "r0002"]
    assert merge.rows[0]["sources"] == "hand"
    assert (merge.rows[1]["decision"], merge.rows[1]["study_id"]) == ("known", "s1")
    assert merge.rows[1]["title"] == "HAND FOUND!" and merge.known_new == 1
