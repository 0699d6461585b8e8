"""``python -m analysis diff``: the results of the working tree against a git ref.

Each test makes a temporary git repository holding the SYNTHETIC evidence fixture
(tests/fixtures/evidence) with the review's real descriptor, vocabulary and analysis plan,
commits it as ``main``, changes the working tree, and reads the report. Expected pooled numbers
are computed here with :func:`analysis.engine.metaprop` on the outcome's rows, with the plan's primary
options; nothing is typed from a previous run.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analysis import metaprop
from analysis.evidence.pipeline import engine_options
from analysis.living.diffcmd import DiffError, default_base, diff_against
from tests.evidence_helpers import ROOT, SYNTHETIC_IPD, evidence_copy, set_cell

NEW_STUDY = (
    "synthgh2023,synthgh2023,included,,post_car_t,case_series,full_article,Nowhere,1,,,,"
    "SYNTHETIC lymphoma,CD19,product A,autologous,yes,autologous,12,,,adult,2023-06,"
    "SYNTHETIC study added by the diff tests.,\n"
)
NEW_OUTCOME = (
    'synthgh2023,neutrophil_recovery,11,12,as defined,day 28,verified_fulltext,,'
    '"SYNTHETIC: neutrophils recovered in 11 of 12 patients.",https://example.org/synthgh2023,'
    "synthgh2023-paper,tester-a,2026-02-01,,\n"
)
NEW_REPORT = (
    'synthgh2023-paper,synthgh2023,full_paper,"SYNTHETIC: Tester G. Series four. J Tests 2023",'
    "10.0000/synthetic.4,,,https://example.org/synthgh2023,2023,SYNTHETIC report.\n"
)
NEW_SCREENING = (
    "r9001,,10.0000/synthetic.4,,https://example.org/synthgh2023,SYNTHETIC series four,2023,db,"
    "2026-02-01,2026-02-01,include,,SYNTHETIC eligible,synthgh2023\n"
)
NEW_BIB = """
@article{synthgh2023,
  author = {Tester, Grace},
  title = {SYNTHETIC series four},
  journal = {Journal of Tests},
  year = {2023},
  doi = {10.0000/synthetic.4}
}
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True)
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    data = evidence_copy(root)
    shutil.copy(ROOT / "data" / "analysis_plan.yaml", data / "analysis_plan.yaml")
    (root / ".gitignore").write_text("data/private/*\n", encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=Test", "-c", "user.email=test@example.org", "commit", "-q", "-m",
        "SYNTHETIC base")
    return root


NEW_ROB = "".join(
    f"synthgh2023,jbi_case_series,Q{i},unclear,SYNTHETIC: not reported.,tester-a,2026-02-01,,\n"
    for i in range(1, 11)
)


def add_study(root: Path) -> None:
    with (root / "data" / "studies.csv").open("a", encoding="utf-8") as f:
        f.write(NEW_STUDY)
    with (root / "data" / "risk_of_bias.csv").open("a", encoding="utf-8") as f:
        f.write(NEW_ROB)
    with (root / "data" / "reports.csv").open("a", encoding="utf-8") as f:
        f.write(NEW_REPORT)
    with (root / "data" / "outcomes.csv").open("a", encoding="utf-8") as f:
        f.write(NEW_OUTCOME)
    with (root / "data" / "screening.csv").open("a", encoding="utf-8") as f:
        f.write(NEW_SCREENING)
    with (root / "references.bib").open("a", encoding="utf-8") as f:
        f.write(NEW_BIB)


def expected(root: Path, outcome: str) -> str:
    """The pooled cell the report should show, from metaprop on the outcome's rows."""
    plan = yaml.safe_load((root / "data" / "analysis_plan.yaml").read_text(encoding="utf-8"))
    studies = {r["study_id"]: r for r in csv.DictReader(
        io.StringIO((root / "data" / "studies.csv").read_text(encoding="utf-8")))}
    where = plan["evidence_sets"]["review"]["where"]
    rows = [r for r in csv.DictReader(io.StringIO(
        (root / "data" / "outcomes.csv").read_text(encoding="utf-8")))
        if r["outcome"] == outcome
        and all(studies[r["study_id"]][c] == v for c, v in where.items())]
    res = metaprop([int(r["events"]) for r in rows], [int(r["total"]) for r in rows],
                   **engine_options(plan["primary"]))
    return (f"{100 * res.estimate:.1f}% [{100 * res.ci_lower:.1f}% to "
            f"{100 * res.ci_upper:.1f}%]")


