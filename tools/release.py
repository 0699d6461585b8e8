"""Release a version of the living review, or write a results snapshot.

Usage::

    python -m tools.release release 26.1.0 --trigger "new series added (search of 2026-11-25)"
    python -m tools.release snapshot [--out _build/results/dev.json]

``release`` (what ``make release VERSION=... TRIGGER="..."`` runs), in this order, stopping at
the first problem and changing nothing until every check has passed:

1. checks the version: ``YY.MINOR.PATCH``, newer than every release tag and than ``VERSION``, not
   tagged yet, no snapshot ``results/<version>.json`` yet (released snapshots are never rewritten);
   YY must be the two-digit year of the latest search when ``data/search_flow.yaml`` exists;
2. refuses a dirty working tree (uncommitted or untracked files);
3. runs the data validator (``python -m analysis validate``);
4. computes the results payload (:func:`review_payload`) and whether the answer changed since the previous
   release by the plan's decision rules (:func:`answer_since_previous`, recorded in the snapshot as ``answer``)
   and, for a PATCH release, refuses when any result differs from the previous release's snapshot;
5. checks that CHANGELOG.md has a non-empty "Unreleased" section and that CITATION.cff has
   ``version`` and ``date-released`` lines;
6. writes ``results/<version>.json``, ``VERSION``, the CHANGELOG ("Unreleased" becomes
   "<version> (<date>)" with the trigger, above a fresh empty "Unreleased") and CITATION.cff;
7. commits those four files and creates the annotated tag ``<version>``.

Pushing the commit and the tag, and the GitHub release that Zenodo archives, are left to the
maintainer (see RELEASING.md): they publish, and publishing is not undoable.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from analysis.living.snapshot import (
    DEV,
    Snapshot,
    data_digests,
    is_release_version,
    list_snapshots,
    make_snapshot,
    parse_version,
    previous_snapshot,
    private_data_present,
    read_snapshot,
    write_snapshot,
)

#: The function computing a tree's results payload, ``module:function(root) -> dict``.
DEFAULT_PAYLOAD = "tools.release:review_payload"
DEFAULT_VALIDATE = "{python} -m analysis validate"
UNRELEASED = re.compile(r"^## Unreleased\b.*$", re.MULTILINE)


class ReleaseError(RuntimeError):
    """A check that failed; the message says what to fix."""


# --------------------------------------------------------------------------------------------
# small readers


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def package_version(root: Path) -> str:
    """``[project] version`` of ``root/pyproject.toml`` (``"unknown"`` when there is none)."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return "unknown"
    with path.open("rb") as handle:
        return str(tomllib.load(handle).get("project", {}).get("version", "unknown"))


def review_payload(root: Path) -> dict[str, Any]:
    """This review's results payload: studies and pooled results per outcome and subgroup.

    Computed by :meth:`analysis.living.review.LivingReview.snapshot_payload` (the same numbers the
    book shows).
    """
    from analysis.living.review import LivingReview

    return LivingReview(Path(root).resolve()).snapshot_payload()


def load_payload_function(spec: str, root: Path) -> Callable[[Path], dict[str, Any]]:
    """Import ``module:function`` with ``root`` first on ``sys.path``."""
    module_name, _, func_name = spec.partition(":")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
        return getattr(module, func_name)
    except (ImportError, AttributeError) as exc:
        raise ReleaseError(f"cannot compute the results: {spec} is not available ({exc})") from None


