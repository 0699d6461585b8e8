"""The validator on the SYNTHETIC fixture (real descriptor), broken one way at a time.

Each test breaks one thing and asserts the exact ``file:line: column: message`` line the
validator prints, the exit status, and that no traceback is shown.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.evidence.validate import main, validate
from tests.evidence_helpers import ROOT, copy_line, evidence_copy, remove_column, set_cell


def run(data: Path, bib: Path | None = None) -> tuple[int, list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(data, bib, out=out, err=err)
    return status, out.getvalue().splitlines(), err.getvalue()


def errors_of(data: Path) -> list[str]:
    status, lines, _ = run(data)
    assert status == 1, lines
    return lines


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return evidence_copy(tmp_path)


def test_valid_fixture_prints_one_summary_line(data: Path) -> None:
    status, lines, err = run(data)
    assert status == 0
    assert lines == ["data OK: 3 studies, 5 outcome rows, 3 reports, 1 awaiting data, bibliography 3 entries"]
    assert err == ""


def test_the_review_evidence_base_validates() -> None:
    report = validate(ROOT / "data")
    assert report.errors == (), "\n".join(str(p) for p in report.errors)
    assert report.summary.startswith("data OK: ")


def test_wrong_type(data: Path) -> None:
    set_cell(data / "studies.csv", 2, "n_boosted", "ten")
    assert f"{data}/studies.csv:2: n_boosted: expected a whole number, found 'ten'" in errors_of(
        data
    )


def test_decimal_in_integer_column_is_a_wrong_type(data: Path) -> None:
    set_cell(data / "outcomes.csv", 2, "events", "8.0")
    assert f"{data}/outcomes.csv:2: events: expected a whole number, found '8.0'" in errors_of(data)


def test_missing_required_value(data: Path) -> None:
    set_cell(data / "studies.csv", 3, "status", "")
    assert f"{data}/studies.csv:3: status: required value is missing" in errors_of(data)


def test_missing_required_column(data: Path) -> None:
    remove_column(data / "outcomes.csv", "extracted_by")
    assert f"{data}/outcomes.csv:1: extracted_by: column is missing" in errors_of(data)


def test_value_outside_vocabulary(data: Path) -> None:
    set_cell(data / "studies.csv", 2, "scb_source", "autologus")
    expected = (
        f"{data}/studies.csv:2: scb_source: 'autologus' is not one of: autologous, allogeneic, "
        "mixed, unknown (did you mean 'autologous'?)"
    )
    assert expected in errors_of(data)


def test_events_greater_than_total(data: Path) -> None:
    set_cell(data / "outcomes.csv", 2, "events", "11")
    expected = (
        f"{data}/outcomes.csv:2: events: more patients with the event than patients assessed "
        "(events = 11; total = 10)"
    )
    assert expected in errors_of(data)


def test_total_greater_than_n_boosted(data: Path) -> None:
    set_cell(data / "outcomes.csv", 4, "total", "9")
    expected = (
        f"{data}/outcomes.csv:4: total: more patients assessed than patients boosted in the study "
        "(total = 9; studies.n_boosted = 8)"
    )
    assert expected in errors_of(data)


def test_negative_count(data: Path) -> None:
    set_cell(data / "outcomes.csv", 3, "events", "-1")
    assert f"{data}/outcomes.csv:3: events: -1 is below the minimum 0" in errors_of(data)


def test_duplicate_study_id(data: Path) -> None:
    copy_line(data / "studies.csv", 2)
    expected = (
        f"{data}/studies.csv:5: study_id: duplicate study_id ('synthab2020'); first on line 2"
    )
    assert expected in errors_of(data)


def test_duplicate_study_outcome_row(data: Path) -> None:
    copy_line(data / "outcomes.csv", 3)
    expected = (
        f"{data}/outcomes.csv:7: study_id: duplicate study_id + outcome ('synthab2020', 'death'); "
        "first on line 3"
    )
    assert expected in errors_of(data)


def test_outcome_row_for_unknown_study(data: Path) -> None:
    set_cell(data / "outcomes.csv", 2, "study_id", "synthzz2019")
    expected = (
        f"{data}/outcomes.csv:2: study_id: 'synthzz2019' is not found in studies.csv (study_id); "
        "valid: synthab2020, synthcd2021, synthef2022"
    )
    assert expected in errors_of(data)


def test_outcome_id_not_in_vocabulary(data: Path) -> None:
    set_cell(data / "outcomes.csv", 2, "outcome", "engraftment")
    expected = f"{data}/outcomes.csv:2: outcome: 'engraftment' is not found in outcomes.yaml (id); valid: "
    assert any(line.startswith(expected) and "neutrophil_recovery" in line for line in errors_of(data))


def test_unknown_outcome_id_gets_did_you_mean_and_the_valid_ids(data: Path) -> None:
    set_cell(data / "outcomes.csv", 2, "outcome", "neutrophil_recovry")
    [line] = [x for x in errors_of(data) if ":2: outcome:" in x]
    assert "did you mean 'neutrophil_recovery'?" in line
    assert "; valid: agvhd, " in line and "neutrophil_recovery, " in line


def test_bibkey_missing_from_references(data: Path) -> None:
    set_cell(data / "studies.csv", 4, "bibkey", "synthef2022x")
    expected = (
        f"{data}/studies.csv:4: bibkey: 'synthef2022x' is not found in references.bib (key); "
        "did you mean 'synthef2022'?; valid: synthab2020, synthcd2021, synthef2022"
    )
    assert expected in errors_of(data)


def test_duplicate_bibtex_entry(data: Path) -> None:
    bib = data.parent / "references.bib"
    bib.write_text(bib.read_text() + "\n@article{synthab2020,\n  title = {SYNTHETIC again}\n}\n")
    expected = (
        f"{bib}:26: key: duplicate entry key 'synthab2020'; first on line 2 (that one is kept)"
    )
    assert expected in errors_of(data)


def test_malformed_bibtex_entry(data: Path) -> None:
    bib = data.parent / "references.bib"
    text = bib.read_text().replace(
        "title = {SYNTHETIC series two},", "title = {SYNTHETIC series two,"
    )
    bib.write_text(text)
    lines = errors_of(data)
    assert any(line.startswith(f"{bib}:10: -: malformed entry 'synthcd2021'") for line in lines), (
        lines
    )
    # root cause only: no follow-on "not found in references.bib" for the keys it hides
    assert not any("is not found in references.bib" in line for line in lines), lines
    assert lines[0].startswith(f"{bib}:10: -: malformed entry"), lines


def test_verified_row_without_quote(data: Path) -> None:
    set_cell(data / "outcomes.csv", 2, "quote", "")
    expected = f"{data}/outcomes.csv:2: quote: a count needs the exact sentence it rests on (quote)"
    assert expected in errors_of(data)


def test_derived_row_without_derivation(data: Path) -> None:
    set_cell(data / "outcomes.csv", 4, "derivation", "")
    expected = (
        f"{data}/outcomes.csv:4: derivation: a derived or IPD count needs its derivation "
        "(for example: 74% of 19 = 14 patients; the patient file's SHA-256)"
    )
    assert expected in errors_of(data)


def test_ipd_confidence_is_not_written_by_hand(data: Path) -> None:
    set_cell(data / "outcomes.csv", 2, "confidence", "ipd")
    lines = errors_of(data)
    assert any(
        line.startswith(f"{data}/outcomes.csv:2: extracted_by: rows with confidence ipd are written by "
                        "python -m analysis ipd-summary")
        for line in lines
    )


def test_checker_must_differ_from_extractor(data: Path) -> None:
    set_cell(data / "outcomes.csv", 2, "checked_by", "tester-a")
    lines = errors_of(data)
    assert any(
        line.startswith(f"{data}/outcomes.csv:2: checked_by: the second check") for line in lines
    )


def test_excluded_study_needs_a_reason(data: Path) -> None:
    set_cell(data / "studies.csv", 4, "status", "excluded")
    expected = (
        f"{data}/studies.csv:4: exclusion_reason: an excluded study needs its exclusion reason"
    )
    assert expected in errors_of(data)


def test_partial_dates_accepted_and_impossible_dates_rejected(data: Path) -> None:
    set_cell(data / "studies.csv", 2, "publication_date", "2020-02-30")
    expected = (
        f"{data}/studies.csv:2: publication_date: expected a date YYYY-MM-DD or YYYY-MM "
        "(this day does not exist), found '2020-02-30'"
    )
    assert expected in errors_of(data)


def test_screening_decision_comes_from_the_vocabulary(data: Path) -> None:
    set_cell(data / "screening.csv", 3, "decision", "maybe")
    assert any(line.startswith(f"{data}/screening.csv:3: decision:") and "maybe" in line
               for line in errors_of(data))


def test_screening_decision_needs_a_reason(data: Path) -> None:
    set_cell(data / "screening.csv", 4, "reason", "")
    assert any(line.startswith(f"{data}/screening.csv:4: reason:") for line in errors_of(data))


def test_screening_record_ids_are_unique(data: Path) -> None:
    set_cell(data / "screening.csv", 3, "record_id", "r0001")
    assert any(line.startswith(f"{data}/screening.csv:3: record_id:") for line in errors_of(data))


def test_every_problem_is_reported_at_once(data: Path) -> None:
    set_cell(data / "studies.csv", 2, "n_boosted", "ten")
    set_cell(data / "outcomes.csv", 3, "events", "-1")
    set_cell(data / "risk_of_bias.csv", 2, "judgement", "maybe")
    set_cell(data / "searches.csv", 2, "records", "many")
    lines = errors_of(data)
    assert len(lines) == 4
    assert [line.split(":")[0].rsplit("/", 1)[1] for line in lines] == [
        "outcomes.csv",
        "risk_of_bias.csv",
        "searches.csv",
        "studies.csv",
    ]


def test_missing_doi_is_a_warning_only(data: Path) -> None:
    bib = data.parent / "references.bib"
    bib.write_text(bib.read_text().replace("  doi = {10.0000/synthetic.3}\n", ""))
    status, lines, err = run(data)
    assert status == 0
    assert lines == ["data OK: 3 studies, 5 outcome rows, 3 reports, 1 awaiting data, bibliography 3 entries"]
    assert f"{bib}:18: doi: warning: no doi for 'synthef2022' (recommended)" in err.splitlines()


def test_bib_option_replaces_the_bibliography(data: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.bib"
    other.write_text(
        "@article{synthab2020, title = {SYNTHETIC}, year = {2020}, doi = {10.0000/x}}\n"
    )
    status, lines, _ = run(data, other)
    assert status == 1
    expected = f"{data}/studies.csv:3: bibkey: 'synthcd2021' is not found in other.bib (key)"
    assert any(line.startswith(expected) and line.endswith("valid: synthab2020") for line in lines)


# ------------------------------------------------------------ private patient data (SYNTHETIC)


@pytest.fixture
def ipd_data(tmp_path: Path) -> Path:
    return evidence_copy(tmp_path, with_ipd=True)


def test_ipd_file_is_counted_in_summary(ipd_data: Path) -> None:
    status, lines, _ = run(ipd_data)
    assert status == 0
    assert lines == [
        (
            "data OK: 3 studies, 5 outcome rows, 3 reports, 1 awaiting data, 1 with private patient data, "
            "bibliography 3 entries"
        )
    ]


def test_ipd_bad_binary_value(ipd_data: Path) -> None:
    set_cell(ipd_data / "private" / "synthcd2021.csv", 3, "alive", "2")
    assert (
        f"{ipd_data}/private/synthcd2021.csv:3: alive: this value is not one of: 0, 1"
        in errors_of(ipd_data)
    )


def test_ipd_missing_required_column(ipd_data: Path) -> None:
    remove_column(ipd_data / "private" / "synthcd2021.csv", "patient_id")
    assert (
        f"{ipd_data}/private/synthcd2021.csv:1: patient_id: required column is missing"
        in errors_of(ipd_data)
    )


def test_ipd_optional_column_left_out_still_needs_what_other_cells_imply(ipd_data: Path) -> None:
    """Without followup_days, a patient who died has no day of death: that row is an error."""
    remove_column(ipd_data / "private" / "synthcd2021.csv", "followup_days")
    lines = errors_of(ipd_data)
    assert f"{ipd_data}/private/synthcd2021.csv:1: followup_days: required column is missing" not in lines
    died = f"{ipd_data}/private/synthcd2021.csv:5: followup_days: a patient who died needs the day of death"
    assert any(line.startswith(died) for line in lines)
    assert not any(line.startswith(f"{ipd_data}/private/synthcd2021.csv:2:") for line in lines)


def test_ipd_extra_column_is_refused(ipd_data: Path) -> None:
    path = ipd_data / "private" / "synthcd2021.csv"
    lines = path.read_text().splitlines()
    path.write_text(
        "\n".join([lines[0] + ",initials", *(line + ",XX" for line in lines[1:])]) + "\n"
    )
    expected = (
        f"{ipd_data}/private/synthcd2021.csv:1: initials: column is not in the data package schema"
    )
    assert expected in errors_of(ipd_data)


def test_ipd_duplicate_patient_id_does_not_echo_it(ipd_data: Path) -> None:
    copy_line(ipd_data / "private" / "synthcd2021.csv", 2)
    lines = errors_of(ipd_data)
    expected = f"{ipd_data}/private/synthcd2021.csv:10: patient_id: duplicate patient_id (this value); first on line 2"
    assert expected in lines
    assert not any("SYNTH-PT" in line for line in lines)


def test_ipd_negative_days(ipd_data: Path) -> None:
    set_cell(ipd_data / "private" / "synthcd2021.csv", 4, "days_to_neutrophil_recovery", "-3")
    lines = errors_of(ipd_data)
    assert (
        f"{ipd_data}/private/synthcd2021.csv:4: days_to_neutrophil_recovery: this value is below the minimum 0"
        in lines
    )


def test_ipd_recovery_without_its_day(ipd_data: Path) -> None:
    set_cell(ipd_data / "private" / "synthcd2021.csv", 2, "days_to_neutrophil_recovery", "")
    expected = (
        f"{ipd_data}/private/synthcd2021.csv:2: days_to_neutrophil_recovery: "
        "a patient whose neutrophils recovered needs the day of recovery"
    )
    assert expected in errors_of(ipd_data)


def test_ipd_recovery_after_follow_up(ipd_data: Path) -> None:
    set_cell(ipd_data / "private" / "synthcd2021.csv", 2, "days_to_neutrophil_recovery", "500")
    lines = errors_of(ipd_data)
    found = [x for x in lines if x.startswith(f"{ipd_data}/private/synthcd2021.csv:2: days_to_neutrophil_recovery:")]
    assert found == [  # once (the descriptor had this rule twice), and never the private value
        (f"{ipd_data}/private/synthcd2021.csv:2: days_to_neutrophil_recovery: the day of neutrophil "
        "recovery is after the last follow-up (days_to_neutrophil_recovery = this value; "
        "followup_days = this value)")
    ]


def test_ipd_file_for_unknown_study(ipd_data: Path) -> None:
    private = ipd_data / "private"
    (private / "synthcd2021.csv").rename(private / "synthxx2020.csv")
    expected = f"{ipd_data}/private/synthxx2020.csv: file name gives study_id 'synthxx2020', which is not in studies"
    assert expected in errors_of(ipd_data)


# --------------------------------------------------------------------- never a traceback


def test_bad_csv_quoting(data: Path) -> None:
    path = data / "outcomes.csv"
    path.write_text(
        path.read_text().replace(
            '"SYNTHETIC: two patients died."', '"SYNTHETIC: two "patients" died."'
        )
    )
    lines = errors_of(data)
    assert any(line.startswith(f"{data}/outcomes.csv:3: -: malformed CSV:") for line in lines), (
        lines
    )


def test_row_with_too_many_cells(data: Path) -> None:
    path = data / "searches.csv"
    path.write_text(path.read_text() + "s0003,2026-01-02,db,x,identification,y,,,1,,0,z,extra\n")
    assert f"{data}/searches.csv:4: -: expected 12 cells as in the header, found 13" in errors_of(
        data
    )


def test_file_not_utf8(data: Path) -> None:
    path = data / "studies.csv"
    path.write_bytes(path.read_bytes().replace(b"Nowhere", "Nówhere".encode("latin-1"), 1))
    lines = errors_of(data)
    assert f"{data}/studies.csv:2: -: not valid UTF-8 (byte 0xf3); save the file as UTF-8" in lines


def test_missing_and_empty_files(data: Path) -> None:
    (data / "searches.csv").unlink()
    (data / "risk_of_bias.csv").write_text("")
    lines = errors_of(data)
    assert f"{data}/searches.csv: file not found" in lines
    assert f"{data}/risk_of_bias.csv:1: -: the file is empty: a header line is required" in lines


def test_invalid_yaml(data: Path) -> None:
    (data / "search_flow.yaml").write_text("versions:\n  - version: '1.0.0'\n   bad: [\n")
    lines = errors_of(data)
    assert len(lines) == 1 and lines[0].startswith(f"{data}/search_flow.yaml:3: -: invalid YAML:")


def test_broken_descriptor_is_reported_not_raised(data: Path) -> None:
    path = data / "datapackage.yaml"
    path.write_text(path.read_text().replace("type: integer", "type: integr", 1))
    lines = errors_of(data)
    assert any(": type: type 'integr' is not one of" in line for line in lines), lines


@pytest.mark.parametrize("breakage", ["quote", "yaml", "bytes"])
def test_command_line_never_shows_a_traceback(data: Path, breakage: str) -> None:
    if breakage == "quote":
        (data / "studies.csv").write_text('study_id,bibkey\n"unterminated,x\n')
    elif breakage == "yaml":
        (data / "outcomes.yaml").write_text("outcomes: [\n")
    else:
        (data / "searches.csv").write_bytes(b"\xff\xfe\x00garbage")
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", "validate", str(data)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout.strip(), proc.stderr
    assert all(line.startswith(str(data)) for line in proc.stdout.splitlines())


def test_screening_links_to_a_study(data: Path) -> None:
    set_cell(data / "screening.csv", 2, "study_id", "nosuchstudy")
    set_cell(data / "screening.csv", 3, "study_id", "")
    errors = errors_of(data)
    assert any(line.startswith(f"{data}/screening.csv:2: study_id:") and "nosuchstudy" in line for line in errors)
    assert any(line.startswith(f"{data}/screening.csv:3: study_id:") for line in errors)


def test_included_study_without_an_included_screening_record(data: Path) -> None:
    # a contribution marks a study included but its only screening record is not an inclusion
    set_cell(data / "screening.csv", 2, "decision", "not_retrieved")
    errors = errors_of(data)
    expected = (f"{data}/studies.csv:2: study_id: 'synthab2020': an included study needs at least one "
                "screening record with decision include and this study_id (screening.csv, column study_id); "
                "screening.csv has none")
    assert expected in errors, errors


def test_an_excluded_record_of_the_study_does_not_count_as_its_inclusion(data: Path) -> None:
    set_cell(data / "screening.csv", 2, "decision", "exclude")
    set_cell(data / "screening.csv", 2, "reason_code", "review_background")
    errors = errors_of(data)
    assert [e for e in errors if "studies.csv:2: study_id: 'synthab2020'" in e], errors
    assert not [e for e in errors if "synthcd2021" in e], errors


def test_an_exclusion_needs_its_reason_code(data: Path) -> None:
    set_cell(data / "screening.csv", 7, "reason_code", "")
    assert any(line.startswith(f"{data}/screening.csv:7: reason_code:") for line in errors_of(data))


def test_reason_code_outside_the_vocabulary(data: Path) -> None:
    set_cell(data / "screening.csv", 7, "reason_code", "boring")
    assert any(line.startswith(f"{data}/screening.csv:7: reason_code:") and "boring" in line
               for line in errors_of(data))


def test_a_rerun_needs_its_result(data: Path) -> None:
    path = data / "searches.csv"
    set_cell(path, 3, "rerun_of", "s0001")
    set_cell(path, 3, "rerun_result", "")
    assert any(line.startswith(f"{path}:3: rerun_result:") for line in errors_of(data))
    set_cell(path, 3, "rerun_result", "as_logged")
    assert run(data)[0] == 0


# ------------------------------------------------------------------ double extraction (SYNTHETIC)
LOG_HEADER = ("disagreement_id,table,round,study_id,outcome_or_item,domain,kind,first_value,second_value,"
              "resolution,resolved_value,reason,resolved_by,resolved_on\n")
SECOND_OUTCOMES = (
    "study_id,outcome,events,total,definition,timepoint,confidence,derivation,quote,source,extracted_by,extracted_on,"
    "round,compared_as\n"
    'synthab2020,neutrophil_recovery,{events},10,ANC > 0.5 x 10^9/L,day 28,verified_abstract,,"SYNTHETIC: neutrophils '
    'recovered in {events} of 10 patients.",https://example.org/synthab2020 (abstract),tester-b,2026-01-05,1,\n')


def second_extraction(data: Path, events: int) -> None:
    """SYNTHETIC: a second reviewer extracted synthab2020's neutrophil count as events/10; the row is marked checked."""
    (data / "second_extraction" / "outcomes.csv").write_text(SECOND_OUTCOMES.format(events=events), encoding="utf-8")
    set_cell(data / "outcomes.csv", 2, "checked_by", "tester-b")
    set_cell(data / "outcomes.csv", 2, "checked_on", "2026-01-05")