def exact(root: Path, outcome: str) -> list[str]:
    """Each study's cell text: events/n, proportion and exact interval (scipy's beta quantiles)."""
    from scipy.stats import beta

    studies = {r["study_id"]: r for r in csv.DictReader(
        io.StringIO((root / "data" / "studies.csv").read_text(encoding="utf-8")))}
    out = []
    for r in csv.DictReader(io.StringIO((root / "data" / "outcomes.csv").read_text(encoding="utf-8"))):
        if r["outcome"] != outcome or studies[r["study_id"]]["status"] != "included":
            continue
        x, n = int(r["events"]), int(r["total"])
        lo = 0.0 if x == 0 else beta.ppf(0.025, x, n - x + 1)
        hi = 1.0 if x == n else beta.ppf(0.975, x + 1, n - x)
        out.append(f"{x}/{n} ({100 * x / n:.1f}%; exact CI {100 * lo:.1f}% to {100 * hi:.1f}%)")
    return out


def row_of(report: str, label: str, section: int = 0) -> list[str]:
    part = report.split("#### ")[1 + section]
    line = next(x for x in part.splitlines() if x.startswith(f"| {label} |"))
    return [c.strip() for c in line.strip("|").split(" | ")]


def test_added_study_moves_the_pooled_estimate(repo: Path) -> None:
    before = expected(repo, "neutrophil_recovery")
    add_study(repo)
    after = expected(repo, "neutrophil_recovery")
    assert before != after
    report = diff_against("main", repo)
    commit = git(repo, "rev-parse", "--short=7", "HEAD").strip()
    assert report.startswith(f"### What this change does to the evidence: working tree vs main "
                             f"{commit}\n")
    assert "**Studies:** 1 added, 0 removed, 0 updated." in report
    assert "| synthgh2023 | added |  |" in report
    assert "| outcomes | 1 | 0 | 0 |" in report
    cells = row_of(report, "Neutrophil recovery")
    # two studies are shown side by side (the plan pools from three); the third makes a pooled estimate
    side = "2 studies side by side, not pooled: " + "; ".join(exact(repo, "neutrophil_recovery")[:2])
    assert cells == ["Neutrophil recovery", "2 → **3**", "18 → **30**", side, after,
                     "**changed**: k, N, events, estimate, CI, PI, pooled"]
    # the primary outcome selects the same rows through the plan's hierarchy
    primary = row_of(report, "Haematological response of the lineage the boost was given for")
    assert primary[1:] == cells[1:]


def test_unchanged_and_single_study_outcomes(repo: Path) -> None:
    add_study(repo)
    report = diff_against("main", repo)
    platelet = row_of(report, "Platelet recovery")
    single = exact(repo, "platelet_recovery")[0] + ", single study, not pooled"
    assert single == "5/8 (62.5%; exact CI 24.5% to 91.5%), single study, not pooled"
    assert platelet == ["Platelet recovery", "1", "8", single, single, "no change"]
    assert "2 of 5 result(s) changed" in report.split("#### ")[1].splitlines()[0]


def test_corrected_count_is_an_updated_row(repo: Path) -> None:
    set_cell(repo / "data" / "outcomes.csv", 2, "events", "9")
    set_cell(repo / "data" / "outcomes.csv", 2, "quote", "SYNTHETIC: neutrophils recovered in 9 of 10 patients.")
    report = diff_against("main", repo)
    assert "**Studies:** 0 added, 0 removed, 0 updated." in report
    assert "| outcomes | 0 | 0 | 1 |" in report
    cells = row_of(report, "Neutrophil recovery")
    assert cells[1:3] == ["2", "18"]
    assert cells[4] == "2 studies side by side, not pooled: " + "; ".join(exact(repo, "neutrophil_recovery"))
    assert "9/10" in cells[4] and "8/10" in cells[3]
    assert cells[5] == "**changed**: events"


def test_updated_study_fields_are_named(repo: Path) -> None:
    set_cell(repo / "data" / "studies.csv", 2, "country", "Elsewhere")
    set_cell(repo / "data" / "studies.csv", 2, "centres", "3")
    report = diff_against("main", repo)
    assert "| synthab2020 | updated | Country, Number of centres |" in report  # the fields' titles
    assert "- Tester 2020: details updated (country, number of centres)." in report
    assert "0 of 5 result(s) changed" in report


def test_only_what_git_would_commit_is_compared(repo: Path) -> None:
    (repo / "data" / "private").mkdir()
    shutil.copy(SYNTHETIC_IPD, repo / "data" / "private" / SYNTHETIC_IPD.name)
    report = diff_against("main", repo)
    assert "0 of 5 result(s) changed" in report
    assert "_1 file(s) ignored by git (private data) were left out" in report
    assert "SYNTH-PT" not in report
    # an untracked, not ignored file is part of the contribution
    (repo / "data" / "studies.csv").rename(repo / "data" / "studies.tmp")
    shutil.copy(repo / "data" / "studies.tmp", repo / "data" / "studies.csv")
    git(repo, "rm", "-q", "--cached", "data/studies.csv")
    (repo / "data" / "studies.tmp").unlink()
    add_study(repo)
    assert "**Studies:** 1 added" in diff_against("main", repo)


