"""What a change to the evidence does to the results: ``python -m analysis diff [BASE_REF]``.

The command compares the working tree with a git ref (default ``origin/main`` when that exists,
else ``main``) and prints a Markdown report, written so that CI can append it to a pull
request's job summary (``$GITHUB_STEP_SUMMARY``):

* studies added, removed or updated (with the fields that changed);
* rows added, removed or updated in every other data table that has a primary key;
* per outcome and evidence set: k, N and the pooled estimate with its CI before and after,
  with what changed marked.

Both sides are computed by the **current** code: the evidence inputs of the base (the data
folder and the bibliography) are extracted with ``git archive`` into a temporary folder, and
those of the working tree are copied there too, so the report isolates the effect of the
evidence, not of a code change. The working-tree copy holds what git would commit (tracked and
untracked files, not ignored ones): private patient-level files, which git ignores, never enter
the comparison, and the report says when some were left out.

Errors (not a git repository, an unknown ref, invalid data on either side) are one line on
standard error and exit status 1; never a traceback. Nothing here knows this review's columns:
the study key comes from the data package descriptor (:func:`analysis.living.scaffold.study_table`),
and results are the records of :meth:`analysis.living.review.LivingReview.snapshot_payload`.
"""

from __future__ import annotations

import argparse
import io
import math
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.evidence.project import ProjectRootError, default_path

__all__ = [
    "DiffError",
    "EvidenceDiff",
    "EvidenceSnapshot",
    "compare",
    "default_base",
    "diff_against",
    "evidence_snapshot",
    "materialise_ref",
    "materialise_worktree",
    "to_markdown",
]

#: What a review's results are computed from, relative to its root.
INPUTS: tuple[str, ...] = ("data", "references.bib")
#: Key of a results record of :meth:`analysis.living.review.LivingReview.snapshot_payload`.
RESULT_KEY = ("evidence_set", "outcome", "subgroup")
#: Numbers compared per result (column name -> dotted path in the record).
NUMERIC = {
    "k": "k", "N": "n", "events": "events", "estimate": "result.estimate", "CI": "result.ci_lower",
    "CI upper": "result.ci_upper", "PI": "result.pi_lower", "PI upper": "result.pi_upper",
}
CATEGORICAL = {"pooled": "pooled", "certainty": "certainty"}


class DiffError(RuntimeError):
    """A problem the user can act on; the message is one line."""


# ------------------------------------------------------------------------------ git


def _git(repo: Path, *args: str, binary: bool = False) -> Any:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False,
                              text=not binary)
    except FileNotFoundError:
        raise DiffError("git is not installed") from None
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace") if binary else done.stderr
        raise DiffError(f"git {args[0]}: {' '.join(err.strip().splitlines()[:1])}")
    return done.stdout


def _toplevel(path: Path) -> Path:
    try:
        return Path(_git(path, "rev-parse", "--show-toplevel").strip())
    except DiffError:
        raise DiffError(f"{path.resolve()} is not inside a git repository") from None


