"""A patient file at the boundaries builds, shows its counts and leaks nothing (issue 16).

``tests/fixtures/ipd/SYNTHETIC-boundaries.csv`` holds 9 invented patients (codes ``SYNTHB-01`` ...
``SYNTHB-09``) with every column of the IPD schema: eight recover their neutrophils by day 36
(two on the same day), one never recovers and dies on day 832, after everybody else's last
follow-up, so the curve of death reaches 1 and its band is undefined there (the case that used to
stop the build); several optional cells are empty ("not recorded"). The book is built as in
``test_ipd_privacy.py``, with that file as the GETH-TC study's private data.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from tests.buildutil import ROOT
from tests.e2e.test_book_e2e import Built
from tests.e2e.test_ipd_privacy import (
    STUDY,
    _row_pattern,
    _table_rows,
    assert_count_row,
    build_with_private_file,
    built_files,
    leaks,
)

FIXTURE = ROOT / "tests" / "fixtures" / "ipd" / "SYNTHETIC-boundaries.csv"
#: Counted by hand from the SYNTHETIC file: outcome -> (events, patients with it recorded).
COUNTS = {
    "neutrophil_recovery": (8, 9),
    "platelet_recovery": (4, 7),
    "rbc_transfusion_independence": (5, 7),
    "platelet_transfusion_independence": (3, 6),
    "agvhd": (2, 8),
    "cgvhd": (1, 8),
    "infection": (4, 9),
    "death": (2, 9),
}


def _patients() -> list[dict[str, str]]:
    with FIXTURE.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_fixture_is_synthetic_and_matches_the_hand_counts() -> None:
    patients = _patients()
    assert all(p["patient_id"].startswith("SYNTHB-") for p in patients)
    assert FIXTURE.name in (ROOT / "tests" / "fixtures" / "README.md").read_text(encoding="utf-8")
    columns = {"death": ("alive", "0")}
    for outcome, (events, total) in COUNTS.items():
        column, value = columns.get(outcome, (outcome, "1"))
        recorded = [p[column] for p in patients if p[column] != ""]
        assert (sum(v == value for v in recorded), len(recorded)) == (events, total), outcome


@pytest.fixture(scope="module")
def boundary_build(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_with_private_file(tmp_path_factory.mktemp("ipd-boundaries"), FIXTURE)


@pytest.mark.build
def test_the_build_passes_and_the_gethtc_page_shows_the_counts(boundary_build: Built) -> None:
    assert boundary_build.returncode == 0, boundary_build.log
    section = boundary_build.page("book/gethtc").section("patient-level-analysis", "<section")
    rows = _table_rows(section)
    for outcome, (events, total) in COUNTS.items():
        assert_count_row(rows, outcome, events, total)
    for outcome in ("neutrophil_recovery", "platelet_recovery"):
        (image,) = [i for i in section.images() if f"ci-{STUDY}-{outcome}." in i["src"]]
        assert image.get("alt", "").strip(), outcome
        assert "as a competing event" in section.text, outcome
    (image,) = [i for i in section.images() if f"km-{STUDY}-death." in i["src"]]
    events, total = COUNTS["death"]
    assert f"{events} of {total} patients; median time:" in section.text
    death = next(i for i in section.images() if f"km-{STUDY}-death." in i["src"])
    assert "confidence interval undefined there" in death["alt"]  # the estimate reached 1


@pytest.mark.build
def test_the_data_page_lists_the_patient_level_columns(boundary_build: Built) -> None:
    text = boundary_build.page("book/data").text
    for column in ("patient_id", "days_car_t_to_boost", "icaht_grade", "death_cause"):
        assert column in text, column
    assert "The columns are public; the files are not" in text


@pytest.mark.build
def test_no_patient_code_or_row_in_any_built_file(boundary_build: Built) -> None:
    patterns = {"the patient-code prefix SYNTHB": re.compile(rb"synthb-", re.IGNORECASE)}
    with FIXTURE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    for row in rows[1:]:
        patterns[f"CSV line of {row[0]}"] = re.compile(re.escape(",".join(row).encode()), re.IGNORECASE)
        patterns[f"values of {row[0]}'s row without its code"] = _row_pattern(row[1:])
    files = built_files(boundary_build.root)
    assert any(p.suffix == ".html" for p in files)
    assert leaks(files, patterns) == []


def test_nothing_under_the_fixture_folder_is_real_patient_data() -> None:
    for path in (ROOT / "tests" / "fixtures" / "ipd").glob("*.csv"):
        text = Path(path).read_text(encoding="utf-8")
        codes = re.findall(r"^([^,\n]+),", text, re.MULTILINE)[1:]
        assert all(c.upper().startswith("SYNTH") for c in codes), path.name