def test_a_second_extraction_that_agrees_is_valid(data: Path) -> None:
    second_extraction(data, 8)
    status, lines, err = run(data)
    assert (status, err) == (0, ""), lines


def test_a_checked_judgement_needs_its_date(data: Path) -> None:
    set_cell(data / "risk_of_bias.csv", 2, "checked_by", "tester-b")
    assert (f"{data}/risk_of_bias.csv:2: checked_on: a judgement checked by a second assessor needs the date of "
            "the second judgement (checked_on)") in errors_of(data)


def test_a_checked_count_needs_its_date(data: Path) -> None:
    second_extraction(data, 8)
    set_cell(data / "outcomes.csv", 2, "checked_on", "")
    assert (f"{data}/outcomes.csv:2: checked_on: a count checked by a second extractor needs the date of the second "
            "extraction (checked_on)") in errors_of(data)


def test_a_grade_judgement_is_checked_by_someone_else(data: Path) -> None:
    set_cell(data / "grade.csv", 2, "checked_by", "tester-a")
    set_cell(data / "grade.csv", 2, "checked_on", "2026-01-06")
    assert any(line.startswith(f"{data}/grade.csv:2: checked_by: the second judgement must be made by someone other")
               for line in errors_of(data))


def test_a_difference_without_a_log_row_names_the_second_reviewers_row(data: Path) -> None:
    second_extraction(data, 7)
    assert (f"{data}/second_extraction/outcomes.csv:2: events: synthab2020, neutrophil_recovery: the second reviewer "
            "recorded 7/10 and the first extraction has 8/10, but the disagreement log has no row for it (round 1)"
            ) in errors_of(data)


