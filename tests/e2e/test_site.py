"""Releases and the versioned site (issue 6), end to end in a temporary git repository.

The repository is a SYNTHETIC review: one chapter printing a number read from ``data/value.txt``,
a synthetic payload module (``synthreview.py``) and validator, the project's real ``_config.yml``
and real Sphinx extension. Releases are made with ``tools.release`` (what ``make release`` runs)
and the site with ``tools.site`` (what ``make site`` runs).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.living.snapshot import read_snapshot
from tests.buildutil import NOTEBOOK_FRONT_MATTER, ROOT
from tools import release as rel
from tools import site

CHAPTER = NOTEBOOK_FRONT_MATTER + """depends_on: [data/value.txt]
---

# Synthetic review

```{code-cell} ipython3
import pathlib
print("synthetic value is " + pathlib.Path("../data/value.txt").read_text().strip())
```
"""

PAYLOAD_MODULE = '''"""SYNTHETIC payload and validator for the release tests."""
import sys
from pathlib import Path


def payload(root):
    value = int((Path(root) / "data" / "value.txt").read_text())
    return {"outcomes": [{"outcome": "synthetic", "subgroup": "all", "estimate": value / 1000}]}


if __name__ == "__main__":
    text = Path("data/value.txt").read_text().strip()
    if not text.isdigit():
        print(f"data/value.txt: row 1: value {text!r} is not a whole number")
        sys.exit(1)
'''

CHANGELOG = """# Changelog

## Unreleased

### Data
- synthetic entry one
"""

CITATION = """cff-version: 1.2.0
title: "Synthetic review"
version: "0.0.0"
date-released: "2026-01-01"
"""

PAYLOAD = "synthreview:payload"
VALIDATE = "{python} -m synthreview"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def _commit_all(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)


def _release(repo: Path, version: str, trigger: str = "synthetic trigger", **kw) -> Path:
    return rel.release(
        repo,
        version,
        trigger,
        kw.pop("date", dt.date(2026, 12, 1)),
        payload_spec=PAYLOAD,
        validate=kw.pop("validate", VALIDATE),
    )


def _new_entry(repo: Path, value: str, note: str) -> None:
    """Change the synthetic data and describe it under Unreleased, then commit."""
    (repo / "data" / "value.txt").write_text(value + "\n")
    log = (repo / "CHANGELOG.md").read_text()
    (repo / "CHANGELOG.md").write_text(
        log.replace("## Unreleased\n", f"## Unreleased\n\n- {note}\n", 1)
    )
    _commit_all(repo, note)


def synthetic_repo(root: Path) -> Path:
    """Create a synthetic review in a fresh git repository at ``root``: one commit, no release."""
    (root / "book").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "results").mkdir()
    (root / "analysis" / "book").mkdir(parents=True)
    shutil.copy2(ROOT / "_config.yml", root / "_config.yml")
    # The Sphinx extension and the parts it loads (formulas, page metadata, theme trimming, icon fonts).
    for module in ("sphinxext", "mathml", "pagemeta", "themetrim", "iconfonts"):
        shutil.copy2(ROOT / "analysis" / "book" / f"{module}.py", root / "analysis" / "book" / f"{module}.py")
    (root / "_static").mkdir()
    shutil.copy2(ROOT / "_static" / "favicon.svg", root / "_static" / "favicon.svg")  # named in _config.yml
    (root / "analysis" / "__init__.py").write_text('"""Synthetic copy of the extension."""\n')
    (root / "analysis" / "book" / "__init__.py").write_text('"""Synthetic copy of the extension."""\n')
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/index\n")
    (root / "references.bib").write_text("@misc{synthetic2026, title={Synthetic}, year={2026}}\n")
    (root / "book" / "index.md").write_text(CHAPTER)
    (root / "data" / "value.txt").write_text("111\n")
    (root / "results" / ".gitkeep").write_text("")
    (root / "synthreview.py").write_text(PAYLOAD_MODULE)
    (root / "VERSION").write_text("26.0.0\n")
    (root / "CHANGELOG.md").write_text(CHANGELOG)
    (root / "CITATION.cff").write_text(CITATION)
    (root / ".gitignore").write_text("_build/\n__pycache__/\ndata/private/\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "synthetic@example.org")
    _git(root, "config", "user.name", "Synthetic Tester")
    _commit_all(root, "synthetic review")
    return root


def release_synthetic(repo: Path, version: str, value: str | None = None) -> None:
    """Release ``version`` of a synthetic repository, after changing its value when given."""
    if value is not None:
        _new_entry(repo, value, f"synthetic value {value}")
    _release(repo, version, f"synthetic release {version}")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A synthetic review in a fresh git repository, one commit, no release yet."""
    return synthetic_repo(tmp_path / "repo")