def _commit(repo: Path, ref: str) -> str:
    try:
        return str(_git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")).strip()
    except DiffError:
        hint = f" (fetch it first: git fetch {ref.replace('/', ' ', 1)})" if "/" in ref else ""
        raise DiffError(f"unknown git ref {ref!r}{hint}") from None


def default_base(repo: Path) -> str:
    """``origin/main`` when that ref exists, else ``main``."""
    try:
        _commit(repo, "origin/main")
    except DiffError:
        return "main"
    return "origin/main"


def materialise_ref(repo: Path, ref: str, dest: Path, inputs: Sequence[str] = INPUTS,
                    prefix: str = "") -> str:
    """Extract ``inputs`` (paths relative to the project) of ``ref`` into ``dest``.

    Parameters
    ----------
    repo : pathlib.Path
        Any folder inside the repository.
    ref : str
        A branch, tag or commit.
    dest : pathlib.Path
        Receives ``dest/<input>`` for every input.
    inputs : sequence of str
        Paths relative to the project root. Default = :data:`INPUTS`.
    prefix : str
        The project root relative to the repository root ("" when they are the same).

    Returns
    -------
    str
        The commit id ``ref`` resolved to.
    """
    commit = _commit(repo, ref)
    top = _toplevel(repo)
    paths = [f"{prefix}{p}" for p in inputs]
    try:
        raw = _git(top, "archive", "--format=tar", commit, "--", *paths, binary=True)
    except DiffError:
        raise DiffError(f"{ref} has no {' or '.join(inputs)}: nothing to compare with") from None
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        tar.extractall(dest / "_archive", filter="data")
    for name in inputs:
        source = dest / "_archive" / prefix / name
        if source.exists():
            shutil.move(str(source), str(dest / name))
    shutil.rmtree(dest / "_archive")
    return commit


def materialise_worktree(root: Path, dest: Path, inputs: Sequence[str] = INPUTS) -> list[str]:
    """Copy what git would commit of ``inputs`` (tracked or untracked, not ignored) into ``dest``.

    Returns
    -------
    list of str
        Files under ``inputs`` left out because git ignores them (private data).
    """
    listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
                  *inputs)
    for name in sorted(set(filter(None, listed.split("\0")))):
        source = root / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    ignored = _git(root, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--",
                   *inputs)
    return sorted(filter(None, ignored.split("\0")))


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class EvidenceSnapshot:
    """Results and data records of one side of the comparison."""

    results: list[dict[str, Any]]
    studies: list[dict[str, Any]]
    study_key: str
    study_table: str
    tables: dict[str, tuple[tuple[str, ...], list[dict[str, Any]]]]
    set_labels: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The results payload of this side (as :meth:`LivingReview.snapshot_payload` gives it)."""
        out: dict[str, Any] = {"studies": self.studies, "outcomes": self.results}
        if self.evidence:
            out["evidence"] = self.evidence
        return out


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for record in frame.astype(object).to_dict(orient="records"):
        out.append({str(k): _plain(v) for k, v in record.items()})
    return out


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def evidence_snapshot(root: Path, side: str) -> EvidenceSnapshot:
    """Compute the results payload and the data records of the project at ``root``.

    ``side`` names the tree in error messages (``"the working tree"``, ``"main"``...).
    """
    from analysis.evidence.loading import EvidenceError
    from analysis.living.review import LivingReview
    from analysis.living.scaffold import ScaffoldError, study_table

    try:
        review = LivingReview(root)
        payload = review.snapshot_payload()
        where = study_table(review.evidence.package)
    except EvidenceError as exc:
        n = len(exc.problems)
        first = str(exc.problems[0]) if exc.problems else "unreadable descriptor"
        first = first.replace(f"{root}/", "")  # the temporary copy: show project paths
        raise DiffError(f"the evidence base of {side} has {n} problem{'s' if n != 1 else ''} "
                        f"(first: {first}); run python -m analysis validate") from None
    except (ScaffoldError, OSError, ValueError, KeyError, TypeError) as exc:
        text = " ".join(str(exc).split())
        raise DiffError(f"cannot compute the results of {side}: {text}") from None
    tables = {}
    for resource in review.evidence.package.resources:
        keys = resource.schema.primary_key
        if resource.format == "csv" and keys and resource.name in review.evidence.names:
            tables[resource.name] = (keys, _records(review.evidence[resource.name]))
    labels = {k: str(v.get("label", k)) for k, v in review.plan.evidence_sets.items()}
    return EvidenceSnapshot(payload["outcomes"], payload["studies"], where.id_field,
                            where.resource.name, tables, labels, payload.get("evidence", {}),
                            dict(review.plan_raw.get("changes") or {}))


@dataclass(frozen=True)
class EvidenceDiff:
    """The comparison of two sides.

    Attributes
    ----------
    base, head : str
        How the two sides are named in the report.
    studies : pandas.DataFrame
        :func:`analysis.living.changes.record_changes` of the study records.
    tables : pandas.DataFrame
        Per data table (the study table excepted): rows ``added``, ``removed``, ``updated``.
    results : pandas.DataFrame
        :func:`analysis.living.changes.estimate_changes` of the result records, with ``label``.
    set_labels : mapping
        Evidence-set id to its label.
    left_out : tuple of str
        Working-tree files ignored by git, left out of the comparison.
    log, moved
        The change-log sentences and the results that moved (:mod:`analysis.living.whatchanged`).
    words : (codes, titles)
        The data package's words: field -> {code: label} and field -> title, so the report
        names a subgroup "Source of the boost: autologous", not ``scb_source=autologous``.
    """

    base: str
    head: str
    studies: pd.DataFrame
    tables: pd.DataFrame
    results: pd.DataFrame
    set_labels: Mapping[str, str]
    left_out: tuple[str, ...] = ()
    log: Mapping[str, Sequence[str]] = field(default_factory=dict)
    moved: Sequence[Any] = ()
    words: tuple[Mapping[str, Mapping[str, str]], Mapping[str, str]] = ({}, {})


def compare(old: EvidenceSnapshot, new: EvidenceSnapshot, base: str = "base",
            head: str = "working tree", left_out: Sequence[str] = ()) -> EvidenceDiff:
    """Compare two sides: studies, data rows and results."""
    from analysis.living.changes import estimate_changes, record_changes
    from analysis.living.whatchanged import Thresholds, evidence_log, results_moved

    studies = record_changes(old.studies, new.studies, new.study_key)
    counts = []
    for name, (keys, records) in new.tables.items():
        if name == new.study_table:
            continue
        before = old.tables.get(name, (keys, []))[1]
        change = record_changes(before, records, keys)["change"].value_counts()
        counts.append({"table": name, **{c: int(change.get(c, 0))
                                         for c in ("added", "removed", "updated")}})
    tables = pd.DataFrame(counts, columns=["table", "added", "removed", "updated"])
    results = estimate_changes(old.results, new.results, RESULT_KEY, NUMERIC, CATEGORICAL)
    labels = {(r["evidence_set"], r["outcome"]): r["label"]
              for r in [*old.results, *new.results] if r.get("label")}
    results["label"] = [labels.get(k, k[1]) for k in zip(
        results["evidence_set"], results["outcome"], strict=True)]
    sets = {**old.set_labels, **new.set_labels}
    log = evidence_log(old.payload(), new.payload(), new.study_key)
    try:
        limits = Thresholds.from_dict(new.thresholds)
    except ValueError as exc:
        raise DiffError(f"data/analysis_plan.yaml: changes: {exc}") from None
    moved = results_moved(old.payload(), new.payload(), limits)
    return EvidenceDiff(base, head, studies, tables, results, sets, tuple(left_out), log, tuple(moved),
                        _words(old, new))


def _words(old: EvidenceSnapshot, new: EvidenceSnapshot) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Labels of codes and titles of fields, from both sides' data packages (the working tree's win)."""
    codes: dict[str, dict[str, str]] = {}
    titles: dict[str, str] = {}
    for side in (old, new):
        labels = side.evidence.get("labels") or {}
        for name, words in (labels.get("codes") or {}).items():
            codes.setdefault(name, {}).update(words)
        titles.update(labels.get("fields") or {})
    return codes, titles


