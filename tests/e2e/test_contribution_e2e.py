"""A contribution from end to end, as CONTRIBUTING.md describes it (issue 7).

In a temporary git repository holding a copy of the project (the files git tracks, plus untracked
ones that are not ignored), committed as ``main`` together with a released results snapshot of
that base, a contributor:

1. adds a BibTeX entry and runs ``python -m analysis add-study KEY``;
2. fills the scaffolded row, two outcome rows and the risk-of-bias template;
3. runs the validator (exit 0), builds the site (a reduced table of contents: home, studies,
   results, what changed), and ``python -m analysis diff``.

The new study must appear in the included-studies table and in the forest plot of its outcomes;
the pooled estimate on the page must be the one :func:`analysis.engine.metaprop` gives on the outcome's
rows (computed here, never typed); the diff report and the what-changed page must list it.

A broken contribution (events > total, a study without BibTeX entry, an unknown outcome id) makes
the validator print its one-line ``file:line: column: message`` errors without a traceback, and
add-study refuses a key that exists.

Every value of the contributed study is SYNTHETIC: the study, its BibTeX entry (DOI prefix
10.0000), counts, quotes ("SYNTHETIC: ...") and judgements are invented for this test.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analysis import metaprop
from analysis.book import report
from analysis.evidence.pipeline import engine_options
from tests.buildutil import ROOT, build

KEY = "synthetic2026"
LABEL = "Synthetic 2026"  # "first author's surname year", as the site labels studies
BIB_ENTRY = """
@article{synthetic2026,
  author = {Synthetic, Fixture and Tester, Second},
  title = {SYNTHETIC case series used by the end-to-end contribution test (not a real publication)},
  journal = {Journal of Synthetic Tests},
  year = {2026},
  month = mar,
  doi = {10.0000/synthetic.e2e}
}
"""
STUDY = {  # SYNTHETIC values for the cells add-study leaves empty
    "status": "included", "evidence": "post_car_t", "design": "case_series",
    "publication_type": "full_article", "country": "SYNTHETIC", "centres": "1",
    "disease": "SYNTHETIC B-cell lymphoma", "car_t_target": "CD19",
    "car_t_products": "SYNTHETIC product", "scb_source": "autologous", "cd34_selected": "yes",
    "donor_type": "autologous", "n_boosted": "20", "age_group": "adult",
    "notes": "SYNTHETIC study of the end-to-end contribution test; not a real publication.",
}
REPORT = {  # the SYNTHETIC paper the counts are read from (reports.csv)
    "report_id": f"{KEY}-paper", "study_id": KEY, "kind": "full_paper",
    "citation": "SYNTHETIC: Synthetic F, Tester S. J Synthetic Tests 2026", "doi": "10.0000/synthetic.e2e",
    "url": "https://example.org/synthetic2026", "year": "2026", "notes": "SYNTHETIC report.",
}
SCREENING = {  # the SYNTHETIC screening record of the study (every included study has one)
    "record_id": "r9901", "doi": "10.0000/synthetic.e2e", "url": "https://example.org/synthetic2026",
    "title": "SYNTHETIC series for the end-to-end test", "year": "2026", "sources": "handsearch",
    "first_found": "2026-11-25", "last_found": "2026-11-25", "decision": "include",
    "reason": "SYNTHETIC: eligible", "study_id": KEY,
}
PROVENANCE = {
    "confidence": "verified_fulltext", "source": "https://example.org/synthetic2026 (SYNTHETIC)",
    "report_id": f"{KEY}-paper",
    "extracted_by": "tester-synthetic-a", "extracted_on": "2026-11-25",
    "checked_by": "tester-synthetic-b", "checked_on": "2026-11-26", "timepoint": "day 30 after the boost (SYNTHETIC)",
}
OUTCOMES = [  # SYNTHETIC counts
    {"outcome": "haematological_recovery", "events": "17", "total": "20",
     "definition": "SYNTHETIC: recovery of any lineage",
     "quote": "SYNTHETIC: 17 of 20 patients recovered at least one lineage."},
    {"outcome": "neutrophil_recovery", "events": "15", "total": "18",
     "definition": "SYNTHETIC: ANC above 0.5 x 10^9/L on three consecutive days",
     "quote": "SYNTHETIC: neutrophils recovered in 15 of the 18 evaluable patients."},
]
GIT_ID = ("-c", "user.name=SYNTHETIC tester", "-c", "user.email=tester@example.org")
TOC = "format: jb-book\nroot: book/index\nchapters:\n" + "".join(
    f"  - file: book/{name}\n" for name in ("studies", "results", "changes"))


# ---------------------------------------------------------------------------------- helpers


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "analysis", *args], cwd=root,
                          capture_output=True, text=True, check=False, timeout=300)


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *GIT_ID, "-C", str(root), *args], capture_output=True,
                          text=True, check=True).stdout


def copy_project(dest: Path) -> Path:
    """Copy what git sees of the project (tracked, and untracked but not ignored) into ``dest``."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], capture_output=True, text=True, check=True)
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def read_table(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def record_lines(path: Path) -> list[int]:
    """Line where each record of a CSV file starts (the header is line 1)."""
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline=""))
    next(reader)
    lines, start = [], reader.line_num + 1
    for _ in reader:
        lines.append(start)
        start = reader.line_num + 1
    return lines


