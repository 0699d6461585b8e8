"""The loader: typed tables, refusal of invalid data, and SYNTHETIC IPD replacing published counts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.evidence.loading import EvidenceError, ipd_time_to_event, load_evidence, load_ipd
from tests.evidence_helpers import ROOT, SYNTHETIC_IPD, evidence_copy, set_cell


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return evidence_copy(tmp_path)


def test_tables_are_typed_from_the_schema(data: Path) -> None:
    evidence = load_evidence(data)
    studies = evidence["studies"]
    assert list(studies.columns[:3]) == ["study_id", "bibkey", "status"]
    assert str(studies["n_boosted"].dtype) == "Int64"
    assert str(studies["cd34_dose_median"].dtype) == "Float64"
    assert studies["n_boosted"].tolist() == [10, 8, pd.NA]
    assert studies["days_car_t_to_scb_median"].tolist()[:2] == [60.0, 45.5]
    # partial dates stay ISO text; full dates become timestamps
    assert studies["publication_date"].tolist() == ["2020-05-14", "2021-03", pd.NA]
    assert evidence["outcomes"]["extracted_on"].iloc[0] == pd.Timestamp("2026-01-02")
    assert str(evidence["outcomes"]["events"].dtype) == "Int64"


def test_yaml_vocabularies_are_loaded(data: Path) -> None:
    evidence = load_evidence(data)
    definitions = evidence["outcome_definitions"]
    assert definitions.loc[definitions["role"] == "primary", "id"].tolist() == [
        "boost_lineage_response"
    ]
    flow = evidence.records("search_flow")
    assert [(v["version"], str(v["search_date"])) for v in flow] == [("26.0.0", "2026-01-01")]


def test_evidence_is_immutable_from_outside(data: Path) -> None:
    evidence = load_evidence(data)
    frame = evidence["outcomes"]
    frame.loc[0, "events"] = 0
    assert evidence["outcomes"].loc[0, "events"] == 8
    with pytest.raises(AttributeError):
        evidence.data_dir = "elsewhere"  # type: ignore[misc]


def test_invalid_data_are_refused_with_every_problem(data: Path) -> None:
    set_cell(data / "outcomes.csv", 2, "events", "11")
    set_cell(data / "studies.csv", 2, "status", "maybe")
    with pytest.raises(EvidenceError) as info:
        load_evidence(data)
    assert len(info.value.problems) == 2
    assert "outcomes.csv:2: events: more patients with the event" in str(info.value)
    assert "studies.csv:2: status: 'maybe' is not one of" in str(info.value)


def test_without_ipd_the_published_rows_are_used(data: Path) -> None:
    evidence = load_evidence(data)
    assert evidence.ipd_studies == ()
    assert "ipd" not in set(evidence["outcomes"]["confidence"])


# ------------------------------------------------------------------------- SYNTHETIC IPD

# Counted by hand from tests/fixtures/ipd/synthcd2021.csv (8 SYNTHETIC patients):
# neutrophil_recovery = 1 for all but SYNTH-PT-0005 -> 7/8; platelet_recovery = 1 for patients
# 1, 2, 4, 6, 7 -> 5/8; agvhd = 1 for patients 2 and 5 -> 2/8; alive = 0 for 4 and 5 -> death 2/8.
IPD_COUNTS = {
    "neutrophil_recovery": (7, 8),
    "platelet_recovery": (5, 8),
    "agvhd": (2, 8),
    "death": (2, 8),
}


def test_ipd_is_aggregated_and_replaces_the_published_rows(tmp_path: Path) -> None:
    data = evidence_copy(tmp_path, with_ipd=True)
    evidence = load_evidence(data)
    assert evidence.ipd_studies == ("synthcd2021",)
    outcomes = evidence["outcomes"]
    study = outcomes[outcomes["study_id"] == "synthcd2021"]
    found = {r.outcome: (r.events, r.total) for r in study.itertuples()}
    assert found == IPD_COUNTS  # published 6/8 neutrophil and 1/8 aGVHD replaced; death added
    assert set(study["confidence"]) == {"ipd"}
    assert study["quote"].isna().all()
    other = outcomes[outcomes["study_id"] == "synthab2020"]
    assert {r.outcome: (r.events, r.total, r.confidence) for r in other.itertuples()} == {
        "neutrophil_recovery": (8, 10, "verified_abstract"),
        "death": (2, 10, "verified_fulltext"),
    }


def test_published_rows_for_outcomes_without_ipd_are_kept(tmp_path: Path) -> None:
    data = evidence_copy(tmp_path, with_ipd=True)
    with (data / "outcomes.csv").open("a", encoding="utf-8") as handle:
        handle.write(
            "synthcd2021,infection,3,8,any infection,day 100,verified_fulltext,,"
            '"SYNTHETIC: three patients had an infection.",https://example.org/x,synthcd2021-paper,tester-a,2026-01-03,,\n'
        )
    outcomes = load_evidence(data)["outcomes"]
    row = outcomes[(outcomes["study_id"] == "synthcd2021") & (outcomes["outcome"] == "infection")]
    assert row[["events", "total", "confidence"]].values.tolist() == [[3, 8, "verified_fulltext"]]


def test_ipd_can_be_switched_off(tmp_path: Path) -> None:
    data = evidence_copy(tmp_path, with_ipd=True)
    outcomes = load_evidence(data, ipd=False)["outcomes"]
    row = outcomes[(outcomes["study_id"] == "synthcd2021") & (outcomes["outcome"] == "agvhd")]
    assert row[["events", "total"]].values.tolist() == [[1, 8]]


def test_no_patient_level_value_leaves_the_loader(tmp_path: Path) -> None:
    data = evidence_copy(tmp_path, with_ipd=True)
    evidence = load_evidence(data)
    dump = repr(evidence) + "".join(evidence[name].to_csv() for name in evidence.names)
    for name in ("search_flow", "outcome_definitions", "outcome_mapping"):
        dump += repr(evidence.records(name))
    assert "SYNTH-PT" not in dump
    assert not any("patient_id" in evidence[name].columns for name in evidence.names)
    assert "ipd" not in evidence.names


def test_load_ipd_returns_patient_rows_explicitly(tmp_path: Path) -> None:
    data = evidence_copy(tmp_path, with_ipd=True)
    patients = load_ipd(data, "synthcd2021")
    assert patients["patient_id"].tolist() == [f"SYNTH-PT-000{i}" for i in range(1, 9)]
    assert str(patients["followup_days"].dtype) == "Int64"
    assert patients["days_to_neutrophil_recovery"].isna().sum() == 1


def test_load_ipd_refuses_an_invalid_or_absent_file(tmp_path: Path) -> None:
    data = evidence_copy(tmp_path, with_ipd=True)
    with pytest.raises(EvidenceError, match="no file for 'synthab2020'"):
        load_ipd(data, "synthab2020")
    set_cell(data / "private" / "synthcd2021.csv", 2, "alive", "yes")
    with pytest.raises(EvidenceError, match=r"synthcd2021\.csv:2: alive: expected a whole number"):
        load_ipd(data, "synthcd2021")


def test_time_to_event_declarations_follow_the_descriptor(data: Path) -> None:
    specs = {s.outcome: s for s in ipd_time_to_event(load_evidence(data).package)}
    assert specs["death"].event == "alive" and specs["death"].event_value == 0
    assert specs["neutrophil_recovery"].time == "days_to_neutrophil_recovery"
    assert specs["neutrophil_recovery"].event_value == 1


def test_the_synthetic_ipd_fixture_is_labelled() -> None:
    assert "SYNTHETIC" in (SYNTHETIC_IPD.parent.parent / "README.md").read_text()
    assert all(line.startswith("SYNTH-PT-") for line in SYNTHETIC_IPD.read_text().splitlines()[1:])


def test_no_private_file_is_tracked_by_git() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "data/private"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked == []


def test_private_folder_is_ignored_by_git() -> None:
    probe = "data/private/anystudy2025.csv"
    ignored = subprocess.run(["git", "check-ignore", "-q", probe], cwd=ROOT, check=False)
    assert ignored.returncode == 0


def test_io_modules_import_without_yaml_or_bibtexparser() -> None:
    code = (
        "import sys; sys.modules['yaml'] = None; sys.modules['bibtexparser'] = None\n"
        "import analysis, analysis.evidence.loading, analysis.evidence.validate, analysis.cli, analysis.engine.survival\n"
        "import analysis.evidence.ipd, analysis.evidence.datapackage, analysis.evidence.bibliography\n"
        "print('ok')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.stdout.strip() == "ok", proc.stderr
