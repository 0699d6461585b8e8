"""End to end: a maintainer releases, corrects one count, releases again; the new version's page tells it.

Runs in a temporary git copy of the project. The correction (Li 2023's acute GVHD count changed
from 5/5 to 4/5) is SYNTHETIC: it exists only in the temporary copy, to exercise the page.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.buildutil import build, copy_project, html
from tools import release as rel

pytestmark = [pytest.mark.slow, pytest.mark.build]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _set_count(path: Path, study: str, outcome: str, events: int) -> None:
    text = path.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    (row,) = [r for r in rows if r["study_id"] == study and r["outcome"] == outcome]
    row["events"] = str(events)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def _note(repo: Path, text: str) -> None:
    log = repo / "CHANGELOG.md"
    log.write_text(log.read_text(encoding="utf-8").replace("## Unreleased\n", f"## Unreleased\n\n- {text}\n", 1),
                   encoding="utf-8")


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_project(tmp_path_factory.mktemp("versions") / "project")
    from analysis.living.snapshot import is_release_version

    for path in (repo / "results").glob("*.json"):
        if is_release_version(path.stem):  # releases of the real review; the schema stays
            path.unlink()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "project copy")
    _git(repo, "config", "user.name", "t")
    _git(repo, "config", "user.email", "t@example.org")
    _note(repo, "first version (synthetic, test only)")  # the copy's Unreleased section may be empty
    _git(repo, "commit", "-qam", "describe the first version")
    rel.release(repo, "26.0.0", "first version", dt.date(2026, 12, 1))
    _set_count(repo / "data" / "outcomes.csv", "li2023", "agvhd", 4)
    with (repo / "data" / "extraction_disagreements.csv").open("a", encoding="utf-8") as log:  # the correction, logged
        log.write("x9801,outcomes,1,li2023,agvhd,,disagreement,4/5,5/5,first,4/5,"
                  "SYNTHETIC correction for the test only,tester,2026-12-02\n")
    _note(repo, "Li 2023, acute GVHD corrected (synthetic, test only)")
    _git(repo, "commit", "-qam", "correct one count")
    first = (repo / "results" / "26.0.0.json").read_bytes()
    rel.release(repo, "26.1.0", "correction", dt.date(2026, 12, 2))
    assert (repo / "results" / "26.0.0.json").read_bytes() == first
    result = build(repo)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return repo


def _text(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def test_new_version_page_shows_its_trigger_correction_and_moved_results(released: Path) -> None:
    page = html(released, "book/changes")
    text = _text(page)
    assert "What triggered this version: correction" in text
    assert "Li 2023, acute graft-versus-host disease: corrected from 5/5 to 4/5 (source:" in text
    assert "Results that moved" in text
    # one study since Rejeski 2022's GVHD is coded as GVHD of any kind: its own proportion and exact interval
    assert ("Acute graft-versus-host disease: 100% (95% CI 48% to 100%); single study; 1 study, 5 patients → "
            "80% (95% CI 28% to 99%); single study; 1 study, 5 patients. Why: Li 2023: count corrected from 5/5 "
            "to 4/5.") in text
    assert "percentage point" in text  # the thresholds are stated
    for raw in ("estimate_old", "ci_lower", "None", "NaN", "scb_source="):
        assert raw not in text, raw


def test_release_records_its_own_trigger_in_snapshot_and_changelog(released: Path) -> None:
    from analysis.living.snapshot import read_snapshot

    assert read_snapshot(released / "results" / "26.1.0.json").trigger == "correction"
    assert read_snapshot(released / "results" / "26.0.0.json").trigger == "first version"
    log = (released / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## 26.1.0 (2026-12-02)\n\nTrigger: correction\n" in log


def test_earlier_release_files_are_unchanged_by_the_next(released: Path) -> None:
    at_tag = _git(released, "show", "26.0.0:results/26.0.0.json")
    assert (released / "results" / "26.0.0.json").read_text(encoding="utf-8") == at_tag
    digest = hashlib.sha256(at_tag.encode()).hexdigest()
    assert digest == hashlib.sha256((released / "results" / "26.0.0.json").read_bytes()).hexdigest()


def test_the_page_says_whether_the_answer_changed_by_the_plan_rules(released: Path) -> None:
    from analysis.living.alerts import AlertRules, evaluate
    from analysis.living.snapshot import read_snapshot

    first, second = (read_snapshot(released / "results" / f"{v}.json") for v in ("26.0.0", "26.1.0"))
    rules = AlertRules.from_plan(yaml.safe_load((released / "data" / "analysis_plan.yaml").read_text()))
    expected = evaluate(rules, first.results, second.results, "26.0.0")
    assert expected.changed is False  # the corrected count is in an outcome that is not pooled
    assert second.answer == expected.to_dict()
    text = _text(html(released, "book/changes"))
    assert "Has the answer changed?" in text and rules.describe() in text
    assert "No change to the answer since 26.0.0 (no decision rule of the plan fired)." in text
    assert text.count("did not fire") == len(rules.rules)


def test_both_released_snapshots_and_the_page_files_follow_the_schema(released: Path) -> None:
    import json

    from jsonschema import Draft202012Validator

    schema = json.loads((released / "results" / "results.schema.json").read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for name in ("results/26.0.0.json", "results/26.1.0.json", "book/_generated/results.json"):
        errors = [e.message for e in validator.iter_errors(json.loads((released / name).read_text(encoding="utf-8")))]
        assert errors == [], name
    data = _text(html(released, "book/data"))
    assert "Version 26.1.0 - No change to the answer since 26.0.0" in data  # the pandas example ran


def test_every_page_links_the_feed_of_releases(released: Path) -> None:
    pages = [p for p in (released / "_build" / "html").rglob("*.html") if "_static" not in p.parts]
    missing = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        if text.startswith('<meta http-equiv="Refresh"'):
            continue
        found = re.findall(r'<link rel="alternate" type="application/atom\+xml" title="[^"]*" href="([^"]+)"', text)
        depth = len(page.relative_to(released / "_build" / "html").parts) - 1
        if found != ["../" * depth + "feed.xml"]:
            missing.append(f"{page.name}: {found}")
    assert len(pages) > 15 and not missing, missing
    home = html(released, "book/index")
    assert re.search(r'<a class="feed-link reference external" href="../feed.xml">', home) or \
        'href="../feed.xml"' in home