def write_table(path: Path, rows: list[dict[str, str]], header: list[str]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def append_rows(path: Path, rows: list[dict[str, str]]) -> None:
    header = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    out = io.StringIO()
    csv.DictWriter(out, fieldnames=header, lineterminator="\n").writerows(rows)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(out.getvalue())


def plan(root: Path) -> dict:
    return yaml.safe_load((root / "data" / "analysis_plan.yaml").read_text(encoding="utf-8"))


def outcome_rows(root: Path, outcome: str) -> list[dict[str, str]]:
    """Rows of one outcome for the studies of the review's evidence set (its plan's filter)."""
    where = plan(root)["evidence_sets"]["review"]["where"]
    studies = {r["study_id"]: r for r in read_table(root / "data" / "studies.csv")}
    return [r for r in read_table(root / "data" / "outcomes.csv") if r["outcome"] == outcome
            and all(studies[r["study_id"]][c] == v for c, v in where.items())]


def pooled(root: Path, outcome: str):
    rows = outcome_rows(root, outcome)
    return metaprop([int(r["events"]) for r in rows], [int(r["total"]) for r in rows],
                    **engine_options(plan(root)["primary"]))


def scaffold_and_fill(root: Path) -> str:
    """Steps 1-2 of CONTRIBUTING.md with SYNTHETIC values; returns add-study's output."""
    bib = root / "references.bib"
    bib.write_text(bib.read_text(encoding="utf-8") + BIB_ENTRY, encoding="utf-8")
    done = run(root, "add-study", KEY)
    assert done.returncode == 0, done.stderr
    studies = root / "data" / "studies.csv"
    rows = read_table(studies)
    assert rows[-1]["study_id"] == KEY and rows[-1]["publication_date"] == "2026-03"
    rows[-1].update(STUDY)
    write_table(studies, rows, list(rows[0]))
    append_rows(root / "data" / "reports.csv", [REPORT])
    append_rows(root / "data" / "outcomes.csv",
                [{"study_id": KEY, **PROVENANCE, **o} for o in OUTCOMES])
    # the second reviewer's independent record of the same counts (they agree) and the study's screening record
    append_rows(root / "data" / "second_extraction" / "outcomes.csv",
                [{"study_id": KEY, **o, "confidence": PROVENANCE["confidence"], "source": PROVENANCE["source"],
                  "timepoint": PROVENANCE["timepoint"], "extracted_by": PROVENANCE["checked_by"],
                  "extracted_on": PROVENANCE["checked_on"], "round": "1"} for o in OUTCOMES])
    append_rows(root / "data" / "screening.csv", [SCREENING])
    rob_columns = len(next(csv.reader([(root / "data" / "risk_of_bias.csv").read_text(encoding="utf-8")
                                        .splitlines()[0]])))
    template = [line for line in done.stdout.splitlines()
                if line.startswith(f"{KEY},") and len(cells := next(csv.reader([line]))) == rob_columns
                and cells[1] and cells[2]]  # a study id, a tool and an item: a risk-of-bias row
    rob = []
    for line in template:  # the risk-of-bias template printed by add-study
        study_id, tool, item, *_ = next(csv.reader([line]))
        rob.append({"study_id": study_id, "tool": tool, "item": item, "judgement": "unclear",
                    "support": "SYNTHETIC judgement for the end-to-end test.",
                    "assessed_by": "tester-synthetic-a", "assessed_on": "2026-11-25"})
    assert len(rob) == 10
    append_rows(root / "data" / "risk_of_bias.csv", rob)
    return done.stdout


def reduce_config(root: Path) -> None:
    """Let the reduced table of contents build with -W: links to the chapters left out of it
    (methods, summary of findings...) are unresolved there, and only those warnings are muted."""
    path = root / "_config.yml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["sphinx"]["config"]["suppress_warnings"] = ["ref.ref"]
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def page(root: Path, name: str) -> str:
    return (root / "_build" / "html" / "book" / f"{name}.html").read_text(encoding="utf-8")


def section(text: str, start: str, end: str | None) -> str:
    """Part of a page from the element with id ``start`` to the one with id ``end``."""
    head = text.index(f'id="{start}"')
    return text[head:text.index(f'id="{end}"', head)] if end else text[head:]


def image_alt(text: str, stem: str) -> str:
    for tag in re.findall(r"<img\b[^>]*>", text):
        if stem in tag:
            return html.unescape(re.search(r'alt="([^"]*)"', tag).group(1))
    raise AssertionError(f"no image {stem} on the page")


# ---------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def contribution(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project at ``main`` with a released snapshot, plus a SYNTHETIC contribution, built."""
    from analysis import __version__
    from analysis.book.bookkit import Review
    from analysis.living.snapshot import data_digests, make_snapshot, write_snapshot

    root = copy_project(tmp_path_factory.mktemp("e2e") / "project")
    shutil.rmtree(root / "data" / "private", ignore_errors=True)
    version = (root / "VERSION").read_text(encoding="utf-8").strip()
    released = root / "results" / f"{version}.json"
    if not released.exists():  # before the first release: snapshot the base as that release
        review = Review(root)
        write_snapshot(released, make_snapshot(
            review.snapshot_payload(), version=version,
            date=dt.date.fromisoformat(review.data_date), trigger="base of the end-to-end test",
            package_version=__version__, data_files=data_digests(root), private_data_used=False))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"base: the review as released ({version})")
    scaffold_and_fill(root)
    # VERSION still names the release; data differing from its snapshot make this build a
    # development version, whose what-changed page compares it with that release.
    (root / "_toc.yml").write_text(TOC, encoding="utf-8")
    reduce_config(root)
    built = build(root)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return root


