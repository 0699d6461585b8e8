"""Reports of studies (data/reports.csv) and the report each count was read from.

On the SYNTHETIC fixture with the review's real descriptor: each test breaks one thing and
asserts the exact ``file:line: column: message`` line the validator prints.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from analysis.evidence.validate import main, validate
from tests.evidence_helpers import ROOT, evidence_copy, set_cell


def errors_of(data: Path) -> list[str]:
    out, err = io.StringIO(), io.StringIO()
    assert main(data, None, out=out, err=err) == 1, out.getvalue()
    return out.getvalue().splitlines()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return evidence_copy(tmp_path)


def test_a_report_of_a_missing_study(data: Path) -> None:
    set_cell(data / "reports.csv", 2, "study_id", "synthzz2019")
    assert (f"{data}/reports.csv:2: study_id: 'synthzz2019' is not found in studies.csv (study_id); "
            "valid: synthab2020, synthcd2021, synthef2022") in errors_of(data)


def test_an_outcome_naming_an_unknown_report(data: Path) -> None:
    set_cell(data / "outcomes.csv", 2, "report_id", "synthab2020-papr")
    assert (f"{data}/outcomes.csv:2: report_id: 'synthab2020-papr' is not found in reports.csv (report_id); "
            "did you mean 'synthab2020-paper'?; valid: synthab2020-abstract, synthab2020-paper, "
            "synthcd2021-paper") in errors_of(data)


def test_an_outcome_naming_a_report_of_another_study(data: Path) -> None:
    set_cell(data / "outcomes.csv", 2, "report_id", "synthcd2021-paper")
    assert errors_of(data) == [
        (f"{data}/outcomes.csv:2: report_id: the report belongs to another study in reports.csv "
        "(study_id = 'synthab2020'; reports.study_id = 'synthcd2021')")
    ]


def test_a_count_needs_its_report(data: Path) -> None:
    set_cell(data / "outcomes.csv", 2, "report_id", "")
    assert errors_of(data) == [
        (f"{data}/outcomes.csv:2: report_id: a count needs the report it was read from (report_id, a row of "
        "reports.csv)")
    ]


def test_a_report_kind_outside_the_list(data: Path) -> None:
    set_cell(data / "reports.csv", 2, "kind", "journal")
    assert errors_of(data) == [
        (f"{data}/reports.csv:2: kind: 'journal' is not one of: full_paper, letter, abstract, registry_record, "
        "news_summary, preprint")
    ]


def test_a_report_id_of_the_wrong_form(data: Path) -> None:
    set_cell(data / "reports.csv", 2, "report_id", "Paper One")
    lines = errors_of(data)
    assert any(line.startswith(f"{data}/reports.csv:2: report_id: ") and "rejeski2022-letter" in line
               for line in lines), lines


def test_every_study_of_the_review_has_a_report_and_every_count_names_one_of_its_own() -> None:
    check = validate(ROOT / "data").check
    assert check is not None
    reports = {r.values["report_id"]: r.values["study_id"] for r in check.table("reports").rows}
    studies = [r.values["study_id"] for r in check.table("studies").rows]
    assert sorted(set(reports.values())) == sorted(studies)
    for row in check.table("outcomes").rows:
        assert reports[row.values["report_id"]] == row.values["study_id"], row.values
