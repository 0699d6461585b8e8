"""Build the versioned website: every release tag, plus the working tree as "dev".

Usage (what ``make site`` runs)::

    python -m tools.site [--repo .] [--out _build/site] [--baseurl /] [--no-dev]

Layout of the result::

    _build/site/
        index.html          redirects to the latest release (to dev/ while there is none)
        switcher.json       pydata-sphinx-theme version switcher; the latest release is "preferred"
        feed.xml            Atom feed of the releases, each saying whether the answer changed
        results.schema.json JSON Schema of the results snapshots (results/results.schema.json) ...
        schemas/            ... and each of its versions, at the address its $id names
        .nojekyll           GitHub Pages must serve _static/ and friends as they are
        26.0.0/             one complete Jupyter Book per release tag (YY.MINOR.PATCH) ...
        26.1.0/
        dev/                ... and the current working tree
        latest/             results.json, summary_of_findings.csv and the schema of the latest release:
                            a stable address for programs

Each version folder also holds its results snapshot (``results.json``), the summary-of-findings rows read from
it (``summary_of_findings.csv``, :func:`analysis.living.export.summary_of_findings`) and the schema its tree
carried (``results.schema.json``). Every page links the feed in its head (``feed_url``,
:mod:`analysis.book.pagemeta`).

How each version is built: the tag's tree is exported with ``git archive`` (the working tree's
files, tracked and untracked-but-not-ignored, for dev) into a temporary folder; that copy's
``_config.yml`` gets the version switcher, the version banner and the version text in the footer;
``jupyter-book build`` runs with the copy's own ``analysis`` package first on ``PYTHONPATH``, so
an old release is computed by the code it was released with. Private data (``data/private``) is
ignored by git and never reaches a published build.

Immutable archive: a release folder records the commit it was built from
(``<version>/.version-build.json``). When it matches the tag, the folder is reused untouched, so
publishing 26.1.0 never changes a byte of 26.0.0. If a tag was moved to another commit, the
build stops and says so: a published version is not silently replaced. The "old version" banner
is shown by the theme's JavaScript, which compares the page's version with the ``preferred``
entry of ``switcher.json``; a release therefore becomes "old" without being rebuilt.

Sub-paths: ``--baseurl`` (``SITE_BASEURL`` in the Makefile) is the path the site is served
under: ``/`` at the root of a host, ``/scb-living-review/`` for a GitHub Pages project site. Only
the switcher needs it; every other link in a Sphinx build is relative.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from analysis.living.snapshot import DEV, is_release_version, parse_version

#: File in each published version folder recording what it was built from.
STAMP = ".version-build.json"
#: Environment variable holding the version being built ("dev" or YY.MINOR.PATCH) during a
#: site build: the file VERSION holds the latest release, which is not what a dev build shows.
VERSION_ENV = "REVIEW_BUILD_VERSION"
#: Function computing the results payload of a tree (see tools/release.py).
DEFAULT_PAYLOAD = "tools.release:review_payload"
JB_FLAGS = ("-W", "--keep-going")
#: The pinned dependency set (compared between a release and the building environment).
LOCK = "requirements/lock.txt"
#: The JSON Schema of the results snapshots, in a project's tree.
SCHEMA = "results/results.schema.json"
#: The page of a version that says what changed in it (the feed's entries link to it).
CHANGES_PAGE = "book/changes.html"
#: Folder with the latest release's machine-readable results (a stable address).
LATEST = "latest"


class SiteError(RuntimeError):
    """A problem that stops the site build; the message says what to do."""


@dataclass(frozen=True)
class Version:
    """One version of the site: a release tag or the working tree."""

    name: str
    commit: str  # the tag's commit; for dev, HEAD's commit ("" in a repository without commits)
    date: str  # ISO date of the tag's commit (dev: the build date)

    @property
    def is_release(self) -> bool:
        return self.name != DEV


@dataclass
class SiteReport:
    """What :func:`build_site` did."""

    built: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    latest: str | None = None


# --------------------------------------------------------------------------------------------
# git


def git(repo: Path, *args: str) -> str:
    """Output of a git command run in ``repo``; a failure becomes a :class:`SiteError`."""
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SiteError(f"git {' '.join(args)} failed in {repo}: {done.stderr.strip()}")
    return done.stdout


def release_tags(repo: Path) -> list[Version]:
    """Release tags (names ``YY.MINOR.PATCH``), oldest first, with their commit and date."""
    lines = git(
        repo,
        "for-each-ref",
        "refs/tags",
        "--format=%(refname:short)\t%(*objectname)\t%(objectname)",
    ).splitlines()
    versions = []
    for line in lines:
        name, peeled, direct = line.split("\t")
        if not is_release_version(name):
            continue
        commit = peeled or direct  # annotated tags peel to their commit
        date = git(repo, "log", "-1", "--format=%cs", commit).strip()
        versions.append(Version(name, commit, date))
    return sorted(versions, key=lambda v: parse_version(v.name))


def dev_version(repo: Path) -> Version:
    """The working tree, labelled ``dev``."""
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "-q", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return Version(DEV, head, dt.date.today().isoformat())


def export_tag(repo: Path, version: Version, dest: Path) -> None:
    """Extract the tree of ``version``'s commit into ``dest`` with ``git archive``."""
    done = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", version.commit],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise SiteError(f"git archive {version.name} failed: {done.stderr.decode().strip()}")
    archive = dest.parent / f"{dest.name}.tar"
    archive.write_bytes(done.stdout)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()