def test_a_logged_resolution_must_be_applied(data: Path) -> None:
    second_extraction(data, 7)
    (data / "extraction_disagreements.csv").write_text(
        LOG_HEADER + "x0001,outcomes,1,synthab2020,neutrophil_recovery,,disagreement,8/10,7/10,second,7/10,"
        "SYNTHETIC: the sentence says seven.,tester-c,2026-01-07\n", encoding="utf-8")
    assert (f"{data}/extraction_disagreements.csv:2: resolution: resolved as second (7/10), but the first table now "
            "has 8/10: apply the resolution or correct the log") in errors_of(data)
    set_cell(data / "outcomes.csv", 2, "events", "7")
    set_cell(data / "outcomes.csv", 2, "quote", "SYNTHETIC: neutrophils recovered in 7 of 10 patients.")
    status, lines, _ = run(data)
    assert status == 0, lines


def test_a_grade_disagreement_needs_its_domain(data: Path) -> None:
    (data / "extraction_disagreements.csv").write_text(
        LOG_HEADER + "x0001,grade,1,,neutrophil_recovery,,second_only,,serious,awaiting_data,,"
        "SYNTHETIC.,tester-c,2026-01-07\n", encoding="utf-8")
    assert f"{data}/extraction_disagreements.csv:2: domain: a GRADE judgement needs its domain" in errors_of(data)