# ---------------------------------------------------------------------------------- the path


@pytest.mark.build
def test_the_contribution_validates(contribution: Path) -> None:
    done = run(contribution, "validate")
    assert done.returncode == 0, done.stdout
    assert done.stdout.startswith("data OK: ")
    assert "Traceback" not in done.stderr


@pytest.mark.build
def test_new_study_in_the_included_studies_table(contribution: Path) -> None:
    included = section(page(contribution, "studies"), "included-studies", "studies-awaiting-data")
    row = next(r for r in re.findall(r"<tr>.*?</tr>", included, re.DOTALL) if LABEL in r)
    cells = [html.unescape(c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.DOTALL)]
    assert cells[0] == LABEL
    assert STUDY["disease"] in cells and STUDY["n_boosted"] in cells


@pytest.mark.build
@pytest.mark.parametrize("outcome", [o["outcome"] for o in OUTCOMES])
def test_new_study_in_the_forest_plot(contribution: Path, outcome: str) -> None:
    stem = f"forest-review-{outcome}"
    assert (contribution / "book" / "_generated" / f"{stem}.png").stat().st_size > 0
    counts = next(o for o in OUTCOMES if o["outcome"] == outcome)
    alt = image_alt(page(contribution, "results"), stem)
    assert f"{LABEL} {counts['events']}/{counts['total']} (" in alt


