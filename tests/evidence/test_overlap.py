"""Judged overlap between series (data/overlap.csv) and alternative readings of counts
(data/count_alternatives.csv): their schema checks, on the SYNTHETIC fixture with the real descriptor,
and the review's own judgements against the rule of its analysis plan.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import yaml

from analysis.evidence.validate import main
from tests.evidence_helpers import ROOT, evidence_copy

OVERLAP_HEADER = "study_a,study_b,overlap,evidence,primary_keeps,swap_in,reason,judged_by,judged_on,checked_by,checked_on\n"
ALTERNATIVE_HEADER = "study_id,outcome,reading,label,events,total,reason,quote,source\n"


def errors_of(data: Path) -> list[str]:
    out, err = io.StringIO(), io.StringIO()
    assert main(data, None, out=out, err=err) == 1, out.getvalue()
    return out.getvalue().splitlines()


def passes(data: Path) -> bool:
    out, err = io.StringIO(), io.StringIO()
    return main(data, None, out=out, err=err) == 0


def overlap_row(a: str = "synthab2020", b: str = "synthcd2021", level: str = "possible", keeps: str = "synthab2020",
                swap: str = "", judged: str = "tester-a", checked: str = "") -> str:
    return (f"{a},{b},{level},SYNTHETIC: same centre and years.,{keeps},{swap},SYNTHETIC: the larger series.,"
            f"{judged},2026-02-01,{checked},\n")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return evidence_copy(tmp_path)


def write(path: Path, header: str, *rows: str) -> None:
    path.write_text(header + "".join(rows), encoding="utf-8")


def test_a_valid_judgement_passes(data: Path) -> None:
    write(data / "overlap.csv", OVERLAP_HEADER, overlap_row(),
          overlap_row(b="synthef2022", level="likely", swap="synthef2022"),
          overlap_row(a="synthcd2021", b="synthef2022", level="unlikely", keeps=""))
    assert passes(data)


def test_an_overlap_row_naming_a_missing_study(data: Path) -> None:
    write(data / "overlap.csv", OVERLAP_HEADER, overlap_row(b="synthzz2019"))
    assert errors_of(data) == [
        (f"{data}/overlap.csv:2: study_b: 'synthzz2019' is not found in studies.csv (study_id); "
        "valid: synthab2020, synthcd2021, synthef2022")
    ]


def test_the_kept_series_must_be_one_of_the_pair(data: Path) -> None:
    write(data / "overlap.csv", OVERLAP_HEADER, overlap_row(keeps="synthef2022"))
    assert errors_of(data) == [
        (f"{data}/overlap.csv:2: primary_keeps: primary_keeps must be one of the two studies of the pair "
        "(primary_keeps = 'synthef2022'; study_a = 'synthab2020'; study_b = 'synthcd2021')")
    ]


def test_a_likely_overlap_needs_the_series_swapped_in(data: Path) -> None:
    write(data / "overlap.csv", OVERLAP_HEADER, overlap_row(level="likely"))
    assert errors_of(data) == [
        (f"{data}/overlap.csv:2: swap_in: a likely overlap needs the series the primary analysis leaves out and a "
        "sensitivity analysis swaps in (swap_in)")
    ]


def test_a_possible_overlap_swaps_nothing_in(data: Path) -> None:
    write(data / "overlap.csv", OVERLAP_HEADER, overlap_row(swap="synthcd2021"))
    [line] = errors_of(data)
    assert line.startswith(f"{data}/overlap.csv:2: swap_in: only a likely overlap swaps a series in")


def test_the_swapped_series_is_not_the_kept_one(data: Path) -> None:
    write(data / "overlap.csv", OVERLAP_HEADER, overlap_row(level="likely", swap="synthab2020"))
    [line] = errors_of(data)
    assert line.startswith(f"{data}/overlap.csv:2: swap_in: the series swapped in must be the other study")


def test_a_judgement_is_checked_by_someone_else(data: Path) -> None:
    write(data / "overlap.csv", OVERLAP_HEADER, overlap_row(checked="tester-a"))
    [line] = errors_of(data)
    assert line.startswith(f"{data}/overlap.csv:2: checked_by: the judgement must be checked by someone other")


def test_an_alternative_reading_needs_a_primary_row(data: Path) -> None:
    write(data / "count_alternatives.csv", ALTERNATIVE_HEADER,
          "synthcd2021,death,one_less,SYNTHETIC reading,1,7,SYNTHETIC reason,SYNTHETIC quote,https://example.org\n")
    [line] = errors_of(data)
    assert line.startswith(f"{data}/count_alternatives.csv:2: study_id + outcome: 'synthcd2021', 'death' is not "
                           "found in outcomes.csv (study_id + outcome)"), line


def test_an_alternative_reading_with_more_events_than_patients(data: Path) -> None:
    write(data / "count_alternatives.csv", ALTERNATIVE_HEADER,
          "synthab2020,death,all_died,SYNTHETIC reading,11,10,SYNTHETIC reason,SYNTHETIC quote,https://example.org\n")
    assert errors_of(data) == [
        (f"{data}/count_alternatives.csv:2: events: more patients with the event than patients assessed "
        "(events = 11; total = 10)")
    ]


# ------------------------------------------------------------------ the review's own judgements


def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((ROOT / "data" / name).read_text(encoding="utf-8"))))


def test_the_review_applies_its_overlap_rule() -> None:
    """Each judged pair does what analysis_plan.yaml (overlap.action) says for its level."""
    plan = yaml.safe_load((ROOT / "data" / "analysis_plan.yaml").read_text(encoding="utf-8"))
    rule = plan["overlap"]
    assert set(rule["levels"]) == {"likely", "possible", "unlikely"} == set(rule["action"])
    studies = {r["study_id"]: r for r in _rows("studies.csv")}
    excluded = set((plan.get("primary_excludes") or {}).get("study_id", []))
    rows = _rows("overlap.csv")
    assert rows, "no pair judged"
    for row in rows:
        pair = {row["study_a"], row["study_b"]}
        if row["overlap"] == "unlikely":
            assert row["primary_keeps"] == row["swap_in"] == "", row
            continue
        assert row["primary_keeps"] in pair, row
        both_analysed = all(studies[s]["status"] == "included" for s in pair)
        if row["overlap"] == "likely" and both_analysed:
            # the series not kept leaves the primary analysis, as data in the plan
            assert row["swap_in"] in excluded, row


def test_the_rejeski_gagelmann_pair_is_judged() -> None:
    [row] = [r for r in _rows("overlap.csv") if {r["study_a"], r["study_b"]} == {"rejeski2022", "gagelmann2023"}]
    assert row["overlap"] == "possible" and row["primary_keeps"] == "gagelmann2023" and row["swap_in"] == ""