def test_a_checked_mark_without_a_second_value_is_an_error(data: Path) -> None:
    second_extraction(data, 8)
    set_cell(data / "outcomes.csv", 3, "checked_by", "tester-b")
    set_cell(data / "outcomes.csv", 3, "checked_on", "2026-01-06")
    assert (f"{data}/outcomes.csv:3: checked_by: synthab2020, death: marked as checked, but the second extraction "
            "(second_outcomes) has no value for it") in errors_of(data)


def test_a_count_extracted_twice_but_not_marked_is_a_warning(data: Path) -> None:
    second_extraction(data, 8)
    set_cell(data / "outcomes.csv", 2, "checked_by", "")
    set_cell(data / "outcomes.csv", 2, "checked_on", "")
    status, _, err = run(data)
    assert status == 0
    assert (f"{data}/outcomes.csv:2: checked_by: warning: synthab2020, neutrophil_recovery: extracted twice "
            "(second_outcomes has it), but checked_by is empty") in err.splitlines()
def _save_as_a_spreadsheet_does(path: Path, *, bom: bool = True, crlf: bool = True) -> bytes:
    original = path.read_bytes()
    saved = original.replace(b"\n", b"\r\n") if crlf else original
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + saved)
    return original


@pytest.mark.parametrize(("bom", "crlf", "marks"), [
    (True, True, "a byte-order mark (BOM) and Windows line endings (CRLF)"),
    (True, False, "a byte-order mark (BOM)"),
    (False, True, "Windows line endings (CRLF)"),
])
def test_a_csv_saved_by_a_spreadsheet_validates_with_a_warning_naming_it(
        data: Path, bom: bool, crlf: bool, marks: str) -> None:
    _save_as_a_spreadsheet_does(data / "outcomes.csv", bom=bom, crlf=crlf)
    status, lines, err = run(data)
    assert status == 0 and lines[0].startswith("data OK: ")
    assert err.splitlines() == [
        (f"{data}/outcomes.csv:1: -: warning: saved with {marks}, as spreadsheet programs save CSV files: it "
        "reads correctly, but git shows every line as changed. Fix: python -m analysis validate "
        "--fix-line-endings (rewrites it as UTF-8 without a BOM, with LF line endings), or save it from the "
        "spreadsheet as plain CSV in UTF-8")
    ]


