"""PRISMA counted from the screening record (SYNTHETIC rows; the review's own data at the end)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from analysis.book.plots.flow import prisma_flow_alt_text
from analysis.living.prisma import FlowError, check_flow, flow_versions, since_version
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