# ---- make release -------------------------------------------------------------------------


def test_release_writes_snapshot_updates_files_commits_and_tags(repo: Path) -> None:
    path = _release(repo, "26.0.0", "first synthetic version")
    assert path == repo / "results" / "26.0.0.json"
    snap = read_snapshot(path)
    assert snap.version == "26.0.0" and snap.trigger == "first synthetic version"
    assert snap.date == dt.date(2026, 12, 1)
    assert snap.results == {
        "outcomes": [{"outcome": "synthetic", "subgroup": "all", "estimate": 0.111}]
    }
    assert snap.data_files == {"data/value.txt": hashlib.sha256(b"111\n").hexdigest()}
    assert snap.private_data_used is False
    assert (repo / "VERSION").read_text() == "26.0.0\n"
    assert (repo / "CHANGELOG.md").read_text() == (
        "# Changelog\n\n## Unreleased\n\n## 26.0.0 (2026-12-01)\n\n"
        "Trigger: first synthetic version\n\n### Data\n- synthetic entry one\n"
    )
    citation = (repo / "CITATION.cff").read_text()
    assert 'version: "26.0.0"' in citation and 'date-released: "2026-12-01"' in citation
    assert _git(repo, "status", "--porcelain") == ""
    assert _git(repo, "tag", "--list").split() == ["26.0.0"]
    assert _git(repo, "log", "-1", "--format=%s") == "Release 26.0.0: first synthetic version\n"
    shown = _git(repo, "show", "--name-only", "--format=", "26.0.0^{commit}").split()
    # VERSION already read 26.0.0, so the release commit does not touch it
    assert sorted(shown) == ["CHANGELOG.md", "CITATION.cff", "results/26.0.0.json"]
    _new_entry(repo, "222", "second synthetic value")
    _release(repo, "26.1.0")
    assert (repo / "VERSION").read_text() == "26.1.0\n"
    assert "VERSION" in _git(repo, "show", "--name-only", "--format=", "26.1.0^{commit}").split()


def test_release_records_private_data_use_without_content(repo: Path) -> None:
    private = repo / "data" / "private"
    private.mkdir()
    (private / "synthetic_ipd.csv").write_text("patient_id,marker\nP1,QQZX\n")  # git-ignored
    text = _release(repo, "26.0.0").read_text()
    assert json.loads(text)["private_data_used"] is True
    assert "QQZX" not in text and "synthetic_ipd" not in text


def _unchanged(repo: Path):
    state = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    return state, _git(repo, "rev-parse", "HEAD"), _git(repo, "tag", "--list")


def test_existing_released_snapshot_is_not_overwritten(repo: Path) -> None:
    sentinel = '{"synthetic": "already released"}\n'
    (repo / "results" / "26.0.0.json").write_text(sentinel)
    _commit_all(repo, "a snapshot that exists already")
    before = _unchanged(repo)
    with pytest.raises(rel.ReleaseError, match="never rewritten"):
        _release(repo, "26.0.0")
    assert _unchanged(repo) == before
    assert (repo / "results" / "26.0.0.json").read_text() == sentinel