def export_worktree(repo: Path, dest: Path) -> None:
    """Copy the working tree's tracked and untracked-but-not-ignored files into ``dest``."""
    listing = git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listing.split("\0")):
        src = repo / name
        if not src.is_file():  # deleted in the working tree but still in the index
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


# --------------------------------------------------------------------------------------------
# configuration of one version's build


def join_url(baseurl: str, *parts: str) -> str:
    """``baseurl`` (normalised to start and end with ``/``) followed by ``parts``."""
    base = "/" + baseurl.strip("/") + "/" if baseurl.strip("/") else "/"
    return base + "/".join(p.strip("/") for p in parts if p)


def footer_text(version: Version, previous: str | None) -> str:
    """The version line shown at the foot of every page."""
    if version.is_release:
        return f"Version {version.name}, released {version.date}."
    after = f" (changes after {previous})" if previous else ""
    return f"Development version{after}, built {version.date}; not a release."


def configure(project: Path, version: Version, baseurl: str, previous: str | None) -> None:
    """Add the version switcher, version banner and version footer to a copy's ``_config.yml``."""
    path = project / "_config.yml"
    if not path.is_file():
        raise SiteError(f"{version.name}: no _config.yml in its tree; it cannot be built")
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    sphinx = config.setdefault("sphinx", {})
    sphinx["recursive_update"] = True
    cfg = sphinx.setdefault("config", {}) or {}
    sphinx["config"] = cfg
    cfg["version"] = version.name
    cfg["release"] = version.name
    theme = cfg.setdefault("html_theme_options", {}) or {}
    cfg["html_theme_options"] = theme
    theme["switcher"] = {
        "json_url": join_url(baseurl, "switcher.json"),
        "version_match": version.name,
    }
    theme["check_switcher"] = False
    theme["show_version_warning_banner"] = True
    navbar_end = list(theme.get("navbar_end") or [])
    theme["navbar_end"] = ["version-switcher", *[n for n in navbar_end if n != "version-switcher"]]
    html_section = config.setdefault("html", {}) or {}
    config["html"] = html_section
    existing = html_section.get("extra_footer") or ""
    line = f'<p class="review-version">{html.escape(footer_text(version, previous))}</p>'
    html_section["extra_footer"] = line + existing
    cfg["feed_url"] = "../feed.xml"  # the site root's feed, from each version's own root
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")


def jupyter_book() -> str:
    """The ``jupyter-book`` executable next to the running Python (the project's .venv)."""
    beside = Path(sys.executable).with_name("jupyter-book")
    return str(beside) if beside.exists() else "jupyter-book"


