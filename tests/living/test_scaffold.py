"""``python -m analysis add-study``: scaffolding a new study from its BibTeX entry.

Runs on the SYNTHETIC fixture (tests/fixtures/evidence) with the review's real descriptor, so the
columns, titles and allowed values asserted below are read from ``data/datapackage.yaml``, never
typed here. The BibTeX entries added by these tests are SYNTHETIC (DOI prefix 10.0000).
"""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analysis.evidence.datapackage import read_descriptor
from analysis.evidence.validate import validate
from analysis.living.scaffold import ScaffoldError, add_study, bibtex_date, guidance, study_table
from tests.evidence_helpers import ROOT, evidence_copy

ENTRY = """
@article{{{key},
  author = {{Fixture, Synthetic and Tester, Other}},
  title = {{SYNTHETIC series for the scaffold tests}},
  journal = {{Journal of Tests}},
  year = {{2026}},{extra}
  doi = {{10.0000/synthetic.scaffold}}
}}
"""


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return evidence_copy(tmp_path)


def add_entry(data: Path, key: str, extra: str = "\n  month = mar,") -> None:
    bib = data.parent / "references.bib"
    bib.write_text(bib.read_text(encoding="utf-8") + ENTRY.format(key=key, extra=extra),
                   encoding="utf-8")


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "analysis", "add-study", *args], cwd=ROOT,
                          capture_output=True, text=True, check=False)


def test_appends_one_row_filled_from_the_entry(data: Path) -> None:
    add_entry(data, "synthnew2026")
    before = rows(data / "studies.csv")
    scaffold = add_study("synthnew2026", data)
    after = rows(data / "studies.csv")
    assert after[:-1] == before
    new = after[-1]
    assert {k: v for k, v in new.items() if v} == {
        "study_id": "synthnew2026", "bibkey": "synthnew2026", "publication_date": "2026-03"}
    assert scaffold.line == len(after) + 1  # header is line 1, one line per row
    assert scaffold.filled["publication_date"] == "2026-03"


def test_the_validator_then_asks_for_every_required_cell(data: Path) -> None:
    add_entry(data, "synthnew2026")
    scaffold = add_study("synthnew2026", data)
    resource = study_table(read_descriptor(data / "datapackage.yaml")).resource
    required = {f.name for f in resource.schema.fields if f.required} - set(scaffold.filled)
    errors = {(p.line, p.column) for p in validate(data).errors}
    assert required
    assert errors == {(scaffold.line, name) for name in required}


def test_filling_the_blanks_makes_the_data_valid(data: Path) -> None:
    add_entry(data, "synthnew2026")
    add_study("synthnew2026", data)
    table = rows(data / "studies.csv")
    table[-1].update(status="awaiting_data", evidence="post_car_t", design="case_series",
                     publication_type="letter", notes="SYNTHETIC: counts not readable")
    with (data / "studies.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)
    assert validate(data).ok, [str(p) for p in validate(data).errors]


def test_guidance_lists_blank_fields_with_titles_and_allowed_values(data: Path) -> None:
    add_entry(data, "synthnew2026")
    scaffold = add_study("synthnew2026", data)
    text = guidance(scaffold, data)
    resource = study_table(read_descriptor(data / "datapackage.yaml")).resource
    for spec in resource.schema.fields:
        if spec.name in scaffold.filled:
            continue
        line = next(x for x in text.splitlines() if x.strip().startswith(spec.name + " "))
        assert spec.title in line
        for value in spec.enum or ():
            assert str(value) in line
    required = text.split("Required:")[1].split("Required when")[0]
    assert {x.split()[0] for x in required.strip().splitlines()} == {
        f.name for f in resource.schema.fields if f.required and f.name not in scaffold.filled}


def test_templates_for_the_tables_that_refer_to_the_study(data: Path) -> None:
    add_entry(data, "synthnew2026")
    text = guidance(add_study("synthnew2026", data), data)
    package = read_descriptor(data / "datapackage.yaml")
    for name in ("outcomes", "risk_of_bias"):
        schema = package.resource(name).schema
        header = ",".join(schema.names)
        lines = text.splitlines()
        start = lines.index(header)
        body = []
        for line in lines[start + 1:]:
            if not line.startswith("synthnew2026,"):
                break
            body.append(next(csv.reader([line])))
        keyed = [f for f in schema.fields if f.name in schema.primary_key and f.enum]
        assert len(body) == math.prod(len(f.enum or ()) for f in keyed)
        assert all(len(r) == len(schema.names) for r in body)
    # tables declared `x-scaffold: {template: false}` (the second reviewer's record, the disagreement log) get none
    untemplated = [r for r in package.resources if (r.properties.get("x-scaffold") or {}).get("template") is False]
    assert untemplated
    for resource in untemplated:
        assert f"({resource.title or resource.name})" not in text, resource.name
        assert ",".join(resource.schema.names) not in text.splitlines(), resource.name
    # a foreign-key column lists the values of the table it refers to (the outcome vocabulary)
    vocabulary = yaml.safe_load((data / "outcomes.yaml").read_text(encoding="utf-8"))["outcomes"]
    outcome_line = next(x for x in text.splitlines() if x.startswith("# outcome "))
    assert outcome_line.endswith(
        "one of " + ", ".join(o["id"] for o in vocabulary) + " (required)")
    assert f"{data}/private/synthnew2026.csv" in text


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"year": "2024", "month": "mar"}, "2024-03"),
        ({"year": "2024", "month": "{March}"}, "2024-03"),
        ({"year": "2024", "month": "11"}, "2024-11"),
        ({"year": "2024", "month": "2"}, "2024-02"),
        ({"year": "2024", "date": "2024-02-15"}, "2024-02-15"),
        ({"year": "2024", "date": "2024-02"}, "2024-02"),
        ({"year": "2024"}, None),
        ({"year": "2024", "month": "13"}, None),
        ({"year": "2024", "month": "spring"}, None),
        ({"month": "mar"}, None),
    ],
)
def test_bibtex_date(fields: dict[str, str], expected: str | None) -> None:
    assert bibtex_date(fields) == expected


