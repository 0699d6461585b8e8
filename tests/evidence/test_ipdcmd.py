"""The investigators' kit: plausible SYNTHETIC patient files validate and build; ipd-template and
ipd-summary give what the public review may hold (analysis.evidence.ipdcmd)."""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analysis.book import bookkit
from analysis.evidence.datapackage import read_descriptor
from analysis.evidence.ipdcmd import dictionary_markdown, summarise_ipd, write_template
from analysis.evidence.validate import check_evidence
from tests.evidence_helpers import review_copy

ROOT = Path(__file__).resolve().parents[2]
STUDY = "molinosquintana2025"
HEADER = "patient_id,neutrophil_recovery,days_to_neutrophil_recovery,platelet_recovery,agvhd,alive,followup_days"

#: SYNTHETIC files shaped like the ones that used to fail (invented codes and values).
FILES = {
    "late death, never recovered": [
        *(f"SYNTH-{i},1,{8 + 3 * i},1,,1,{200 + i}" for i in range(1, 9)), "SYNTH-9,0,,0,,0,832"],
    "nobody recovers": [f"SYNTH-{i},0,,0,0,{i % 2},{10 * i + 8}" for i in range(1, 6)],
    "one patient": ["SYNTH-1,1,12,1,,1,30"],
    "optional outcomes not recorded": [
        "SYNTH-1,1,14,,,1,100", "SYNTH-2,0,,,1,,40", "SYNTH-3,,,1,,0,75", "SYNTH-4,1,20,,0,,"],
    "everybody recovers the same day": [f"SYNTH-{i},1,10,1,0,1,90" for i in range(1, 5)],
}


def _fix_platelet_days(line: str) -> str:
    """Add the day of platelet recovery when the SYNTHETIC row says platelets recovered."""
    cells = line.split(",")
    return ",".join([*cells[:4], "21" if cells[3] == "1" else "", *cells[4:]])


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return review_copy(tmp_path)


def _write(project: Path, lines: list[str], header: str = HEADER) -> Path:
    header = header.replace("platelet_recovery,", "platelet_recovery,days_to_platelet_recovery,")
    path = project / "data" / "private" / f"{STUDY}.csv"
    path.write_text("\n".join([header, *(_fix_platelet_days(x) for x in lines)]) + "\n", encoding="utf-8")
    return path


def _errors(project: Path) -> list[str]:
    _, problems = check_evidence(project / "data")
    return [str(p).replace(f"{project}/", "") for p in problems if p.severity == "error"]


@pytest.mark.parametrize("name", sorted(FILES))
def test_plausible_files_validate_and_the_page_shows_them(project: Path, name: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _write(project, FILES[name])
    assert _errors(project) == []
    shown: list[Any] = []
    monkeypatch.setattr(bookkit, "_display", lambda *objs: shown.extend(objs))
    monkeypatch.delenv("REVIEW_BUILD_VERSION", raising=False)
    bookkit.Review(project).show_ipd(STUDY)
    text = "\n".join(str(getattr(o, "data", o)) for o in shown)
    assert "Counts aggregated from the patient-level data" in text
    assert "SYNTH-" not in text
    assert len(list((project / "book" / "_generated").glob(f"km-{STUDY}-*.png"))) >= 1


def test_the_late_death_curve_reaches_one_and_has_no_band_there(project: Path) -> None:
    from analysis.engine.survival import kaplan_meier
    from analysis.evidence.ipd import time_to_event
    from analysis.evidence.loading import ipd_time_to_event, load_ipd

    _write(project, FILES["late death, never recovered"])
    patients = load_ipd(project / "data", STUDY)
    death = next(s for s in ipd_time_to_event(read_descriptor(project / "data" / "datapackage.yaml"))
                 if s.outcome == "death")
    km = kaplan_meier(*time_to_event(patients, death))
    assert km.survival[-1] == 0.0 and km.time[-1] == 832  # the last patient at risk dies
    assert np.isnan(km.ci_lower[-1]) and np.isnan(km.ci_upper[-1])  # undefined, as survfit's NA


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("SYNTH-1,0,,0,,1,200", None),
        ("SYNTH-1,0,14,0,,1,200",
         ("data/private/molinosquintana2025.csv:2: days_to_neutrophil_recovery: a day of neutrophil "
         "recovery is given only when neutrophil_recovery is 1")),
        ("SYNTH-1,1,240,0,,1,200",
         ("data/private/molinosquintana2025.csv:2: days_to_neutrophil_recovery: the day of neutrophil "
          "recovery is after the last follow-up (days_to_neutrophil_recovery = this value; followup_days = "
          "this value)")),
        ("SYNTH-1,0,,0,,0,",
         ("data/private/molinosquintana2025.csv:2: followup_days: a patient who died needs the day of death "
          "(followup_days)")),
        ("SYNTH-1,0,,0,,1,", None),  # alive, no recovery, follow-up not recorded: counted, off the curve
        ("SYNTH-1,,,,,1,", None),
        ("SYNTH-1,1,,1,,1,50",
         ("data/private/molinosquintana2025.csv:2: days_to_neutrophil_recovery: a patient whose neutrophils "
         "recovered needs the day of recovery")),
    ],
)
def test_consistency_checks_name_file_row_field_and_never_the_value(project: Path, line: str,
                                                                   expected: str | None) -> None:
    path = project / "data" / "private" / f"{STUDY}.csv"
    header = HEADER.replace("platelet_recovery,", "platelet_recovery,days_to_platelet_recovery,")
    cells = line.split(",")
    path.write_text(f"{header}\n{','.join([*cells[:4], '', *cells[4:]])}\n", encoding="utf-8")
    errors = _errors(project)
    if expected is None:
        assert errors == []
    else:
        assert expected in errors
        assert not any("240" in e or "SYNTH" in e for e in errors)