# ------------------------------------------------------------------------------ Markdown


def _pct(x: Any) -> str:
    return f"{100 * float(x):.1f}%"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _estimate(row: Mapping[str, Any], side: str, record: Mapping[str, Any] | None) -> str:
    k = row[f"k_{side}"]
    if k is None or pd.isna(k) or int(k) == 0:
        return "no data"
    if record is not None and not record.get("pooled"):
        studies = record.get("study_results") or []
        shown = [f"{int(s['events'])}/{int(s['n'])} ({_pct(s['proportion'])}; exact CI {_pct(s['ci_lower'])} to "
                 f"{_pct(s['ci_upper'])})" for s in studies]
        if len(shown) == 1:
            return f"{shown[0]}, single study, not pooled"
        if shown:
            return f"{len(shown)} studies side by side, not pooled: " + "; ".join(shown)
    est, lo, hi = (row[f"{c}_{side}"] for c in ("estimate", "CI", "CI upper"))
    if any(v is None or pd.isna(v) for v in (est, lo, hi)):
        return "not estimable"
    return f"{_pct(est)} [{_pct(lo)} to {_pct(hi)}]"


def _before_after(old: Any, new: Any) -> str:
    def shown(v: Any) -> str:
        return "-" if v is None or pd.isna(v) else str(int(v))

    return shown(new) if shown(old) == shown(new) else f"{shown(old)} → **{shown(new)}**"