def synthesis(root: Path, outcome: str):
    """The outcome as the review computes it (the plan's hierarchy, exclusions and few-study rules)."""
    from analysis.living.review import LivingReview

    return LivingReview(root).synthesis()[outcome]


#: The new study's rows, and the primary outcome its neutrophil recovery enters through the plan's hierarchy.
CHECKED = [*(o["outcome"] for o in OUTCOMES), "boost_lineage_response"]


@pytest.mark.build
@pytest.mark.parametrize("outcome", CHECKED)
def test_pooled_estimate_moves_as_the_engine_says(contribution: Path, outcome: str) -> None:
    synth = synthesis(contribution, outcome)
    assert KEY in synth.rows["study_id"].tolist()
    text = html.unescape(page(contribution, "results")).replace("\u2019", "'")  # smart apostrophes
    if not synth.pooled:  # too few or conflicting studies: side by side, each with its exact interval
        assert "Not pooled: " in text or "One study: shown as its own proportion" in text
        study = synth.studies.loc[synth.rows["study_id"] == KEY].iloc[0]
        assert f"{LABEL}: {int(study['events'])}/{int(study['n'])} (" in text
        return
    rows = synth.rows
    after = metaprop(rows["events"].tolist(), rows["total"].tolist(), **engine_options(plan(contribution)["primary"]))
    assert math.isclose(after.estimate, synth.result.estimate, rel_tol=1e-12)
    shown = report.estimate_with_ci(after)
    assert f"(the median of the studies' true proportions) {shown}" in text
    before_rows = rows.loc[rows["study_id"] != KEY]
    if len(before_rows) >= plan(contribution)["min_studies_to_pool"]:  # pooled before: the estimate moved
        before = metaprop(before_rows["events"].tolist(), before_rows["total"].tolist(),
                          **engine_options(plan(contribution)["primary"]))
        assert abs(before.estimate - after.estimate) > 1e-6
        assert f"(the median of the studies' true proportions) {report.estimate_with_ci(before)}" not in text


@pytest.mark.build
def test_diff_reports_the_study_and_the_moved_estimates(contribution: Path) -> None:
    done = run(contribution, "diff")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "working tree vs main " in out
    assert f"| {KEY} | added |" in out
    assert "| outcomes | 2 | 0 | 0 |" in out and "| risk_of_bias | 10 | 0 | 0 |" in out
    for outcome in CHECKED:
        synth = synthesis(contribution, outcome)
        k, n = synth.k, synth.total_n
        study = synth.studies.loc[synth.rows["study_id"] == KEY].iloc[0]
        line = next(x for x in out.splitlines() if x.startswith(f"| {_label(contribution, outcome)} |"))
        assert f"| {k - 1} → **{k}** | {n - int(study['n'])} → **{n}** |" in line
        if synth.pooled:
            res = synth.result
            cell = f"{100 * res.estimate:.1f}% [{100 * res.ci_lower:.1f}% to {100 * res.ci_upper:.1f}%]"
            assert f"| {cell} | **changed**: k, N, events, estimate" in line
        else:
            assert f"{k} studies side by side, not pooled: " in line and f"{int(study['events'])}/{int(study['n'])} (" in line
            assert "| **changed**: k, N, events" in line


@pytest.mark.build
def test_what_changed_page_lists_the_study(contribution: Path) -> None:
    """The contributed study is named in the change log, and the result it moves says why, in words."""
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page(contribution, "changes"))).split())
    assert text.count(f"{LABEL}: added (included;") == 1
    label = _label(contribution, "neutrophil_recovery")
    moved = re.search(rf"{re.escape(label)}: [^→]+ → [^→]+?\. Why: ([^.]*)\.", text)
    assert moved is not None, text[:3000]
    assert f"{LABEL} added" in moved.group(1)
    for raw in ("estimate_old", "ci_lower", ">None<", " None "):
        assert raw not in text


def _label(root: Path, outcome: str) -> str:
    vocabulary = yaml.safe_load((root / "data" / "outcomes.yaml").read_text(encoding="utf-8"))
    return next(o["label"] for o in vocabulary["outcomes"] if o["id"] == outcome)