def test_fix_line_endings_restores_the_file_byte_for_byte(data: Path) -> None:
    original = _save_as_a_spreadsheet_does(data / "studies.csv")
    untouched = (data / "outcomes.csv").stat().st_mtime_ns
    done = subprocess.run([sys.executable, "-m", "analysis", "validate", str(data), "--fix-line-endings"],
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"rewrote {data}/studies.csv (UTF-8 without a byte-order mark, LF line endings)\n"
    assert (data / "studies.csv").read_bytes() == original
    assert (data / "outcomes.csv").stat().st_mtime_ns == untouched


def test_git_stores_csv_files_with_lf_endings(tmp_path: Path) -> None:
    """.gitattributes: a CSV saved again with CRLF endings is not a change for git."""
    import shutil

    shutil.copy(ROOT / ".gitattributes", tmp_path / ".gitattributes")
    (tmp_path / "t.csv").write_bytes(b"id,n\na,1\nb,2\n")
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.name=T", "-c", "user.email=t@example.org", "commit", "-qm", "base"]):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)
    (tmp_path / "t.csv").write_bytes(b"id,n\r\na,1\r\nb,3\r\n")
    diff = subprocess.run(["git", "-C", str(tmp_path), "diff", "--numstat"], capture_output=True, text=True,
                          check=True).stdout
    assert diff == "1\t1\tt.csv\n"  # the changed line only, not every line