_MOVED_NAMES = {"CI upper": "CI", "PI upper": "PI"}


def _change(row: Mapping[str, Any]) -> str:
    if row["status"] == "added":
        return "**new result**"
    if row["status"] == "removed":
        return "**removed**"
    if row["status"] == "unchanged":
        return "no change"
    moved = [_MOVED_NAMES.get(m, m) for m in str(row["moved"]).split("; ") if m]
    return "**changed**: " + ", ".join(dict.fromkeys(moved))


def _results_section(diff: EvidenceDiff, old: EvidenceSnapshot | None,
                     new: EvidenceSnapshot | None, subgroups: bool) -> list[str]:
    from analysis.living.whatchanged import subgroup_words

    index = {}
    for side, snap in (("old", old), ("new", new)):
        for r in snap.results if snap else []:
            index[(side, r["evidence_set"], r["outcome"], r["subgroup"])] = r
    frame = diff.results
    if not subgroups:
        frame = frame[frame["subgroup"] == "all"]
    has_data = (frame["k_old"].fillna(0) > 0) | (frame["k_new"].fillna(0) > 0)
    lines = []
    for evidence_set in dict.fromkeys(frame["evidence_set"]):
        part = frame[(frame["evidence_set"] == evidence_set) & has_data]
        empty = int(((frame["evidence_set"] == evidence_set) & ~has_data).sum())
        changed = int((part["status"] != "unchanged").sum())
        label = diff.set_labels.get(evidence_set, evidence_set)
        lines += ["", (f"#### {_cell(label)} (`{evidence_set}`): {changed} of {len(part)} "
                  "result(s) changed"), ""]
        if part.empty:
            lines.append("No outcome has data on either side.")
            continue
        head = ["Outcome", "Studies (k)", "Patients (N)", f"Before ({diff.base})",
                f"After ({diff.head})", "Change"]
        if subgroups:
            head.insert(1, "Subgroup")
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in part.to_dict("records"):
            ident = (row["evidence_set"], row["outcome"], row["subgroup"])
            cells = [
                _cell(row["label"]),
                _before_after(row["k_old"], row["k_new"]),
                _before_after(row["N_old"], row["N_new"]),
                _estimate(row, "old", index.get(("old", *ident))),
                _estimate(row, "new", index.get(("new", *ident))),
                _change(row),
            ]
            if subgroups:
                cells.insert(1, _cell(subgroup_words(row["subgroup"], *diff.words)))
            lines.append("| " + " | ".join(cells) + " |")
        if empty:
            lines += ["", f"{empty} outcome(s) without data on either side not shown."]
    return lines


def _log_section(diff: EvidenceDiff) -> list[str]:
    """The change log and the results that moved: the sentences the next version's page will show."""
    from analysis.living.whatchanged import NO_CHANGE, subgroup_words, verdict

    lines = ["", "**Change log** (the sentences the next version's page will show):", ""]
    if not diff.log and not diff.moved:
        return [*lines, NO_CHANGE]
    if not diff.log:
        lines.append("No change to the evidence (studies, counts, judgements or the analysis plan).")
    for kind, sentences in diff.log.items():
        lines += [f"**{kind}**", "", *(f"- {_cell(s)}" for s in sentences), ""]
    lines += ["", "**Results that moved**", "", verdict(diff.moved), ""]
    for moved in diff.moved:
        where = "" if moved.subgroup == "all" else f" ({subgroup_words(moved.subgroup, *diff.words)})"
        label = diff.set_labels.get(moved.evidence_set, moved.evidence_set)
        lines.append(f"- {_cell(label)}{_cell(where)}: {_cell(moved.sentence())}")
    return lines