def test_make_release_refuses_to_overwrite_a_snapshot(repo: Path) -> None:
    """The same, through the Makefile target a maintainer runs."""
    for name in ("Makefile", "pyproject.toml", "requirements/lock.txt"):
        (repo / name).parent.mkdir(exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)  # same contents and times: `setup` is up to date
    (repo / "results" / "26.0.0.json").write_text("{}\n")
    _commit_all(repo, "snapshot exists")
    venv = Path(sys.executable).parent.parent
    done = subprocess.run(
        ["make", "-s", "release", "VERSION=26.0.0", "TRIGGER=synthetic", f"VENV={venv}",
         f"PYTHONPATH={ROOT}"],
        cwd=repo, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "never rewritten" in done.stderr
    assert (repo / "results" / "26.0.0.json").read_text() == "{}\n"


def test_dirty_tree_is_refused(repo: Path) -> None:
    (repo / "notes.txt").write_text("untracked synthetic file\n")
    before = _unchanged(repo)
    with pytest.raises(rel.ReleaseError, match="not clean"):
        _release(repo, "26.0.0")
    assert _unchanged(repo) == before


def test_failed_validation_is_refused(repo: Path) -> None:
    (repo / "data" / "value.txt").write_text("eleven\n")
    _commit_all(repo, "bad synthetic value")
    before = _unchanged(repo)
    with pytest.raises(rel.ReleaseError, match="row 1: value 'eleven' is not a whole number"):
        _release(repo, "26.0.0")
    assert _unchanged(repo) == before


def test_version_must_be_new_and_well_formed(repo: Path) -> None:
    _release(repo, "26.1.0")
    _new_entry(repo, "222", "synthetic change")
    for bad, message in (
        ("26.1.0", "already tagged"),
        ("26.0.5", "not newer"),
        ("26.2", "YY.MINOR.PATCH"),
    ):
        with pytest.raises((rel.ReleaseError, ValueError), match=message):
            _release(repo, bad)
    with pytest.raises(rel.ReleaseError, match="TRIGGER is empty"):
        _release(repo, "26.2.0", trigger=" ")


def test_patch_release_must_leave_results_identical(repo: Path) -> None:
    _release(repo, "26.0.0")
    _new_entry(repo, "112", "synthetic value corrected")
    with pytest.raises(rel.ReleaseError, match=r"PATCH release but results differ from 26\.0\.0"):
        _release(repo, "26.0.1")
    assert _release(repo, "26.1.0").name == "26.1.0.json"


def test_patch_release_with_identical_results(repo: Path) -> None:
    _release(repo, "26.0.0")
    (repo / "book" / "index.md").write_text(CHAPTER.replace("# Synthetic review", "# Synthetic"))
    log = (repo / "CHANGELOG.md").read_text()
    (repo / "CHANGELOG.md").write_text(log.replace("## Unreleased\n", "## Unreleased\n\n- title\n"))
    _commit_all(repo, "title fixed")
    assert (
        read_snapshot(_release(repo, "26.0.1")).results
        == read_snapshot(repo / "results" / "26.0.0.json").results
    )


def test_empty_unreleased_section_is_refused(repo: Path) -> None:
    _release(repo, "26.0.0")
    (repo / "data" / "value.txt").write_text("222\n")
    _commit_all(repo, "undocumented change")
    with pytest.raises(rel.ReleaseError, match="'Unreleased' section is empty"):
        _release(repo, "26.1.0")


def test_year_must_match_the_latest_search(repo: Path) -> None:
    (repo / "data" / "search_flow.yaml").write_text(
        "versions:\n  - version: '25.0.0'\n    search_date: 2025-10-01\n"
    )
    _commit_all(repo, "synthetic search flow")
    with pytest.raises(rel.ReleaseError, match=r"latest search \(2025-10-01\), i\.e\. 25"):
        _release(repo, "26.0.0")


def test_changelog_release_keeps_older_sections() -> None:
    text = "# Log\n\n## Unreleased (26.1.0)\n\n- b\n\n## 26.0.0 (2026-01-01)\n\n- a\n"
    out = rel.changelog_release(text, "26.1.0", dt.date(2026, 6, 1), "synthetic")
    assert out == (
        "# Log\n\n## Unreleased\n\n## 26.1.0 (2026-06-01)\n\nTrigger: synthetic\n\n- b\n\n"
        "## 26.0.0 (2026-01-01)\n\n- a\n"
    )


def test_citation_release_requires_both_keys() -> None:
    with pytest.raises(rel.ReleaseError, match="no 'date-released:' line"):
        rel.citation_release('version: "1"\n', "26.0.0", dt.date(2026, 1, 1))


# ---- make site ----------------------------------------------------------------------------


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _page(out: Path, version: str) -> str:
    return (out / version / "book" / "index.html").read_text(encoding="utf-8")


@pytest.mark.build
def test_versioned_site_two_releases_and_dev(repo: Path) -> None:
    out = repo.parent / "site"
    _release(repo, "26.0.0", "first synthetic version")
    _new_entry(repo, "222", "second synthetic value")
    _release(repo, "26.1.0", "second synthetic version")
    (repo / "data" / "value.txt").write_text("333\n")  # uncommitted: only dev has it

    first = site.build_site(repo, out, baseurl="/review/", payload=PAYLOAD)
    assert first.built == ["26.0.0", "26.1.0", "dev"] and first.latest == "26.1.0"

    # the switcher lists all three; the latest release is preferred
    entries = json.loads((out / "switcher.json").read_text())
    assert [(e["version"], e["url"], e.get("preferred", False)) for e in entries] == [
        ("26.1.0", "/review/26.1.0/", True),
        ("26.0.0", "/review/26.0.0/", False),
        ("dev", "/review/dev/", False),
    ]
    # each version shows its own data and its own version
    for version, value in (("26.0.0", "111"), ("26.1.0", "222"), ("dev", "333")):
        page = _page(out, version)
        assert f"synthetic value is {value}" in page
        assert re.search(rf"theme_switcher_version_match = '{re.escape(version)}'", page)
        assert "theme_switcher_json_url = '/review/switcher.json'" in page
        assert "version-switcher__container" in page
        assert "show_version_warning_banner =\n            true" in page
        assert 'id="bd-header-version-warning"' in page
    assert "Version 26.0.0, released" in _page(out, "26.0.0")
    assert "Development version (changes after 26.1.0)" in _page(out, "dev")
    # the old release is older than the preferred entry, which is what makes the theme show
    # its "old version" banner (rendered by JavaScript; seen in tests/e2e/test_browser.py)
    assert (
        "VERSION: '26.0.0'" in (out / "26.0.0" / "_static" / "documentation_options.js").read_text()
    )
    # root redirects to the latest release
    assert 'url=26.1.0/"' in (out / "index.html").read_text()
    assert (out / ".nojekyll").exists()
    # each version folder carries its snapshot; dev's is computed from the working tree
    old = read_snapshot(out / "26.0.0" / "results.json")
    assert old.results["outcomes"][0]["estimate"] == 0.111
    dev = read_snapshot(repo / "_build" / "results" / "dev.json")
    assert dev.version == "dev" and dev.results["outcomes"][0]["estimate"] == 0.333
    dev_copy = (out / "dev" / "results.json").read_bytes()
    assert dev_copy == (repo / "_build" / "results" / "dev.json").read_bytes()
    # the version is shown on every page of every version (footer and switcher)
    for version in ("26.0.0", "26.1.0", "dev"):
        pages = [p for p in (out / version).rglob("*.html") if "_static" not in p.parts]
        assert len(pages) >= 3
        for page in pages:
            text = page.read_text(encoding="utf-8")
            if text.startswith('<meta http-equiv="Refresh"'):
                continue  # Jupyter Book's one-line redirect from <version>/ to the root chapter
            assert 'class="review-version"' in text, page
            assert f"theme_switcher_version_match = '{version}'" in text, page


@pytest.mark.build
def test_new_release_leaves_older_version_byte_for_byte_unchanged(repo: Path) -> None:
    out = repo.parent / "site"
    _release(repo, "26.0.0")
    site.build_site(repo, out)
    before = _hashes(out / "26.0.0")
    assert "book/index.html" in before

    _new_entry(repo, "222", "second synthetic value")
    _release(repo, "26.1.0")
    report = site.build_site(repo, out)
    assert report.reused == ["26.0.0"] and report.built == ["26.1.0", "dev"]
    assert _hashes(out / "26.0.0") == before
    assert "synthetic value is 222" in _page(out, "26.1.0")
    assert 'url=26.1.0/"' in (out / "index.html").read_text()
    preferred = [
        e["version"] for e in json.loads((out / "switcher.json").read_text()) if e.get("preferred")
    ]
    assert preferred == ["26.1.0"]


def test_moved_tag_is_refused_not_republished(tmp_path: Path) -> None:
    folder = tmp_path / "26.0.0"
    folder.mkdir()
    (folder / site.STAMP).write_text(json.dumps({"version": "26.0.0", "commit": "a" * 40}))
    assert site.reusable(folder, site.Version("26.0.0", "a" * 40, "2026-01-01"))
    with pytest.raises(site.SiteError, match="immutable"):
        site.reusable(folder, site.Version("26.0.0", "b" * 40, "2026-01-01"))
    (folder / site.STAMP).unlink()
    with pytest.raises(site.SiteError, match=r"no \.version-build\.json"):
        site.reusable(folder, site.Version("26.0.0", "a" * 40, "2026-01-01"))
    assert not site.reusable(tmp_path / "26.1.0", site.Version("26.1.0", "c" * 40, "2026-01-01"))


def test_switcher_entries_sort_versions_numerically() -> None:
    entries = site.switcher_entries(["26.9.0", "26.10.0", "25.3.1"], "/", dev=False)
    assert [e["version"] for e in entries] == ["26.10.0", "26.9.0", "25.3.1"]
    assert [e.get("preferred", False) for e in entries] == [True, False, False]
    assert entries[0]["name"] == "26.10.0 (latest)" and entries[0]["url"] == "/26.10.0/"


@pytest.mark.parametrize(
    ("base", "expected"),
    [("/", "/switcher.json"), ("", "/switcher.json"), ("review", "/review/switcher.json"),
     ("/review/", "/review/switcher.json"), ("/a/b", "/a/b/switcher.json")],
)  # fmt: skip
def test_join_url_normalises_the_base(base: str, expected: str) -> None:
    assert site.join_url(base, "switcher.json") == expected


def test_configure_keeps_existing_theme_options(tmp_path: Path) -> None:
    shutil.copy2(ROOT / "_config.yml", tmp_path / "_config.yml")
    site.configure(tmp_path, site.Version("26.0.0", "a" * 40, "2026-02-03"), "/r/", None)
    import yaml

    config = yaml.safe_load((tmp_path / "_config.yml").read_text())
    original = yaml.safe_load((ROOT / "_config.yml").read_text())
    theme = config["sphinx"]["config"]["html_theme_options"]
    assert theme["switcher"] == {"json_url": "/r/switcher.json", "version_match": "26.0.0"}
    assert theme["navbar_end"][0] == "version-switcher"
    assert config["sphinx"]["recursive_update"] is True
    assert config["sphinx"]["config"]["version"] == "26.0.0"
    assert "Version 26.0.0, released 2026-02-03." in config["html"]["extra_footer"]
    for key, value in original.get("html", {}).items():
        if key != "extra_footer":
            assert config["html"][key] == value
    assert config["title"] == original["title"]


def test_site_command_with_nothing_to_publish_fails_clearly(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert site.main(["--repo", str(repo), "--out", str(repo.parent / "s"), "--no-dev"]) == 1
    assert "nothing to publish" in capsys.readouterr().err


def test_dependency_note_names_the_release(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    for folder, pins in (("repo", "numpy==2.0\n"), ("tag", "numpy==1.26\n")):
        (tmp_path / folder / "requirements").mkdir(parents=True)
        (tmp_path / folder / "requirements" / "lock.txt").write_text(pins)
    site.note_dependencies(tmp_path / "repo", tmp_path / "tag", "26.0.0")
    assert "26.0.0 pinned other dependencies" in capsys.readouterr().out
    (tmp_path / "tag" / "requirements" / "lock.txt").write_text("numpy==2.0\n")
    site.note_dependencies(tmp_path / "repo", tmp_path / "tag", "26.0.0")
    assert capsys.readouterr().out == ""
