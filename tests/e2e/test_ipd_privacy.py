"""Private individual patient data (IPD) never leave data/private (issue 4).

(a) git: nothing under ``data/private/`` is tracked, and a new file there is ignored.
(b) a build with a SYNTHETIC IPD file for the GETH-TC study (``molinosquintana2025``): the file
    ``tests/fixtures/ipd/SYNTHETIC-molinosquintana2025.csv`` (10 invented patients, codes
    ``SYNTH-PT-0101`` ... ``SYNTH-PT-0110``) is placed in a temporary copy's ``data/private/``,
    and the copy's ``data/studies.csv`` marks the study included with 10 patients boosted (the
    step ``data/PRIVATE_DATA.md`` asks investigators to take). The book is built with a
    reduced table of contents: home, GETH-TC, results, data and studies pages, plus every page
    they cross-reference (so the build runs with ``-W`` as ``make book`` does). Then:

    * the GETH-TC page shows the aggregated counts, the cumulative incidence of recovery with death
      as a competing event and the Kaplan-Meier figure of death;
    * the results page uses the aggregated counts (confidence ``ipd``);
    * no patient code, and no patient row (with or without its code), occurs in any file the
      build wrote: everything under ``_build/`` (HTML, executed notebooks in ``.jupyter_cache``,
      ``jupyter_execute`` notebooks and glue JSON, ``.doctrees`` pickles, search index,
      downloads, the figure cache) and ``book/_generated/``, read as bytes, case-insensitively.

The expected counts are counted by hand from the SYNTHETIC file; the medians are R's
(survival::survfit, see ``MEDIANS``).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analysis.book import report
from tests.buildutil import NOTEBOOK_FRONT_MATTER, ROOT
from tests.e2e.test_book_e2e import Built, Page, build_copy, fresh_copy, outcome_section

STUDY = "molinosquintana2025"
FIXTURE = ROOT / "tests" / "fixtures" / "ipd" / f"SYNTHETIC-{STUDY}.csv"
#: Pages the privacy build must contain (their cross-references are added to the TOC).
PAGES = ("book/index", "book/gethtc", "book/results", "book/data", "book/studies")
#: Counted by hand from the SYNTHETIC file: outcome -> (events, total). Death counts alive == 0.
COUNTS = {
    "neutrophil_recovery": (7, 10),
    "platelet_recovery": (5, 10),
    "agvhd": (3, 10),
    "death": (3, 10),
}
#: R 4.2.2, survival 3.5.3 on the SYNTHETIC file. Recovery: multi-state survfit with death before
#: recovery as the competing event (tests/fixtures/survival/aalen_johansen_reference.json; the deaths
#: without recovery come after every recovery, so the incidence equals 1 - Kaplan-Meier here): neutrophils
#: 30 (F = 0.5 from day 29 to day 31, so the midpoint), platelets 89. Death: Kaplan-Meier, not reached.
MEDIANS = {
    "neutrophil_recovery": "30 days (95% CI 13 days to not reached)",
    "platelet_recovery": "89 days (95% CI 41 days to not reached)",
}
KM_MEDIANS = {"death": "not reached"}


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
    )


# ---- (a) git never tracks private data ------------------------------------------------------


def test_git_tracks_nothing_in_data_private() -> None:
    listed = _git("ls-files", "data/private")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == []


def test_gitignore_ignores_a_new_file_in_data_private() -> None:
    probe = _git("check-ignore", "-v", "data/private/x.csv")
    assert probe.returncode == 0, f"data/private/x.csv is not ignored: {probe.stdout}{probe.stderr}"
    assert ".gitignore" in probe.stdout


def test_gitignore_keeps_the_instructions_for_private_data() -> None:
    assert _git("check-ignore", "data/PRIVATE_DATA.md").returncode == 1


# ---- the SYNTHETIC fixture ------------------------------------------------------------------


def _patients() -> list[dict[str, str]]:
    with FIXTURE.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_fixture_is_synthetic_and_matches_the_hand_counts() -> None:
    patients = _patients()
    assert all(p["patient_id"].startswith("SYNTH-PT-") for p in patients)
    assert "SYNTHETIC-" in FIXTURE.name
    assert FIXTURE.name in (ROOT / "tests" / "fixtures" / "README.md").read_text(encoding="utf-8")
    columns = {"neutrophil_recovery": "1", "platelet_recovery": "1", "agvhd": "1"}
    for outcome, (events, total) in COUNTS.items():
        if outcome == "death":
            assert sum(p["alive"] == "0" for p in patients) == events
        else:
            assert sum(p[outcome] == columns[outcome] for p in patients) == events
        assert len(patients) == total


# ---- what the build may not contain ---------------------------------------------------------


def _row_pattern(values: list[str]) -> re.Pattern[bytes]:
    """A patient's values in order, separated as a CSV line, a table row or a DataFrame print.

    Separators may also be JSON escapes and quotes (a notebook stores an HTML output as a JSON list
    of lines), and an empty cell may be printed as a missing-value marker.
    """
    missing = rb"&lt;NA&gt;|<NA>|NaN|nan|None|null|NA"  # how an empty cell may be printed
    glue = rb"(?:[\s,;|\"']|\\[nrt]|<[^<>]{0,200}>|&nbsp;|" + missing + rb")+"
    shown = [re.escape(v.encode()) for v in values if v != ""]
    return re.compile(rb"(?<![\w.])" + glue.join(shown) + rb"(?![\w.])")


def forbidden() -> dict[str, re.Pattern[bytes]]:
    """What must never appear in built files: the codes, and each patient's row with or without it."""
    patterns = {"the patient-code prefix SYNTH-PT": re.compile(rb"synth-pt", re.IGNORECASE)}
    with FIXTURE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    for row in rows[1:]:
        code = row[0]
        patterns[f"patient code {code}"] = re.compile(re.escape(code.encode()), re.IGNORECASE)
        patterns[f"CSV line of {code}"] = re.compile(
            re.escape(",".join(row).encode()), re.IGNORECASE
        )
        patterns[f"values of {code}'s row without its code"] = _row_pattern(row[1:])
    return patterns