def to_markdown(diff: EvidenceDiff, old: EvidenceSnapshot | None = None,
                new: EvidenceSnapshot | None = None, *, subgroups: bool = False) -> str:
    """The report as Markdown (GitHub-flavoured tables)."""
    studies = diff.studies
    counts = studies["change"].value_counts()
    summary = ", ".join(f"{int(counts.get(c, 0))} {c}" for c in ("added", "removed", "updated"))
    lines = [
        f"### What this change does to the evidence: {diff.head} vs {diff.base}",
        "",
        ("Both sides are computed by the same (current) code, so only the evidence differs. "
        "Pooled results are the primary analysis."),
        "",
    ]
    lines += _log_section(diff)
    lines += ["", f"**Studies:** {summary}."]
    if not studies.empty:
        key = studies.columns[0]
        lines += ["", "| Study | Change | Fields changed |", "|---|---|---|"]
        titles = diff.words[1]
        lines += [f"| {_cell(r[key])} | {r['change']} | "
                  f"{_cell(', '.join(titles.get(f, f) for f in r['fields'].split('; ') if f))} |"
                  for r in studies.to_dict("records")]
    moved = diff.tables[(diff.tables[["added", "removed", "updated"]].sum(axis=1)) > 0]
    if moved.empty:
        lines += ["", "**Rows of the other tables:** none changed."]
    else:
        lines += ["", "**Rows of the other tables:**", "",
                  "| Table | Added | Removed | Updated |", "|---|---|---|---|"]
        lines += [f"| {r['table']} | {r['added']} | {r['removed']} | {r['updated']} |"
                  for r in moved.to_dict("records")]
    lines += ["", "**Pooled results** (k studies, N patients, estimate [95% CI]):"]
    lines += _results_section(diff, old, new, subgroups)
    if diff.left_out:
        n = len(diff.left_out)
        lines += ["", (f"_{n} file(s) ignored by git (private data) were left out of the working "
                  "tree side._")]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ command


def diff_against(base: str | None = None, root: str | Path = ".", *,
                 subgroups: bool = False) -> str:
    """The Markdown report comparing the working tree at ``root`` with ``base``.

    Raises
    ------
    DiffError
        Not a git repository, unknown ref, inputs missing at ``base``, invalid data.
    """
    root = Path(root).resolve()
    top = _toplevel(root)
    prefix = root.relative_to(top.resolve()).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    base = base or default_base(top)
    with tempfile.TemporaryDirectory(prefix="review-diff-") as tmp:
        old_root, new_root = Path(tmp) / "base", Path(tmp) / "head"
        old_root.mkdir()
        new_root.mkdir()
        commit = materialise_ref(top, base, old_root, INPUTS, prefix)
        left_out = materialise_worktree(root, new_root, INPUTS)
        old = evidence_snapshot(old_root, f"{base} ({commit[:7]})")
        new = evidence_snapshot(new_root, "the working tree")
    result = compare(old, new, f"{base} {commit[:7]}", "working tree", left_out)
    return to_markdown(result, old, new, subgroups=subgroups)


def cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m analysis diff``."""
    parser.add_argument("base", nargs="?", default=None,
                        help="git ref to compare with (default: origin/main if it exists, "
                        "else main)")
    parser.add_argument("--root", default=None,
                        help="project root (default: the folder at or above the current one that holds "
                        "data/datapackage.yaml)")
    parser.add_argument("--subgroups", action="store_true",
                        help="also list the subgroup results")


def cli_run(args: argparse.Namespace) -> int:
    """``python -m analysis diff``: print the Markdown comparison; 1 with a message on failure."""
    try:
        root = args.root or default_path(".")
        text = diff_against(args.base, root, subgroups=args.subgroups)
    except (DiffError, ProjectRootError) as exc:
        print(f"diff: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0