def build_book(project: Path, name: str, jb_flags: Sequence[str]) -> Path:
    """Build the Jupyter Book in ``project`` with its own ``analysis`` package; return _build/html."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project), env.get("PYTHONPATH")]))
    env[VERSION_ENV] = name  # chapters can tell a release build from dev (see VERSION_ENV)
    print(f"==> building {name}", flush=True)
    done = subprocess.run(
        [jupyter_book(), "build", str(project), *jb_flags],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SiteError(
            f"building version {name} failed:\n{build_failure(done.stdout + done.stderr)}"
        )
    return project / "_build" / "html"


def build_failure(log: str) -> str:
    """The useful part of a failed build's log: the failing cell and its error, else the tail."""
    lines = re.sub(r"\x1b\[[0-9;]*m", "", log).splitlines()
    for i, line in enumerate(lines):
        if "An error occurred while executing the following cell" in line:
            return "\n".join(lines[i : i + 30])
    warnings = [line for line in lines if "WARNING" in line or "ERROR" in line]
    return "\n".join(warnings[:20] or lines[-40:])


# --------------------------------------------------------------------------------------------
# the published folders


def read_stamp(folder: Path) -> dict[str, Any] | None:
    """The build record of a published version folder (``None`` when absent)."""
    path = folder / STAMP
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def reusable(folder: Path, version: Version) -> bool:
    """Whether a published release folder was built from ``version``'s commit.

    Raises
    ------
    SiteError
        When the folder exists but was built from another commit, or carries no build record:
        released versions are immutable, so this needs a deliberate decision.
    """
    if not folder.exists():
        return False
    stamp = read_stamp(folder)
    if stamp is None:
        raise SiteError(
            f"{folder} exists but has no {STAMP}; cannot tell what it was built from. "
            "Remove it to rebuild that version deliberately."
        )
    if stamp.get("commit") != version.commit:
        raise SiteError(
            f"release {version.name} was published from commit {stamp.get('commit')} but the tag "
            f"now points at {version.commit}. Released versions are immutable: make a new "
            f"release instead, or remove {folder} to republish deliberately."
        )
    return True


def write_results(folder: Path, snapshot: Path | None, schema: Path | None) -> None:
    """Write a version's machine-readable results into ``folder``: ``results.json`` (the snapshot),
    ``summary_of_findings.csv`` read from it and ``results.schema.json`` (when given)."""
    from analysis.living.export import summary_of_findings
    from analysis.living.snapshot import read_snapshot

    folder.mkdir(parents=True, exist_ok=True)
    if snapshot is not None and snapshot.is_file():
        shutil.copy2(snapshot, folder / "results.json")
        rows = summary_of_findings(read_snapshot(snapshot).results)
        rows.to_csv(folder / "summary_of_findings.csv", index=False, lineterminator="\n")
    if schema is not None and schema.is_file():
        shutil.copy2(schema, folder / "results.schema.json")


def publish(html_dir: Path, folder: Path, version: Version, snapshot: Path | None,
            schema: Path | None = None) -> None:
    """Replace ``folder`` with the built HTML, its results (:func:`write_results`) and its build record."""
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(html_dir, folder)
    write_results(folder, snapshot, schema)
    stamp = {"version": version.name, "commit": version.commit, "date": version.date}
    (folder / STAMP).write_text(json.dumps(stamp, indent=1) + "\n", encoding="utf-8")


def switcher_entries(releases: Sequence[str], baseurl: str, dev: bool) -> list[dict[str, Any]]:
    """pydata-sphinx-theme switcher entries: releases newest first, then the development version.

    The newest release is marked ``preferred`` and named "<version> (latest)"; a reader sees the
    version to cite first and the unreleased working tree last.
    """
    entries: list[dict[str, Any]] = []
    ordered = sorted(releases, key=parse_version, reverse=True)
    for i, name in enumerate(ordered):
        entry: dict[str, Any] = {"version": name, "url": join_url(baseurl, name) + "/"}
        entry["name"] = f"{name} (latest)" if i == 0 else name
        if i == 0:
            entry["preferred"] = True
        entries.append(entry)
    if dev:
        entries.append({"name": "dev", "version": DEV, "url": join_url(baseurl, DEV) + "/"})
    return entries