def answer_since_previous(root: Path, version: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Whether the answer changed since the release before ``version`` (``dev``: the latest release), by the
    decision rules of the tree's plan (``data/analysis_plan.yaml``, section ``alerts``; none when absent)."""
    from analysis.living.alerts import AlertRules, evaluate

    plan_path = root / "data" / "analysis_plan.yaml"
    raw = yaml.safe_load(plan_path.read_text(encoding="utf-8")) if plan_path.is_file() else {}
    try:
        rules = AlertRules.from_plan(raw if isinstance(raw, dict) else {})
    except ValueError as exc:
        raise ReleaseError(f"{plan_path.relative_to(root)}: {exc}") from None
    previous = previous_snapshot(root / "results", version)
    answer = evaluate(rules, previous.results if previous else None, payload,
                      previous.version if previous else None)
    return answer.to_dict()


def build_snapshot(
    root: Path, version: str, date: dt.date, trigger: str, payload_spec: str = DEFAULT_PAYLOAD
) -> Snapshot:
    """Compute the payload of the tree at ``root`` and wrap it as a snapshot of ``version``, with the answer
    judged against the previous release (:func:`answer_since_previous`)."""
    payload = load_payload_function(payload_spec, root)(root)
    return make_snapshot(
        payload,
        version=version,
        date=date,
        trigger=trigger,
        package_version=package_version(root),
        data_files=data_digests(root),
        private_data_used=private_data_present(root),
        answer=answer_since_previous(root, version, payload),
    )


# --------------------------------------------------------------------------------------------
# checks


def release_tags(root: Path) -> list[str]:
    """Existing release tags, oldest first."""
    names = _git(root, "tag", "--list").split()
    return sorted((n for n in names if is_release_version(n)), key=parse_version)


def check_version(root: Path, version: str) -> str | None:
    """Check ``version`` against tags, VERSION and snapshots; return the previous release."""
    new = parse_version(version)
    tags = release_tags(root)
    if version in tags:
        raise ReleaseError(f"version {version} is already tagged; choose a new number")
    if tags and parse_version(tags[-1]) >= new:
        raise ReleaseError(f"version {version} is not newer than the latest release {tags[-1]}")
    current = (root / "VERSION").read_text(encoding="utf-8").strip()
    if is_release_version(current) and parse_version(current) > new:
        raise ReleaseError(f"version {version} is older than VERSION ({current})")
    snapshot = root / "results" / f"{version}.json"
    if snapshot.exists():
        raise ReleaseError(f"{snapshot} already exists; released snapshots are never rewritten")
    check_search_year(root, version)
    return tags[-1] if tags else None


def check_search_year(root: Path, version: str) -> None:
    """YY must be the two-digit year of the latest search (when a search-flow file exists)."""
    flow_path = root / "data" / "search_flow.yaml"
    if not flow_path.is_file():
        return
    flow = yaml.safe_load(flow_path.read_text(encoding="utf-8")) or {}
    dates = [v.get("search_date") for v in flow.get("versions", []) if v.get("search_date")]
    if not dates:
        return
    latest = max(dt.date.fromisoformat(str(d)) for d in dates)
    if parse_version(version)[0] != latest.year % 100:
        raise ReleaseError(
            f"version {version}: YY must be the year of the latest search ({latest}), "
            f"i.e. {latest.year % 100:02d}.MINOR.PATCH"
        )


def check_clean(root: Path) -> None:
    """Refuse uncommitted changes and untracked files."""
    status = _git(root, "status", "--porcelain", "--untracked-files=normal").strip()
    if status:
        raise ReleaseError(
            "the working tree is not clean; commit or remove these first:\n" + status
        )


def run_validator(root: Path, command: str) -> None:
    """Run the data validator; its output is shown when it fails."""
    argv = shlex.split(command.format(python=shlex.quote(sys.executable)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ReleaseError(f"validation failed ({command}):\n{done.stdout}{done.stderr}".rstrip())


def check_patch(root: Path, version: str, previous: str | None, snapshot: Snapshot) -> None:
    """A PATCH release must leave every result identical to the previous release."""
    if previous is None:
        return
    old_yy, old_minor, _ = parse_version(previous)
    new_yy, new_minor, _ = parse_version(version)
    if (old_yy, old_minor) != (new_yy, new_minor):
        return
    path = list_snapshots(root / "results").get(previous)
    if path is None:
        raise ReleaseError(f"results/{previous}.json is missing; cannot check a PATCH release")
    if read_snapshot(path).results != snapshot.results:
        raise ReleaseError(
            f"{version} is a PATCH release but results differ from {previous}; PATCH is for "
            "fixes that leave every result identical. Use a MINOR version."
        )


# --------------------------------------------------------------------------------------------
# file updates (pure text functions, then writes)


def changelog_release(text: str, version: str, date: dt.date, trigger: str) -> str:
    """Move the "Unreleased" section under ``## <version> (<date>)``, with the trigger."""
    match = UNRELEASED.search(text)
    if match is None:
        raise ReleaseError("CHANGELOG.md: no '## Unreleased' section to release")
    rest = text[match.end() :]
    following = re.search(r"^## ", rest, re.MULTILINE)
    body = rest[: following.start()] if following else rest
    if not body.strip():
        raise ReleaseError("CHANGELOG.md: the 'Unreleased' section is empty; describe the changes")
    released = (
        f"## Unreleased\n\n## {version} ({date.isoformat()})\n\n"
        f"Trigger: {trigger}\n\n{body.strip()}\n"
    )
    tail = rest[following.start() :] if following else ""
    return text[: match.start()] + released + ("\n" + tail if tail else "")


def citation_release(text: str, version: str, date: dt.date) -> str:
    """Set ``version`` and ``date-released`` in CITATION.cff, keeping everything else."""
    for key, value in (("version", version), ("date-released", date.isoformat())):
        pattern = re.compile(rf"^{key}:.*$", re.MULTILINE)
        if not pattern.search(text):
            raise ReleaseError(f"CITATION.cff: no '{key}:' line")
        text = pattern.sub(f'{key}: "{value}"', text, count=1)
    return text


def release(
    root: Path,
    version: str,
    trigger: str,
    date: dt.date,
    payload_spec: str = DEFAULT_PAYLOAD,
    validate: str = DEFAULT_VALIDATE,
) -> Path:
    """Check, snapshot, update the release files, commit and tag (see the module docstring)."""
    root = root.resolve()
    if not trigger.strip():
        raise ReleaseError("TRIGGER is empty: say why this version exists (PRISMA-LSR item L3)")
    previous = check_version(root, version)
    check_clean(root)
    run_validator(root, validate)
    snapshot = build_snapshot(root, version, date, trigger, payload_spec)
    check_patch(root, version, previous, snapshot)
    changelog = changelog_release(
        (root / "CHANGELOG.md").read_text(encoding="utf-8"), version, date, trigger.strip()
    )
    citation = citation_release((root / "CITATION.cff").read_text(encoding="utf-8"), version, date)
    path = write_snapshot(root / "results" / f"{version}.json", snapshot)
    (root / "CHANGELOG.md").write_text(changelog, encoding="utf-8")
    (root / "CITATION.cff").write_text(citation, encoding="utf-8")
    (root / "VERSION").write_text(version + "\n", encoding="utf-8")
    files = ["VERSION", "CHANGELOG.md", "CITATION.cff", str(path.relative_to(root))]
    _git(root, "add", "--", *files)
    message = f"Release {version}: {trigger.strip()}"
    _git(root, "commit", "-q", "-m", message, "--", *files)
    _git(root, "tag", "-a", version, "-m", message)
    return path


# --------------------------------------------------------------------------------------------
# command line


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date (YYYY-MM-DD)") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.release")
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="release a version (make release)")
    rel.add_argument("version", help="YY.MINOR.PATCH")
    rel.add_argument("--trigger", default="", help="why this version exists")
    snap = sub.add_parser("snapshot", help="write the results snapshot of the working tree")
    snap.add_argument("--out", type=Path, default=Path("_build/results/dev.json"))
    snap.add_argument("--trigger", default="unreleased working tree")
    for p in (rel, snap):
        p.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default .)")
        p.add_argument("--date", type=_date, default=dt.date.today(), help="ISO date")
        p.add_argument("--payload", default=DEFAULT_PAYLOAD, help="module:function(root) -> dict")
    rel.add_argument("--validate", default=DEFAULT_VALIDATE, help="validator command")
    args = parser.parse_args(argv)
    try:
        if args.command == "snapshot":
            snapshot = build_snapshot(
                args.root.resolve(), DEV, args.date, args.trigger, args.payload
            )
            path = write_snapshot(args.out, snapshot, overwrite=True)
            print(f"results snapshot written to {path}")
            return 0
        path = release(
            args.root, args.version, args.trigger, args.date, args.payload, args.validate
        )
    except (ReleaseError, ValueError, FileExistsError) as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    print(f"Released {args.version}: committed and tagged, snapshot {path}.")
    print(
        f"Next: git push origin HEAD {args.version}; then publish the GitHub release "
        "(Zenodo archives it and mints the version DOI). See RELEASING.md."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
