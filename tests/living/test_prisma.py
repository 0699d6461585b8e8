"""PRISMA counted from the screening record (SYNTHETIC rows; the review's own data at the end)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from analysis.book.plots.flow import prisma_flow_alt_text
from analysis.living.prisma import (
    FlowError,
    check_flow,
    flow_versions,
    report_keys,
    search_runs,
    since_version,
)
from analysis.living.review import LivingReview
from tests.evidence_helpers import review_copy, set_cell

ROOT = Path(__file__).resolve().parents[2]
V1 = {"version": "1.0.0", "search_date": "2030-01-01", "trigger": "SYNTHETIC"}
V2 = {"version": "1.1.0", "search_date": "2030-06-01", "trigger": "SYNTHETIC"}
STUDIES = [{"study_id": "a", "status": "included"}, {"study_id": "b", "status": "awaiting_data"},
           {"study_id": "x", "status": "excluded", "exclusion_reason": "SYNTHETIC wrong design"}]


def _row(i: int, sources: str, decision: str, study: str = "", found: str = "2030-01-01") -> dict[str, str]:
    return {"record_id": f"r{i:04d}", "sources": sources, "decision": decision, "reason": "SYNTHETIC",
            "study_id": study, "first_found": found}


ROWS = [
    _row(1, "db;reg", "include", "a"), _row(2, "db", "include", "a"), _row(3, "db", "include", "b"),
    _row(4, "db", "not_retrieved"), _row(5, "reg", "ongoing"), _row(6, "db", "exclude"),
    _row(7, "db", "exclude_fulltext"), _row(8, "db", "include", "x"), _row(9, "db", ""),
    _row(10, "db;reg", "known", "a"),
]


def test_every_box_is_counted_from_the_rows() -> None:
    (flow,) = flow_versions([V1], ROWS, STUDIES, {"db": "Database", "reg": "Register"})
    assert flow["identified"] == [{"source": "Database", "records": 9}, {"source": "Register", "records": 3}]
    assert flow["removed_before_screening"][0]["n"] == 2 and flow["removed_before_screening"][1]["n"] == 1
    assert (flow["awaiting_screening"], flow["screened"], flow["excluded_screening"]) == (1, 8, 1)
    assert (flow["reports_sought"], flow["reports_not_retrieved"], flow["assessed"]) == (7, 1, 6)
    assert {e["reason"]: e["n"] for e in flow["excluded_fulltext"]} == {"SYNTHETIC": 1, "SYNTHETIC wrong design": 1}
    # studies, not reports: two reports of study a count once
    assert (flow["included_new"], flow["included_total"], flow["awaiting_data"], flow["ongoing"]) == (1, 1, 2, 1)
    assert check_flow(flow) == []


def test_a_later_version_counts_only_its_new_records() -> None:
    rows = [*ROWS, _row(11, "db", "include", "b", "2030-03-01"), _row(12, "db", "", "", "2030-07-01")]
    studies = [{"study_id": "a", "status": "included"}, {"study_id": "b", "status": "included"},
               {"study_id": "x", "status": "excluded"}]
    first, second = flow_versions([V2, V1], rows, studies)
    assert first["version"] == "1.0.0" and second["identified"] == [{"source": "db", "records": 1}]
    assert (second["included_new"], second["included_total"]) == (0, 2)  # b came in with 1.0.0's report
    # reports: three in 1.0.0 (r0001, r0002 of a; r0003 of b), one more in 1.1.0
    assert (first["reports_included"], second["reports_included"], second["reports_included_total"]) == (3, 1, 4)
    assert since_version(rows, "2030-06-01") == {"records": 1, "awaiting": 1, **dict.fromkeys(
        ["known", "exclude", "not_retrieved", "exclude_fulltext", "include", "awaiting_classification",
         "ongoing"], 0)}


def test_no_record_gives_zero_boxes() -> None:
    (flow,) = flow_versions([V1], [], [])
    assert flow["identified"] == [] and flow["screened"] == 0 and check_flow(flow) == []


def test_a_broken_link_is_a_clear_error() -> None:
    with pytest.raises(FlowError, match=r"r0001.*study_id"):
        flow_versions([V1], [_row(1, "db", "include", "nope")], STUDIES)
    with pytest.raises(FlowError, match="unknown decision"):
        flow_versions([V1], [_row(1, "db", "perhaps")], STUDIES)


def test_check_flow_names_the_box_that_does_not_add_up() -> None:
    (flow,) = flow_versions([V1], ROWS, STUDIES)
    flow["assessed"] += 1
    assert any(p.startswith("reports assessed is 7") for p in check_flow(flow))


def test_changing_a_screening_decision_changes_the_diagram(tmp_path: Path) -> None:
    root = review_copy(tmp_path)
    before = LivingReview(root).flow_versions[-1]
    path = root / "data" / "screening.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    line = next(i for i, r in enumerate(rows, start=2) if r["decision"] == "include"
                and r["first_found"] <= str(before["search_date"]))
    set_cell(path, line, "decision", "exclude")
    set_cell(path, line, "reason_code", "no_boost")
    after = LivingReview(root).flow_versions[-1]
    assert after["excluded_screening"] == before["excluded_screening"] + 1
    assert after["reports_sought"] == before["reports_sought"] - 1
    assert prisma_flow_alt_text(after) != prisma_flow_alt_text(before)
    assert check_flow(after) == []


def test_the_reviews_own_flow_adds_up() -> None:
    review = LivingReview(ROOT)
    for flow in review.flow_versions:
        assert check_flow(flow) == []
    assert review.flow_versions[-1]["included_total"] == len(
        {r["study_id"] for r in review.screening_rows if r["decision"] == "include"}
        & set(review.studies.loc[review.studies["status"] == "included", "study_id"]))


# --- the hit log, reasons, reports and study sets (SYNTHETIC tables) ---------------------------------

SEARCHES = [{"search_id": "s1", "search_date": "2030-01-01", "source_id": "hand"},
            {"search_id": "s2", "search_date": "2030-01-01", "source_id": "hand"},
            {"search_id": "s3", "search_date": "2030-01-01", "source_id": "proc"}]
HIT_ROWS = [
    {**_row(1, "hand;proc", "include", "a"), "doi": "10.1/a", "url": "https://x.org/a"},
    {**_row(2, "hand", "include", "a"), "url": "https://www.x.org/a-abstract"},
    {**_row(3, "proc", "exclude"), "reason_code": "no_boost"},
    {**_row(4, "hand", "exclude"), "reason_code": "no_boost"},
    {**_row(5, "hand", "exclude"), "reason_code": "review"},
    {**_row(6, "hand", "awaiting_classification"), "reason_code": "unread"},
    {**_row(7, "lead", "exclude"), "reason_code": "review"},  # named by a lead, no recorded hit
]
HITS = [{"search_id": "s1", "record_id": "r0001"}, {"search_id": "s1", "record_id": "r0004"},
        {"search_id": "s2", "record_id": "r0001"}, {"search_id": "s2", "record_id": "r0002"},
        {"search_id": "s2", "record_id": "r0005"}, {"search_id": "s2", "record_id": "r0006"},
        {"search_id": "s2", "record_id": "r0004"},
        {"search_id": "s3", "record_id": "r0001"}, {"search_id": "s3", "record_id": "r0003"}]
LABELS = {"no_boost": "No boost", "review": "Review", "unread": "Record not read"}


def _hit_flow(**kw: object) -> dict[str, object]:
    (flow,) = flow_versions([V1], HIT_ROWS, STUDIES, {"hand": "Hand search", "proc": "Proceedings"},
                            hits=HITS, searches=SEARCHES, reason_labels=LABELS, **kw)
    return flow


def test_identified_counts_every_recorded_hit_and_the_records_no_hit_points_to() -> None:
    flow = _hit_flow()
    # 7 hits of the hand searches, 2 of the proceedings; r0007 has no hit and counts for its source
    assert flow["identified"] == [{"source": "Hand search", "records": 7},
                                  {"source": "Proceedings", "records": 2}, {"source": "lead", "records": 1}]
    # 10 identified, 7 unique records: 3 duplicates (r0001 twice more, r0004 once more)
    assert flow["removed_before_screening"][0] == {"reason": "Duplicate records", "n": 3}
    assert flow["screened"] == 7 and check_flow(flow) == []


def test_exclusions_and_records_awaiting_classification_are_counted_by_reason() -> None:
    flow = _hit_flow()
    assert flow["excluded_screening"] == 4
    assert flow["excluded_screening_reasons"] == [{"reason": "No boost", "n": 2}, {"reason": "Review", "n": 2}]
    assert (flow["awaiting_classification"], flow["awaiting_classification_reasons"]) == (
        1, [{"reason": "Record not read", "n": 1}])
    assert (flow["reports_sought"], flow["assessed"], flow["records_included"]) == (3, 3, 2)


def test_a_reason_without_a_code_is_shown_in_words() -> None:
    rows = [_row(1, "db", "exclude"), {**_row(2, "db", "exclude"), "reason_code": "no_boost"}]
    (flow,) = flow_versions([V1], rows, STUDIES, reason_labels=LABELS)
    assert flow["excluded_screening_reasons"] == [{"reason": "No boost", "n": 1}, {"reason": "SYNTHETIC", "n": 1}]


def test_reports_of_included_studies_are_counted_apart_from_studies() -> None:
    # without a reports table every included record is one report: 2 reports of 1 study
    flow = _hit_flow()
    assert (flow["records_included"], flow["reports_included"], flow["included_total"]) == (2, 2, 1)
    # a reports table naming one report by the DOI of r0001 and the address of r0002 merges them
    reports = [{"report_id": "p1", "study_id": "a", "doi": "10.1/A"},
               {"report_id": "p1b", "study_id": "a", "url": "http://x.org/a-abstract/"}]
    assert _hit_flow(reports=reports)["reports_included"] == 2
    same = [{"report_id": "p1", "study_id": "a", "doi": "10.1/a", "url": "x.org/a-abstract"}]
    merged = _hit_flow(reports=same)
    assert (merged["records_included"], merged["reports_included"], merged["included_total"]) == (2, 1, 1)
    assert check_flow(merged) == []


def test_report_keys_match_by_any_identifier_and_fall_back_to_the_record() -> None:
    records = [{"record_id": "r1", "pmid": "123"}, {"record_id": "r2", "nct_id": "nct00000001"},
               {"record_id": "r3", "doi": "10.9/z"}]
    reports = [{"report_id": "p1", "pmid": "123"}, {"report_id": "p2", "nct_id": "NCT00000001"}]
    assert report_keys(records, reports) == {"r1": "report p1", "r2": "report p2", "r3": "record r3"}
    assert report_keys(records) == {"r1": "record r1", "r2": "record r2", "r3": "record r3"}


def test_included_studies_are_counted_per_study_set() -> None:
    studies = [{"study_id": "a", "status": "included", "evidence": "main"},
               {"study_id": "c", "status": "included", "evidence": "context"}]
    rows = [_row(1, "db", "include", "a"), _row(2, "db", "include", "c"), _row(3, "db", "include", "c")]
    (flow,) = flow_versions([V1], rows, studies, study_sets={"Main": {"evidence": "main"},
                                                            "Context": {"evidence": "context"}})
    assert flow["included_total"] == 2
    assert flow["included_by_set"] == [{"label": "Main", "n": 1}, {"label": "Context", "n": 1}]


def test_a_hit_of_a_search_not_in_the_log_is_a_clear_error() -> None:
    with pytest.raises(FlowError, match=r"search 's9' \(record r0001\) is not in the search log"):
        flow_versions([V1], HIT_ROWS, STUDIES, hits=[*HITS, {"search_id": "s9", "record_id": "r0001"}],
                      searches=SEARCHES)


def test_check_flow_names_exclusion_reasons_that_do_not_add_up() -> None:
    flow = _hit_flow()
    flow["excluded_screening_reasons"][0]["n"] += 1
    assert any(p.startswith("records excluded is 4, but the boxes before give 5") for p in check_flow(flow))


def test_search_runs_say_what_was_searched_and_what_a_rerun_gave() -> None:
    log = [
        {"search_id": "s1", "search_date": "2029-12-01", "source_id": "hand", "purpose": "identification"},
        {"search_id": "s2", "search_date": "2029-12-01", "source_id": "hand", "purpose": "identification"},
        {"search_id": "s3", "search_date": "2029-12-01", "source_id": "bib", "purpose": "reference_verification"},
        {"search_id": "s4", "search_date": "2030-01-01", "source_id": "hand", "purpose": "identification",
         "rerun_of": "s1", "rerun_result": "as_logged"},
        {"search_id": "s5", "search_date": "2030-01-01", "source_id": "hand", "purpose": "identification",
         "rerun_of": "s2", "rerun_result": "not_reproducible", "notes": "SYNTHETIC other collection"},
        {"search_id": "s6", "search_date": "2030-01-01", "source_id": "proc", "purpose": "identification"},
        {"search_id": "s7", "search_date": "2030-02-01", "source_id": "proc", "purpose": "identification"},
    ]
    hits = [{"search_id": "s4", "record_id": "r1"}, {"search_id": "s4", "record_id": "r2"},
            {"search_id": "s5", "record_id": "r1"}, {"search_id": "s6", "record_id": "r3"},
            {"search_id": "s7", "record_id": "r4"}]
    runs = search_runs(log, hits, until="2030-01-01")
    assert runs["recorded"] == [{"source_id": "hand", "searches": 2, "hits": 3},
                                {"source_id": "proc", "searches": 1, "hits": 1}]
    assert runs["reruns"] == {"as_logged": 1, "not_reproducible": 1}
    assert runs["rerun_of"] == ["2029-12-01"]
    assert [r["search_id"] for r in runs["not_as_logged"]] == ["s5"]
    # s1 and s2 were not recorded but were re-run; s3 was neither
    assert runs["unrecorded"] == {"reference_verification": 1}
    later = search_runs(log, hits, since="2030-01-01", until="2030-02-01")
    assert later["recorded"] == [{"source_id": "proc", "searches": 1, "hits": 1}] and later["reruns"] == {}