REDIRECT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Redirecting to version {target}</title>
<meta http-equiv="refresh" content="0; url={target}/">
<link rel="canonical" href="{target}/">
</head>
<body>
<p>The latest version of this living review is <a href="{target}/">{target}</a>.
All versions: <a href="switcher.json">switcher.json</a>.</p>
</body>
</html>
"""


def write_root(out: Path, entries: list[dict[str, Any]], latest: str) -> None:
    """Write ``switcher.json``, the redirecting ``index.html`` and ``.nojekyll``."""
    (out / "switcher.json").write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
    (out / "index.html").write_text(REDIRECT.format(target=html.escape(latest)), encoding="utf-8")
    (out / ".nojekyll").write_text("", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# orchestration


def dev_snapshot(project: Path, dest: Path, payload: str = DEFAULT_PAYLOAD) -> Path | None:
    """Write the dev results snapshot of ``project`` with ``tools.release snapshot``.

    Returns ``None`` (after saying so) when the project has no payload function yet.
    """
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project), here, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.release",
            "snapshot",
            "--root",
            str(project),
            "--out",
            str(dest),
            "--payload",
            payload,
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        return dest
    print(f"    no dev results snapshot: {done.stderr.strip().splitlines()[-1:]}", flush=True)
    return None


def note_dependencies(repo: Path, project: Path, name: str, lock: str = LOCK) -> None:
    """Say so when a release pinned other dependencies than the environment building it."""
    old, new = project / lock, repo / lock
    if old.is_file() and new.is_file() and old.read_bytes() != new.read_bytes():
        print(
            f"    note: {name} pinned other dependencies ({lock}) than the environment "
            "building it; its own analysis package is used, the installed libraries are current"
        )


def build_version(
    repo: Path,
    version: Version,
    out: Path,
    baseurl: str,
    previous: str | None,
    jb_flags: Sequence[str],
    payload: str = DEFAULT_PAYLOAD,
) -> None:
    """Export, configure, build and publish one version into ``out/<version>``."""
    with tempfile.TemporaryDirectory(prefix=f"site-{version.name}-") as tmp:
        project = Path(tmp) / "project"
        project.mkdir()
        if version.is_release:
            export_tag(repo, version, project)
            snapshot = project / "results" / f"{version.name}.json"
            note_dependencies(repo, project, version.name)
        else:
            export_worktree(repo, project)
            snapshot = dev_snapshot(project, repo / "_build" / "results" / "dev.json", payload)
        configure(project, version, baseurl, previous)
        html_dir = build_book(project, version.name, jb_flags)
        publish(html_dir, out / version.name, version, snapshot, project / SCHEMA)


def build_site(
    repo: Path,
    out: Path,
    baseurl: str = "/",
    include_dev: bool = True,
    jb_flags: Sequence[str] = JB_FLAGS,
    payload: str = DEFAULT_PAYLOAD,
) -> SiteReport:
    """Build every release tag (reusing unchanged ones) and dev into ``out``; see module doc."""
    repo, out = repo.resolve(), out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    releases = release_tags(repo)
    report = SiteReport(latest=releases[-1].name if releases else None)
    previous: str | None = None
    for version in releases:
        if reusable(out / version.name, version):
            print(f"==> {version.name}: already published from {version.commit[:10]}, kept as is")
            report.reused.append(version.name)
        else:
            build_version(repo, version, out, baseurl, previous, jb_flags)
            report.built.append(version.name)
        previous = version.name
    if include_dev:
        build_version(repo, dev_version(repo), out, baseurl, previous, jb_flags, payload)
        report.built.append(DEV)
    names = [v.name for v in releases]
    entries = switcher_entries(names, baseurl, include_dev)
    if not entries:
        raise SiteError("nothing to publish: no release tag and --no-dev given")
    write_root(out, entries, report.latest or DEV)
    write_feed(repo, out / "feed.xml", baseurl, names)
    publish_schema(repo / SCHEMA, out)
    if report.latest:
        shutil.rmtree(out / LATEST, ignore_errors=True)
        write_results(out / LATEST, repo / "results" / f"{report.latest}.json", repo / SCHEMA)
    stale = sorted(
        p.name
        for p in out.iterdir()
        if p.is_dir() and is_release_version(p.name) and p.name not in names
    )
    if stale:
        print(f"    note: {', '.join(stale)} published earlier but no longer tagged; not listed")
    return report


def publish_schema(schema: Path, out: Path) -> None:
    """Copy the results schema to the site root (``results.schema.json``) and to the versioned address its
    ``$id`` names (``schemas/results-<schema version>.json``), where it stays when a later version changes it."""
    if not schema.is_file():
        return
    shutil.copy2(schema, out / "results.schema.json")
    name = str(json.loads(schema.read_text(encoding="utf-8")).get("$id", "")).rstrip("/").rsplit("/", 1)[-1]
    if re.fullmatch(r"[A-Za-z0-9._-]+\.json", name):
        (out / "schemas").mkdir(exist_ok=True)
        shutil.copy2(schema, out / "schemas" / name)


def write_feed(repo: Path, path: Path, baseurl: str = "/", versions: Sequence[str] | None = None) -> Path:
    """Write the Atom feed of the releases (``results/<version>.json`` of ``repo``; only ``versions`` when
    given) to ``path`` (:func:`analysis.book.feed.release_feed`).

    The feed's title and author come from ``_config.yml``; its id and each entry's id from the repository
    address there (``repository.url``: the release's page ``<url>/releases/tag/<version>``); each entry links
    the version's "What changed" page on the site. A snapshot that recorded no answer is judged with the
    working tree's decision rules (``data/analysis_plan.yaml``, section ``alerts``).
    """
    from analysis.book.feed import release_feed
    from analysis.living.alerts import AlertRules
    from analysis.living.snapshot import list_snapshots, read_snapshot

    config = yaml.safe_load((repo / "_config.yml").read_text(encoding="utf-8")) or {}
    plan_path = repo / "data" / "analysis_plan.yaml"
    plan = yaml.safe_load(plan_path.read_text(encoding="utf-8")) if plan_path.is_file() else {}
    files = list_snapshots(repo / "results")
    snapshots = [read_snapshot(p) for v, p in files.items() if versions is None or v in versions]
    home = str((config.get("repository") or {}).get("url") or "").rstrip("/")
    title = str(config.get("title") or "Living review")
    feed = release_feed(
        snapshots, title=title, author=str(config.get("author") or title),
        feed_id=f"{home}/releases" if home else f"urn:living-review:{re.sub(r'[^a-z0-9]+', '-', title.lower())}",
        feed_url=join_url(baseurl, "feed.xml"), site_url=join_url(baseurl, ""),
        entry_url=lambda v: join_url(baseurl, v, CHANGES_PAGE),
        entry_id=lambda v: f"{home}/releases/tag/{v}" if home else f"{join_url(baseurl, v)}/",
        rules=AlertRules.from_plan(plan if isinstance(plan, dict) else {}),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(feed)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.site", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="git repository (default .)")
    parser.add_argument("--out", type=Path, default=Path("_build/site"), help="output folder")
    parser.add_argument("--baseurl", default="/", help="path the site is served under")
    parser.add_argument("--no-dev", action="store_true", help="publish releases only")
    parser.add_argument(
        "--jb-flags", default=" ".join(JB_FLAGS), help="flags for jupyter-book build"
    )
    parser.add_argument(
        "--payload", default=DEFAULT_PAYLOAD, help="module:function(root) for the dev snapshot"
    )
    parser.add_argument(
        "--feed", type=Path, default=None,
        help="only write the Atom feed of the releases to this file (make book: _build/html/feed.xml)",
    )
    args = parser.parse_args(argv)
    if args.feed is not None:
        print(f"feed of releases written to {write_feed(args.repo.resolve(), args.feed, args.baseurl)}")
        return 0
    flags = tuple(args.jb_flags.split())
    try:
        report = build_site(args.repo, args.out, args.baseurl, not args.no_dev, flags, args.payload)
    except SiteError as exc:
        print(f"make site: {exc}", file=sys.stderr)
        return 1
    out = args.out.resolve()
    print(
        f"\nVersioned site in {out} (built: {', '.join(report.built) or 'none'}; "
        f"kept: {', '.join(report.reused) or 'none'}; latest release: {report.latest or 'none'})"
    )
    print(f"Serve it with:  {sys.executable} -m http.server -b 127.0.0.1 -d {out}  then visit http://127.0.0.1:8000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