def test_year_only_leaves_the_date_empty_and_says_so(data: Path) -> None:
    add_entry(data, "synthnew2026", extra="")
    scaffold = add_study("synthnew2026", data)
    assert "publication_date" not in scaffold.filled
    assert rows(data / "studies.csv")[-1]["publication_date"] == ""
    assert any(n.startswith("publication_date left empty: the entry has no month")
               for n in scaffold.notes)


def test_biblatex_date_field_gives_the_day(data: Path) -> None:
    add_entry(data, "synthnew2026", extra="\n  date = {2026-03-17},")
    assert add_study("synthnew2026", data).filled["publication_date"] == "2026-03-17"


def test_missing_entry_is_refused_and_nothing_written(data: Path) -> None:
    before = (data / "studies.csv").read_bytes()
    with pytest.raises(ScaffoldError, match=r"no entry 'synthnone2026' in .*references\.bib; "
                       "add the study's BibTeX entry there first"):
        add_study("synthnone2026", data)
    assert (data / "studies.csv").read_bytes() == before


def test_existing_study_is_refused(data: Path) -> None:
    before = (data / "studies.csv").read_bytes()
    with pytest.raises(ScaffoldError, match=r"studies\.csv:2: study 'synthab2020' already exists"):
        add_study("synthab2020", data)
    assert (data / "studies.csv").read_bytes() == before


def test_existing_bibkey_under_another_id_is_refused(data: Path) -> None:
    with pytest.raises(ScaffoldError, match=r"studies\.csv:3: bibkey 'synthcd2021' is already "
                       "used by study 'synthcd2021'"):
        add_study("synthcd2021", data, study_id="synthzz2021")


def test_a_key_the_id_pattern_rejects_needs_study_id(data: Path) -> None:
    add_entry(data, "Synth_New-2026")
    with pytest.raises(ScaffoldError, match=r"study id 'Synth_New-2026' cannot be used: .* does "
                       "not match .*; rename the BibTeX key or pass --study-id"):
        add_study("Synth_New-2026", data)
    scaffold = add_study("Synth_New-2026", data, study_id="synthnew2026")
    assert rows(data / "studies.csv")[-1]["bibkey"] == "Synth_New-2026"
    assert scaffold.study_id == "synthnew2026"


def test_duplicate_entry_in_the_bibliography_is_refused(data: Path) -> None:
    add_entry(data, "synthnew2026")
    add_entry(data, "synthnew2026")
    with pytest.raises(ScaffoldError, match=r"duplicate entry key 'synthnew2026'.*fix the "
                       "bibliography first"):
        add_study("synthnew2026", data)


def test_file_without_final_newline_and_crlf_files(data: Path) -> None:
    add_entry(data, "synthnew2026")
    add_entry(data, "synthnex2026")
    path = data / "studies.csv"
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    add_study("synthnew2026", data)
    assert [r["study_id"] for r in rows(path)][-2:] == ["synthef2022", "synthnew2026"]
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    add_study("synthnex2026", data)
    raw = path.read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n")
    assert raw.endswith(b"synthnex2026,synthnex2026" + b"," * 21 + b"2026-03,,\r\n")


@pytest.mark.slow  # three runs of the command line, each importing every command
def test_command_line(data: Path) -> None:
    add_entry(data, "synthnew2026")
    bib = str(data.parent / "references.bib")
    done = run_cli("synthnew2026", "--data-dir", str(data), "--bib", bib)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Added study 'synthnew2026' at {data}/studies.csv:5 ")
    again = run_cli("synthnew2026", "--data-dir", str(data), "--bib", bib)
    assert again.returncode == 1
    assert again.stdout == ""
    assert again.stderr == (f"add-study: {data}/studies.csv:5: study 'synthnew2026' already "
                            "exists; edit that row instead of adding the study again\n")
    missing = run_cli("synthnone2026", "--data-dir", str(data), "--bib", bib)
    assert missing.returncode == 1
    assert len(missing.stderr.splitlines()) == 1
    assert "Traceback" not in missing.stderr + again.stderr


def test_broken_descriptor_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "datapackage.yaml").write_text("resources: [\n", encoding="utf-8")
    done = run_cli("synthnew2026", "--data-dir", str(tmp_path))
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(f"add-study: {tmp_path}/datapackage.yaml:")
    assert "Traceback" not in done.stderr


def test_descriptor_naming_an_unknown_column_is_reported(data: Path) -> None:
    add_entry(data, "synthnew2026")
    descriptor = data / "datapackage.yaml"
    text = descriptor.read_text(encoding="utf-8")
    assert "from_bibtex: {publication_date: date}" in text
    descriptor.write_text(text.replace("from_bibtex: {publication_date: date}",
                                       "from_bibtex: {published_on: date}"), encoding="utf-8")
    before = (data / "studies.csv").read_bytes()
    with pytest.raises(ScaffoldError, match="x-scaffold of studies: no column 'published_on'"):
        add_study("synthnew2026", data)
    assert (data / "studies.csv").read_bytes() == before
