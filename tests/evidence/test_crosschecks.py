"""Checks across tables (x-covers, x-quote-support) on copies of the SYNTHETIC evidence base.

Each test breaks the copy the way a contributor might and asserts the file-named message,
the exit status and, through the command line, that no traceback is printed.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.evidence.validate import main
from tests.evidence_helpers import ROOT, evidence_copy, set_cell


def errors_of(data: Path) -> list[str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(data, out=out, err=err)
    assert status == 1, out.getvalue()
    return out.getvalue().splitlines()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return evidence_copy(tmp_path)


def drop_lines(path: Path, keep: callable) -> None:  # type: ignore[valid-type]
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(line for line in lines if keep(line)) + "\n", encoding="utf-8")


def test_included_study_without_outcome_rows(data: Path) -> None:
    drop_lines(data / "outcomes.csv", lambda line: not line.startswith("synthab2020,"))
    assert errors_of(data) == [
        (f"{data}/studies.csv:2: study_id: 'synthab2020': an included study needs at least one row "
        "in outcomes.csv; outcomes.csv has none")
    ]


def test_patient_level_file_gives_an_included_study_its_outcome_rows(tmp_path: Path) -> None:
    # synthcd2021's counts come from its SYNTHETIC private file: without any published row it is covered
    data = evidence_copy(tmp_path, with_ipd=True)
    drop_lines(data / "outcomes.csv", lambda line: not line.startswith("synthcd2021,"))
    out, err = io.StringIO(), io.StringIO()
    assert main(data, out=out, err=err) == 0, out.getvalue()
    (data / "private" / "synthcd2021.csv").unlink()  # without the file the same rows are missing
    assert any("'synthcd2021': an included study needs at least one row in outcomes.csv" in line
               for line in errors_of(data))


def test_awaiting_study_needs_no_rows(data: Path) -> None:
    # synthef2022 (awaiting data) has neither outcome nor risk-of-bias rows: no problem
    out, err = io.StringIO(), io.StringIO()
    assert main(data, out=out, err=err) == 0, out.getvalue()


def test_included_study_with_nine_of_ten_items(data: Path) -> None:
    drop_lines(data / "risk_of_bias.csv", lambda line: not line.startswith("synthcd2021,jbi_case_series,Q7,"))
    [line] = errors_of(data)
    assert line.startswith(f"{data}/risk_of_bias.csv:20: item: 'synthcd2021' (studies.csv line 3): ")
    assert line.endswith("missing item Q7 (9 of 10 present)")
    assert "analysis_plan.yaml" in line


def test_included_study_without_any_risk_of_bias_row(data: Path) -> None:
    drop_lines(data / "risk_of_bias.csv", lambda line: not line.startswith("synthab2020,"))
    [line] = errors_of(data)
    assert line.startswith(f"{data}/studies.csv:2: study_id: 'synthab2020': ")
    assert "missing item Q1, Q2, Q3, Q4, Q5, Q6, Q7, Q8, Q9, Q10 (0 of 10 present)" in line
    assert line.endswith("risk_of_bias.csv has no row for it")


def test_items_come_from_the_analysis_plan(data: Path) -> None:
    plan = data / "analysis_plan.yaml"
    plan.write_text(plan.read_text().replace('    Q10: "Appropriate statistical analysis?"\n',
                                             '    Q10: "Appropriate statistical analysis?"\n    Q11: "SYNTHETIC extra item"\n'))
    lines = errors_of(data)
    assert len(lines) == 2 and all("missing item Q11 (10 of 11 present)" in x for x in lines)


def test_a_missing_plan_is_named(data: Path) -> None:
    (data / "analysis_plan.yaml").unlink()
    assert errors_of(data) == [f"{data}/analysis_plan.yaml: file not found"]


def test_a_study_turned_included_must_have_everything(data: Path) -> None:
    set_cell(data / "studies.csv", 4, "status", "included")
    set_cell(data / "studies.csv", 4, "n_boosted", "3")
    lines = errors_of(data)
    assert len(lines) == 2
    assert all(line.startswith(f"{data}/studies.csv:4: study_id: 'synthef2022': ") for line in lines)


def test_count_not_matching_its_quote(data: Path) -> None:
    set_cell(data / "outcomes.csv", 2, "events", "7")
    assert errors_of(data) == [
        (f"{data}/outcomes.csv:2: events: synthab2020, neutrophil_recovery: the count 7/10 is not "
        "supported by its quote: it does not state 7; correct the count or write the arithmetic in "
        "derivation"),
        (f"{data}/outcomes.csv:2: events: synthab2020, neutrophil_recovery: the quote says 8 of 10, "
        "the row 7/10"),
    ]


def test_percentage_impossible_for_the_denominator(data: Path) -> None:
    # SYNTHETIC: 75% of 7 patients: 5/7 = 71.4%, 6/7 = 85.7%
    set_cell(data / "outcomes.csv", 4, "total", "7")
    set_cell(data / "outcomes.csv", 4, "events", "5")
    set_cell(data / "outcomes.csv", 4, "quote", "SYNTHETIC: 75% of the patients engrafted.")
    set_cell(data / "outcomes.csv", 4, "derivation", "75% of 7 = 5.25 -> 5")
    lines = errors_of(data)
    assert (
        f"{data}/outcomes.csv:4: events: synthcd2021, neutrophil_recovery: the quote gives 75%, which "
        "no whole count of 7 patients rounds to (75%: 5/7 = 71.4%, 6/7 = 85.7%)"
    ) in lines
    assert (
        f"{data}/outcomes.csv:4: derivation: synthcd2021, neutrophil_recovery: 75% of 7: no whole "
        "count of 7 rounds to 75% (5/7 = 71.4%, 6/7 = 85.7%)"
    ) in lines


def test_derivation_arithmetic_is_checked(data: Path) -> None:
    set_cell(data / "outcomes.csv", 4, "derivation", "75% of 8 = 5 patients")
    set_cell(data / "outcomes.csv", 4, "events", "5")
    lines = errors_of(data)
    assert (
        f"{data}/outcomes.csv:4: derivation: synthcd2021, neutrophil_recovery: 75% of 8 -> 5: "
        "5/8 = 62.5%, which does not round to 75%"
    ) in lines


def test_ipd_rows_are_not_held_to_a_quote(tmp_path: Path) -> None:
    data = evidence_copy(tmp_path, with_ipd=True)
    out, err = io.StringIO(), io.StringIO()
    assert main(data, out=out, err=err) == 0, out.getvalue()


def test_unclosed_quote_gives_the_root_cause_only(data: Path) -> None:
    path = data / "studies.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(",Nowhere,", ',"Nowhere,', 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "analysis", "validate", str(data)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    printed = result.stdout.splitlines()
    assert printed[0].startswith(f"{data}/studies.csv:3: -: malformed CSV: the quoted cell opened")
    assert not any("not found in studies.csv" in line for line in printed), printed
    assert not any("outcomes.csv" in line for line in printed), printed


def test_every_fault_through_the_command_line_without_traceback(data: Path) -> None:
    set_cell(data / "outcomes.csv", 2, "events", "7")
    set_cell(data / "outcomes.csv", 3, "outcome", "deth")
    drop_lines(data / "risk_of_bias.csv", lambda line: not line.startswith("synthcd2021,jbi_case_series,Q10,"))
    result = subprocess.run(
        [sys.executable, "-m", "analysis", "validate", str(data)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "did you mean 'death'?" in result.stdout
    assert "missing item Q10 (9 of 10 present)" in result.stdout
    assert "the quote says 8 of 10, the row 7/10" in result.stdout


def test_no_doi_is_quiet_when_the_entry_says_why(data: Path) -> None:
    bib = data.parent / "references.bib"
    text = bib.read_text(encoding="utf-8")
    start = text.index("@", text.index("synthcd2021") - 20)
    entry_end = text.index("\n}", start)
    entry = text[start:entry_end]
    bare = "\n".join(line for line in entry.splitlines() if not line.strip().startswith("doi"))
    bare = bare.rstrip().rstrip(",")
    bib.write_text(text.replace(entry, bare), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(data, out=out, err=err) == 0
    assert "no doi for 'synthcd2021' (recommended)" in err.getvalue()
    bib.write_text(text.replace(entry, bare + ",\n  nodoi = {SYNTHETIC: a letter without a DOI}"),
                   encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(data, out=out, err=err) == 0
    assert err.getvalue() == "", err.getvalue()