def leaks(files: list[Path], patterns: dict[str, re.Pattern[bytes]]) -> list[str]:
    """``path: what`` for every forbidden pattern found in the bytes of ``files``."""
    found = []
    for path in files:
        body = path.read_bytes()
        found += [f"{path}: {what}" for what, pattern in patterns.items() if pattern.search(body)]
    return found


def built_files(project: Path) -> list[Path]:
    """Every file the build wrote: all of ``_build/`` (hidden folders included) and ``book/_generated``."""
    roots = [project / "_build", project / "book" / "_generated"]
    return sorted(p for root in roots if root.exists() for p in root.rglob("*") if p.is_file())


def test_the_leak_detector_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The detector itself: it sees the private file, a DataFrame print and an HTML table row."""
    import pandas as pd

    patients = pd.read_csv(FIXTURE, dtype=str, keep_default_na=False)
    shown = patients.drop(columns="patient_id")
    samples = {
        "private.csv": FIXTURE.read_bytes(),
        "frame.txt": shown.to_string().encode(),
        "table.html": shown.to_html().encode(),
        "upper.txt": FIXTURE.read_bytes().upper(),
        "notebook.json": json.dumps(
            {"text/html": shown.to_html().splitlines(keepends=True)}, indent=1
        ).encode(),
    }
    for name, body in samples.items():
        (tmp_path / name).write_bytes(body)
    found = leaks(sorted(tmp_path.iterdir()), forbidden())
    for name in samples:
        assert any(f.startswith(str(tmp_path / name)) for f in found), name
    assert any("without its code" in f and "frame.txt" in f for f in found)
    assert any("without its code" in f and "table.html" in f for f in found)
    assert any("without its code" in f and "notebook.json" in f for f in found)


# ---- (b) the build with the SYNTHETIC file ---------------------------------------------------


def _labels_and_files(book_dir: Path) -> dict[str, str]:
    """Label -> page of every ``(label)=`` target in the chapters."""
    out = {}
    for chapter in book_dir.glob("*.md"):
        for label in re.findall(
            r"^\(([\w-]+)\)=\s*$", chapter.read_text(encoding="utf-8"), re.MULTILINE
        ):
            out[label] = f"book/{chapter.stem}"
    return out


def _referenced(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    return {m[1] or m[0] for m in re.findall(r"\{ref\}`([^`<]*?)(?:\s*<([^>]+)>)?`", text)}


def reduced_toc(project: Path, pages: tuple[str, ...]) -> list[str]:
    """``pages`` plus every page they cross-reference, transitively, and the bibliography."""
    where = _labels_and_files(project / "book")
    wanted, todo = list(pages), list(pages)
    while todo:
        page = todo.pop()
        for label in _referenced(project / f"{page}.md"):
            target = where.get(label.strip())
            if target and target not in wanted:
                wanted.append(target)
                todo.append(target)
    if (project / "book" / "bibliography.md").exists() and "book/bibliography" not in wanted:
        wanted.append("book/bibliography")
    toc = f"format: jb-book\nroot: {wanted[0]}\nchapters:\n" + "".join(
        f"  - file: {p}\n" for p in wanted[1:]
    )
    (project / "_toc.yml").write_text(toc, encoding="utf-8")
    return wanted


def _include_the_study(data: Path, n_patients: int) -> None:
    """Mark the study included with its number of patients, as data/PRIVATE_DATA.md asks.

    An included study needs a risk-of-bias judgement for every item of the plan's tool (the validator
    refuses it otherwise), so ten SYNTHETIC judgements are added for it, as the appraisers would.
    """
    studies = data / "studies.csv"
    with studies.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
        fields = list(rows[0])
    (row,) = [r for r in rows if r["study_id"] == STUDY]
    row.update(status="included", n_boosted=str(n_patients), exclusion_reason="")
    with studies.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    rob = data / "risk_of_bias.csv"
    with rob.open(encoding="utf-8", newline="") as handle:
        rob_fields = next(csv.reader(handle))
    with rob.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=rob_fields, lineterminator="\n", restval="")
        for item in range(1, 11):
            writer.writerow({"study_id": STUDY, "tool": "jbi_case_series", "item": f"Q{item}", "judgement": "unclear",
                             "support": "SYNTHETIC judgement for the test build", "assessed_by": "test-suite",
                             "assessed_on": "2026-12-04", "checked_by": "extractor-2", "checked_on": "2026-12-07"})
    # the second reviewer's judgements of this study (all unclear) now meet a first judgement: the log says so
    log = data / "extraction_disagreements.csv"
    with log.open(encoding="utf-8", newline="") as handle:
        log_fields = next(csv.reader(handle))
    with log.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=log_fields, lineterminator="\n", restval="")
        for item in range(1, 11):
            writer.writerow({"disagreement_id": f"x99{item:02d}", "table": "risk_of_bias", "round": "1",
                             "study_id": STUDY, "outcome_or_item": f"Q{item}", "kind": "second_only",
                             "second_value": "unclear", "resolution": "second", "resolved_value": "unclear",
                             "reason": "SYNTHETIC: the test build's first judgement agrees",
                             "resolved_by": "test-suite", "resolved_on": "2026-12-07"})
    # an included study needs an included screening record: the investigators' data make its report retrievable
    screening = data / "screening.csv"
    with screening.open(encoding="utf-8", newline="") as handle:
        records = list(csv.DictReader(handle))
        record_fields = list(records[0])
    for record in records:
        if record["study_id"] == STUDY:
            record.update(decision="include", reason_code="", reason="SYNTHETIC: data from the investigators")
    with screening.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=record_fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)


def build_with_private_file(folder: Path, fixture: Path) -> Built:
    """Build a fresh copy of the review in ``folder`` with ``fixture`` as the GETH-TC study's private file.

    The study is marked included with as many patients as the file has rows, as data/PRIVATE_DATA.md
    asks; the table of contents is reduced to :data:`PAGES` and what they cross-reference.
    """
    project = fresh_copy(folder / "review")
    private = project / "data" / "private"
    private.mkdir(exist_ok=True)
    shutil.copy2(fixture, private / f"{STUDY}.csv")
    with fixture.open(encoding="utf-8", newline="") as handle:
        patients = len(list(csv.DictReader(handle)))
    _include_the_study(project / "data", patients)
    reduced_toc(project, PAGES)
    return build_copy(project)


@pytest.fixture(scope="module")
def ipd_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    yield build_with_private_file(tmp_path_factory.mktemp("ipd"), FIXTURE)


@pytest.fixture(scope="module")
def ipd_book(ipd_build: Built) -> Built:
    if ipd_build.returncode != 0:
        pytest.fail(
            f"the build with SYNTHETIC IPD failed (exit {ipd_build.returncode}):\n{ipd_build.log}"
        )
    return ipd_build


@pytest.fixture(scope="module")
def ipd_review(ipd_book: Built) -> Any:
    from analysis.book.bookkit import Review

    return Review(ipd_book.root)


@pytest.mark.build
def test_the_build_with_synthetic_ipd_passes(ipd_build: Built) -> None:
    assert ipd_build.returncode == 0, ipd_build.log
    toc = (ipd_build.root / "_toc.yml").read_text(encoding="utf-8")
    assert all(f"{p}\n" in toc for p in PAGES)
    for page in PAGES:
        assert (ipd_build.html_dir / f"{page}.html").is_file(), page


@pytest.mark.build
def test_the_loader_replaced_the_counts_with_the_aggregates(ipd_review: Any) -> None:
    assert STUDY in ipd_review.evidence.ipd_studies
    rows = ipd_review.outcomes.loc[ipd_review.outcomes["study_id"] == STUDY]
    got = {
        r.outcome: (int(r.events), int(r.total)) for r in rows.itertuples() if r.outcome in COUNTS
    }
    assert got == COUNTS
    assert set(rows.loc[rows["outcome"].isin(list(COUNTS)), "confidence"]) == {"ipd"}


def _table_rows(page: Page) -> list[list[str]]:
    """Cells of every table row of a page fragment, as text."""
    rows = []
    for body in re.findall(r"<tr[^>]*>(.*?)</tr>", page.main, re.DOTALL):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", body, re.DOTALL)
        rows.append([" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in cells])
    return rows


def _outcome_label(outcome: str) -> str:
    """The words the pages use for an outcome (the vocabulary's label)."""
    import yaml

    vocabulary = yaml.safe_load((ROOT / "data" / "outcomes.yaml").read_text(encoding="utf-8"))["outcomes"]
    return next(str(o.get("label", outcome)) for o in vocabulary if o["id"] == outcome)


def assert_count_row(rows: list[list[str]], outcome: str, events: int, total: int) -> None:
    """A table row shows the outcome in words and its count, which opens on how it was obtained."""
    label = _outcome_label(outcome)
    mine = [r for r in rows if r and r[0] == label]
    assert mine, f"{outcome}: no row {label!r} in {rows}"
    count = mine[0][1]
    assert count.startswith(f"{events}/{total}"), f"{outcome}: {count}"
    assert "No quote recorded" in count and "From individual patient data" in count, count


@pytest.mark.build
def test_gethtc_page_shows_aggregate_counts(ipd_book: Built) -> None:
    section = ipd_book.page("book/gethtc").section("patient-level-analysis", "<section")
    assert "Counts aggregated from the patient-level data" in section.text
    rows = _table_rows(section)
    for outcome, (events, total) in COUNTS.items():
        assert_count_row(rows, outcome, events, total)


@pytest.mark.build
def test_gethtc_page_shows_recovery_with_death_as_a_competing_event(ipd_book: Built) -> None:
    section = ipd_book.page("book/gethtc").section("patient-level-analysis", "<section")
    for outcome, median in MEDIANS.items():
        (image,) = [i for i in section.images() if f"ci-{STUDY}-{outcome}." in i["src"]]
        assert image.get("alt", "").startswith("Aalen-Johansen plot"), outcome
        assert section.target(image["src"]).is_file(), outcome
        events, total = COUNTS[outcome]
        label = _outcome_label(outcome).lower()
        assert f"{events} of {total} patients had {label} and 2 had death first (death as a competing event)" \
            in section.text, outcome
        assert f"reaches 50%): {median}." in section.text, outcome
    assert "by day 30: 50% (95% CI 27% to 93%); by day 60: 70% (95% CI 47% to 100%)" in section.text
    assert not [i for i in section.images() if f"km-{STUDY}-neutrophil_recovery." in i["src"]]


@pytest.mark.build
def test_gethtc_page_shows_kaplan_meier_figures_with_medians(ipd_book: Built) -> None:
    section = ipd_book.page("book/gethtc").section("patient-level-analysis", "<section")
    for outcome, median in KM_MEDIANS.items():
        (image,) = [i for i in section.images() if f"km-{STUDY}-{outcome}." in i["src"]]
        assert image.get("alt", "").strip(), outcome
        assert section.target(image["src"]).is_file(), outcome
        events, total = COUNTS[outcome]
        assert f"{events} of {total} patients; median time: {median}." in section.text, outcome


@pytest.mark.build
def test_results_page_uses_the_aggregated_counts(ipd_book: Built, ipd_review: Any) -> None:
    page = ipd_book.page("book/results")
    label = ipd_review.labels[STUDY]
    for outcome, (events, total) in COUNTS.items():
        synth = ipd_review.synthesis()[outcome]
        assert STUDY in set(synth.rows["study_id"]), outcome
        section = outcome_section(page, outcome)
        assert " ".join(report.headline(synth).split()) in section.text, outcome
        alts = " ".join(i.get("alt", "") for i in section.images())
        if synth.pooled:
            assert f"{label} {events}/{total}" in alts, outcome
            assert "ipd" in section.text, outcome  # provenance line: "... 1 ipd ..."
        else:  # one study alone, or several shown side by side (few-study rules of the plan)
            assert f"{events}/{total}" in section.text + " " + alts, outcome


@pytest.mark.build
def test_no_patient_code_or_row_in_any_built_file(ipd_book: Built) -> None:
    files = built_files(ipd_book.root)
    kinds = {p.suffix for p in files}
    assert {".html", ".ipynb", ".doctree", ".pickle", ".csv", ".png", ".svg"} <= kinds, kinds
    assert any("jupyter_execute" in p.parts for p in files)
    assert any(".jupyter_cache" in p.parts and p.suffix == ".ipynb" for p in files)
    found = leaks(files, forbidden())
    assert not found, "patient-level data in built files:\n" + "\n".join(found)


@pytest.mark.build
def test_the_private_file_itself_is_found_by_the_same_scan(ipd_book: Built) -> None:
    """Positive control on the real copy: the scan reads the private file and flags it."""
    found = leaks([ipd_book.root / "data" / "private" / f"{STUDY}.csv"], forbidden())
    assert len(found) == 1 + 3 * len(_patients())


# ---- positive control on a real build --------------------------------------------------------

LEAKING_CHAPTER = NOTEBOOK_FRONT_MATTER + """---

# SYNTHETIC leaking chapter (test only)

A chapter that a careless author might write: it shows the patient rows.

```{code-cell} ipython3
from analysis.evidence.loading import load_ipd

patients = load_ipd("../data", "molinosquintana2025").dropna(axis=1, how="all")  # the file's columns
patients
```

```{code-cell} ipython3
patients.drop(columns="patient_id")
```
"""


@pytest.mark.build
def test_the_scan_finds_a_deliberate_leak_in_a_real_build(tmp_path: Path) -> None:
    """A SYNTHETIC chapter that displays the rows: the same scan flags its HTML, notebook and doctree."""
    project = fresh_copy(tmp_path / "leaky")
    (project / "data" / "private").mkdir(exist_ok=True)
    shutil.copy2(FIXTURE, project / "data" / "private" / f"{STUDY}.csv")
    (project / "book" / "leak.md").write_text(LEAKING_CHAPTER, encoding="utf-8")
    (project / "_toc.yml").write_text("format: jb-book\nroot: book/leak\n", encoding="utf-8")
    done = build_copy(project)
    assert done.returncode == 0, done.log
    found = leaks(built_files(project), forbidden())
    executed = [f.split(": ", 1)[0] for f in found if ".jupyter_cache/executed/" in f]
    assert executed, "the executed notebook was not scanned"
    for where in (
        "html/book/leak.html",
        executed[0].split("/_build/", 1)[1],  # the executed notebook (fast path's hand-over)
        ".doctrees/book/leak.doctree",
    ):
        hits = [f for f in found if f.split(": ", 1)[0].endswith(where)]
        assert any("patient code SYNTH-PT-0101" in f for f in hits), where
        assert any("SYNTH-PT-0110's row without its code" in f for f in hits), where