def test_subgroups_on_request(repo: Path) -> None:
    add_study(repo)
    report = diff_against("main", repo, subgroups=True)
    assert "| Outcome | Subgroup | Studies (k) |" in report
    assert "| Neutrophil recovery | Source of the boost: autologous |" in report
    assert "(Source of the boost: autologous): Neutrophil recovery: not in this version → " in report
    assert "(CD34+ selection: yes): Neutrophil recovery" in report
    assert "scb_source" not in report and "scb source" not in report and "cd34 selected" not in report


def test_risk_of_bias_changes_name_the_tool_by_its_label(repo: Path) -> None:
    set_cell(repo / "data" / "risk_of_bias.csv", 2, "judgement", "no")
    set_cell(repo / "data" / "studies.csv", 2, "centres", "3")
    report = diff_against("main", repo)
    assert ("- Tester 2020, risk of bias (JBI critical appraisal checklist for case series, item Q1): judgement "
            "changed from yes to no.") in report
    assert "jbi case series" not in report and "jbi_case_series" not in report


def test_default_base(repo: Path) -> None:
    assert default_base(repo) == "main"
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    assert default_base(repo) == "origin/main"
    add_study(repo)
    assert "working tree vs origin/main " in diff_against(None, repo)


def test_errors_are_one_line(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(DiffError, match=r"^unknown git ref 'nosuch'$"):
        diff_against("nosuch", repo)
    with pytest.raises(DiffError, match=r"fetch it first: git fetch origin main"):
        diff_against("origin/main", repo)
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    with pytest.raises(DiffError, match="is not inside a git repository"):
        diff_against("main", outside)
    set_cell(repo / "data" / "outcomes.csv", 2, "events", "11")
    with pytest.raises(DiffError, match=(
            r"^the evidence base of the working tree has 1 problem \(first: data/outcomes\.csv:2: "
            r"events: more patients with the event than patients assessed \(events = 11; total = "
            r"10\)\); run python -m analysis validate$")):
        diff_against("main", repo)


def test_invalid_base_is_named(repo: Path) -> None:
    set_cell(repo / "data" / "outcomes.csv", 2, "total", "0")
    git(repo, "-c", "user.name=Test", "-c", "user.email=test@example.org", "commit", "-q", "-am",
        "SYNTHETIC broken")
    git(repo, "branch", "broken")
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    with pytest.raises(DiffError, match=r"^the evidence base of broken \([0-9a-f]{7}\) has"):
        diff_against("broken", repo)


def test_command_line(repo: Path) -> None:
    add_study(repo)
    done = subprocess.run([sys.executable, "-m", "analysis", "diff", "main", "--root", str(repo)],
                          capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "| synthgh2023 | added |" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "analysis", "diff", "nosuch", "--root", str(repo)],
                         capture_output=True, text=True, check=False, cwd=ROOT)
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert bad.stderr == "diff: unknown git ref 'nosuch'\n"


def test_command_line_from_a_subfolder_finds_the_root(repo: Path, tmp_path: Path) -> None:
    add_study(repo)
    sub = repo / "book"
    sub.mkdir()
    done = subprocess.run([sys.executable, "-m", "analysis", "diff", "main"], capture_output=True,
                          text=True, check=False, cwd=sub)
    assert done.returncode == 0, done.stderr
    assert "| synthgh2023 | added |" in done.stdout
    git(tmp_path, "init", "-q")
    (tmp_path / "elsewhere").mkdir()
    lost = subprocess.run([sys.executable, "-m", "analysis", "diff"], capture_output=True, text=True,
                          check=False, cwd=tmp_path / "elsewhere")
    assert lost.returncode == 1 and lost.stdout == ""
    assert lost.stderr.startswith(f"diff: no data/datapackage.yaml in {tmp_path / 'elsewhere'} or in any "
                                  "folder above it: run the command from the repository root")


def test_report_carries_the_change_log_sentences_of_the_version_page(repo: Path) -> None:
    """The pull-request summary shows the same sentences as the next version's page (whatchanged)."""
    from analysis.living.review import LivingReview
    from analysis.living.whatchanged import evidence_log

    before = LivingReview(repo).snapshot_payload()
    set_cell(repo / "data" / "outcomes.csv", 2, "events", "9")
    set_cell(repo / "data" / "outcomes.csv", 2, "quote", "SYNTHETIC: neutrophils recovered in 9 of 10 patients.")
    after = LivingReview(repo).snapshot_payload()
    (sentence,) = evidence_log(before, after)["Outcome counts"]
    assert "corrected from 8/10 to 9/10" in sentence
    report = diff_against("main", repo)
    assert "**Change log** (the sentences the next version's page will show):" in report
    assert f"- {sentence}" in report.replace("\\|", "|")
    assert "**Results that moved**" in report
    assert "Why: " in report and "count corrected from 8/10 to 9/10" in report.split("**Results that moved**")[1]


def test_report_without_any_change_says_so(repo: Path) -> None:
    report = diff_against("main", repo)
    assert "No change to the evidence or the results." in report