def test_platelet_day_without_platelet_recovery_is_refused(project: Path) -> None:
    path = project / "data" / "private" / f"{STUDY}.csv"
    path.write_text("patient_id,platelet_recovery,days_to_platelet_recovery,followup_days\n"
                    "SYNTH-1,0,33,90\n", encoding="utf-8")
    assert ("data/private/molinosquintana2025.csv:2: days_to_platelet_recovery: a day of platelet recovery "
            "is given only when platelet_recovery is 1") in _errors(project)


def test_ipd_summary_counts_equal_the_file_and_the_validator_accepts_them(project: Path) -> None:
    path = _write(project, FILES["optional outcomes not recorded"])
    out, study = project / "rows.csv", project / "study.csv"
    proc = subprocess.run([sys.executable, "-m", "analysis", "ipd-summary", STUDY, "--data-dir",
                           str(project / "data"), "--out", str(out), "--study-out", str(study)],
                          cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    got = {r["outcome"]: (int(r["events"]), int(r["total"])) for r in rows}
    # by hand from FILES["optional outcomes not recorded"]: neutrophils 1,0,-,1; platelets -,-,1,-;
    # agvhd -,1,-,0; alive 1,-,0,- (death counts 0)
    assert got == {"neutrophil_recovery": (2, 3), "platelet_recovery": (1, 1), "agvhd": (1, 2),
                   "death": (1, 2)}
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert all(r["confidence"] == "ipd" and digest in r["derivation"] and r["quote"] == "" for r in rows)
    everything = out.read_text() + study.read_text() + proc.stdout
    assert "SYNTH-" not in everything
    assert "n_boosted,4," in study.read_text()
    header = (project / "data" / "outcomes.csv").read_text(encoding="utf-8").splitlines()[0]
    assert out.read_text().splitlines()[0] == header
    with (project / "data" / "outcomes.csv").open("a", encoding="utf-8") as handle:
        handle.write("".join(out.read_text().splitlines(keepends=True)[1:]))
    assert _errors(project) == []
    path.unlink()  # the public review, without the private file, accepts the rows too
    assert _errors(project) == []


def test_ipd_summary_of_an_invalid_file_lists_problems_without_values(project: Path) -> None:
    _write(project, ["SYNTH-1,1,999,0,,1,20"])
    proc = subprocess.run([sys.executable, "-m", "analysis", "ipd-summary", STUDY, "--data-dir",
                           str(project / "data")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "days_to_neutrophil_recovery: the day of neutrophil recovery is after the last follow-up" in proc.stderr
    assert "999" not in proc.stderr and "SYNTH" not in proc.stderr


def test_ipd_summary_without_a_file_says_so(project: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "analysis", "ipd-summary", STUDY, "--data-dir",
                           str(project / "data")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "no file for 'molinosquintana2025'" in proc.stderr


def test_summary_study_fields_and_medians(project: Path) -> None:
    header = "patient_id,age_years,donor,car_t_target,cd34_dose,neutrophil_recovery,days_to_neutrophil_recovery,followup_days"
    path = project / "data" / "private" / f"{STUDY}.csv"
    path.write_text(f"{header}\nSYNTH-1,12,transplant_donor,CD19,2.0,1,10,50\n"
                    f"SYNTH-2,16,haploidentical,CD19,4.0,1,20,60\nSYNTH-3,,,CD19,9.0,0,,70\n", encoding="utf-8")
    summary = summarise_ipd(project / "data", STUDY)
    fields = {s.field: s.value for s in summary.study}
    assert fields["n_boosted"] == 3
    assert fields["age_group"] == "paediatric"  # both recorded ages under 18
    assert fields["scb_source"] == "allogeneic"
    assert fields["donor_type"] == "mixed"  # transplant donor and another (haploidentical) donor
    assert fields["car_t_target"] == "CD19"
    assert fields["cd34_dose_median"] == 4.0
    assert summary.numbers["days_to_neutrophil_recovery"] == {"median": 15.0, "min": 10.0, "max": 20.0, "n": 2}
    neutrophils = next(t for t in summary.times if t["outcome"] == "neutrophil_recovery")
    assert (neutrophils["events"], neutrophils["n"], neutrophils["median"]) == (2, 3, 20.0)


def test_template_is_the_schema_and_a_filled_template_validates(project: Path) -> None:
    csv_path, md_path = write_template(project / "data", project / "out" / "ipd.csv")
    resource = read_descriptor(project / "data" / "datapackage.yaml").resource("ipd")
    assert csv_path.read_text().strip().split(",") == list(resource.schema.names)
    dictionary = md_path.read_text()
    for field in resource.schema.fields:
        assert f"`{field.name}`" in dictionary
    assert "`patient_id` (required)" in dictionary
    assert "outcome neutrophil_recovery" in dictionary and "study field scb_source" in dictionary
    filled = io.StringIO()
    writer = csv.DictWriter(filled, fieldnames=list(resource.schema.names), lineterminator="\n")
    writer.writeheader()
    writer.writerow({"patient_id": "SYNTH-1", "neutrophil_recovery": 1, "days_to_neutrophil_recovery": 15,
                     "followup_days": 100, "alive": 1, "donor": "transplant_donor", "icaht_grade": 3})
    (project / "data" / "private" / f"{STUDY}.csv").write_text(filled.getvalue(), encoding="utf-8")
    assert _errors(project) == []


def test_template_command(project: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "analysis", "ipd-template", "--data-dir",
                           str(project / "data"), "--out", str(project / "t.csv")], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (project / "t.csv").exists() and (project / "t.md").exists()
    assert dictionary_markdown(read_descriptor(project / "data" / "datapackage.yaml").resource("ipd")) == (
        project / "t.md").read_text()


def test_the_investigators_guide_matches_the_schema_and_the_commands() -> None:
    """data/PRIVATE_DATA.md names every column, says which are required, and only real commands."""
    import re

    from analysis import cli

    guide = (ROOT / "data" / "PRIVATE_DATA.md").read_text(encoding="utf-8")
    resource = read_descriptor(ROOT / "data" / "datapackage.yaml").resource("ipd")
    for field in resource.schema.fields:
        assert f"`{field.name}`" in guide, field.name
    required = [f.name for f in resource.schema.fields if f.required]
    assert required == ["patient_id"]
    assert "Every column but `patient_id` is optional" in guide
    named = set(re.findall(r"python -m analysis ([a-z-]+)", guide))
    assert named <= {name for name, _, _ in cli.BUILTIN_COMMANDS}
    assert {"ipd-template", "ipd-summary", "validate"} <= named


def test_a_file_without_patients_is_refused(project: Path) -> None:
    path = project / "data" / "private" / f"{STUDY}.csv"
    path.write_text(HEADER + "\n", encoding="utf-8")
    assert _errors(project) == [
        "data/private/molinosquintana2025.csv:1: -: the file has 0 data rows; at least 1 row expected"]
    proc = subprocess.run([sys.executable, "-m", "analysis", "ipd-summary", STUDY, "--data-dir",
                           str(project / "data")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "0 data rows" in proc.stderr


@pytest.mark.parametrize("variant", ["crlf", "bom", "reordered columns", "blank lines at the end"])
def test_ordinary_spreadsheet_exports_validate(project: Path, variant: str) -> None:
    lines = [HEADER.replace("platelet_recovery,", "platelet_recovery,days_to_platelet_recovery,"),
             *(_fix_platelet_days(x) for x in FILES["late death, never recovered"])]
    if variant == "reordered columns":
        rows = [line.split(",") for line in lines]
        lines = [",".join(reversed(r)) for r in rows]
    text = "\n".join(lines) + "\n"
    if variant == "crlf":
        text = text.replace("\n", "\r\n")
    elif variant == "bom":
        text = "\ufeff" + text
    elif variant == "blank lines at the end":
        text += "\n\n"
    (project / "data" / "private" / f"{STUDY}.csv").write_bytes(text.encode("utf-8"))
    assert _errors(project) == []
    assert {r.outcome: r.total for r in summarise_ipd(project / "data", STUDY).outcome_rows.itertuples()}[
        "neutrophil_recovery"] == 9


def test_the_loader_completes_the_study_row_without_contradicting_it(project: Path) -> None:
    """Empty or unknown study fields are filled from the patient file (so the cohort enters the
    subgroup analyses); a value the study table states is kept."""
    from analysis.evidence.loading import load_evidence
    from tests.evidence_helpers import set_cell

    shutil.copy2(ROOT / "tests" / "fixtures" / "ipd" / "SYNTHETIC-boundaries.csv",
                 project / "data" / "private" / f"{STUDY}.csv")
    studies = project / "data" / "studies.csv"
    line = next(i for i, row in enumerate(studies.read_text(encoding="utf-8").splitlines(), start=1)
                if row.startswith(f"{STUDY},"))
    set_cell(studies, line, "cd34_selected", "no")  # stated by the study table: must stay
    row = load_evidence(project / "data")["studies"].set_index("study_id").loc[STUDY]
    assert row["car_t_target"] == "CD19"  # empty before: every patient CD19
    assert row["age_group"] == "mixed"  # "unknown" before: ages 7 to 25
    assert row["n_boosted"] == 9 and row["cd34_dose_median"] == 3.6
    assert row["cd34_selected"] == "no"
    assert row["scb_source"] == "allogeneic"


def test_ipd_summary_says_which_published_rows_to_replace(project: Path) -> None:
    """For a study that already has published rows, the report names the outcomes to replace."""
    from tests.evidence_helpers import set_cell

    _write(project, FILES["one patient"])
    outcomes = project / "data" / "outcomes.csv"
    line = len(outcomes.read_text(encoding="utf-8").splitlines())
    with outcomes.open("a", encoding="utf-8") as handle:  # a copy of the last row, given to this study
        handle.write(outcomes.read_text(encoding="utf-8").splitlines()[-1] + "\n")
    set_cell(outcomes, line + 1, "study_id", STUDY)
    set_cell(outcomes, line + 1, "outcome", "neutrophil_recovery")
    proc = subprocess.run([sys.executable, "-m", "analysis", "ipd-summary", STUDY, "--data-dir",
                           str(project / "data")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"already has rows of {STUDY} for neutrophil_recovery: replace those rows" in proc.stdout


def test_ipd_summary_gives_recovery_with_death_as_a_competing_event(project: Path) -> None:
    """Incidence by day 30 and 60 and the median, equal to R's survfit on the same SYNTHETIC file."""
    import json

    from analysis.evidence.ipdcmd import report_text

    shutil.copy2(ROOT / "tests" / "fixtures" / "ipd" / "SYNTHETIC-molinosquintana2025.csv",
                 project / "data" / "private" / f"{STUDY}.csv")
    summary = summarise_ipd(project / "data", STUDY)
    times = {t["outcome"]: t for t in summary.times}
    neutrophils = times["neutrophil_recovery"]
    assert (neutrophils["method"], neutrophils["competing_outcome"]) == ("aalen-johansen", "death")
    # by hand: recoveries on days 13, 17, 19, 23, 29, 31, 37; deaths without recovery on days 83 and 97
    assert (neutrophils["events"], neutrophils["competing"], neutrophils["n"]) == (7, 2, 10)
    assert [p["day"] for p in neutrophils["at"]] == [30.0, 60.0]
    assert [p["incidence"] for p in neutrophils["at"]] == pytest.approx([5 / 10, 7 / 10])
    assert neutrophils["median"] == 30.0  # 5/10 exactly from day 29 to the next recovery on day 31
    reference = json.loads((ROOT / "tests" / "fixtures" / "survival" / "aalen_johansen_reference.json").read_text())
    case = next(c for c in reference["cases"]
                if c["case"] == "synthetic_molinosquintana2025_neutrophil" and c["conf_type"] == "log")
    for point in neutrophils["at"]:
        step = max(i for i, t in enumerate(case["time"]) if t <= point["day"])
        assert (point["lower"], point["upper"]) == pytest.approx((case["lower"][step], case["upper"][step]),
                                                                rel=1e-12)
    assert times["death"]["method"] == "kaplan-meier"  # overall survival stays Kaplan-Meier
    text = report_text(summary)
    assert ("neutrophil_recovery: 7 events in 10 patients, 2 with death first (death as a competing event; "
            "Aalen-Johansen cumulative incidence); by day 30: 50% (95% CI 27% to 93%); by day 60: 70% "
            "(95% CI 47% to 100%); median (incidence reaching 50%) 30 days (95% CI 13 to not reached)") in text
    assert "death: 3 events in 10 patients (Kaplan-Meier); median not reached" in text
    assert "SYNTH-" not in text


def test_ipd_summary_says_when_a_day_is_beyond_follow_up(project: Path) -> None:
    _write(project, ["SYNTH-1,1,12,0,,1,20", "SYNTH-2,0,,0,,1,25"])
    summary = summarise_ipd(project / "data", STUDY)
    neutrophils = next(t for t in summary.times if t["outcome"] == "neutrophil_recovery")
    assert [p["followed"] for p in neutrophils["at"]] == [False, False]
    from analysis.evidence.ipdcmd import report_text

    assert "by day 30: not estimable (no patient observed that long)" in report_text(summary)