# ---------------------------------------------------------------------------------- broken


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    """A copy of the evidence base (data and bibliography) with the SYNTHETIC study filled in."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "data", root / "data", ignore=shutil.ignore_patterns("private"))
    shutil.copy2(ROOT / "references.bib", root / "references.bib")
    scaffold_and_fill(root)
    assert run(root, "validate").returncode == 0
    return root


def test_broken_contribution_fails_with_one_line_messages(evidence: Path) -> None:
    outcomes = evidence / "data" / "outcomes.csv"
    rows = read_table(outcomes)
    index = {r["outcome"]: i for i, r in enumerate(rows) if r["study_id"] == KEY}
    line = {k: record_lines(outcomes)[i] for k, i in index.items()}
    rows[index["neutrophil_recovery"]]["events"] = "25"  # more events than patients (18)
    rows[index["haematological_recovery"]]["outcome"] = "neutrophil_engraftment"
    for i in index.values():  # a first extraction not yet checked by the second reviewer
        rows[i].update(checked_by="", checked_on="")
    write_table(outcomes, rows, list(rows[0]))
    second = evidence / "data" / "second_extraction" / "outcomes.csv"
    kept = [r for r in read_table(second) if r["study_id"] != KEY]
    write_table(second, kept, list(read_table(second)[0]))
    studies = evidence / "data" / "studies.csv"
    table = read_table(studies)
    table[-1]["bibkey"] = "synthmissing2026"  # no such BibTeX entry
    write_table(studies, table, list(table[0]))

    done = run(evidence, "validate")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    expected = [  # each message may go on with "did you mean" and the valid ids
        (f"data/outcomes.csv:{line['haematological_recovery']}: outcome: 'neutrophil_engraftment' "
        "is not found in outcomes.yaml (id)"),
        (f"data/outcomes.csv:{line['neutrophil_recovery']}: events: more patients with the event "
        "than patients assessed (events = 25; total = 18)"),
        (f"data/studies.csv:{record_lines(studies)[-1]}: bibkey: 'synthmissing2026' is not found in "
        "references.bib (key)"),
    ]
    printed = done.stdout.splitlines()
    assert len(printed) == len(expected), printed
    assert all(p.startswith(e) for p, e in zip(printed, expected, strict=True)), printed
    assert done.stderr.splitlines()[-1] == "3 problems found"


def test_add_study_refuses_an_existing_key(evidence: Path) -> None:
    before = (evidence / "data" / "studies.csv").read_bytes()
    done = run(evidence, "add-study", KEY)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        (f"add-study: data/studies.csv:{record_lines(evidence / 'data' / 'studies.csv')[-1]}: "
        f"study '{KEY}' already exists; edit that row instead of adding the study again")]
    assert (evidence / "data" / "studies.csv").read_bytes() == before


# ---------------------------------------------------------------------------------- CI


def test_pull_request_workflow_is_safe_and_complete() -> None:
    """The CI of a contribution: never write access or secrets for pull-request code; every step."""
    text = (ROOT / ".github" / "workflows" / "pr.yml").read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as True
    assert set(triggers) == {"pull_request"}
    code = "\n".join(line.split("#")[0] for line in text.splitlines())
    assert "secrets." not in code
    assert workflow["permissions"] == {"contents": "read"}
    steps = workflow["jobs"]["check"]["steps"]
    assert all(s.get("with", {}).get("persist-credentials") is False
               for s in steps if str(s.get("uses", "")).startswith("actions/checkout"))
    runs = [str(s.get("run", "")) for s in steps]
    order = [next(i for i, r in enumerate(runs) if needle in r) for needle in
             ("-m analysis validate", "-m analysis diff", ".ci/run", "make book")]
    assert order == sorted(order)
    assert '"$GITHUB_STEP_SUMMARY"' in runs[order[1]] and "pipefail" in runs[order[1]]
    upload = next(s for s in steps if s.get("with", {}).get("name") == "site-preview")
    assert upload["uses"].startswith("actions/upload-artifact") and upload["with"]["path"] == "_build/html"
