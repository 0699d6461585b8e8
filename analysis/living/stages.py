"""Build stages that do nothing when their inputs did not change, and the time budget of a build.

A build of a living review is a short chain of stages (check the data, execute the chapters and
write the site, write the results snapshot). Each stage reads a known set of files and writes
a known set of files. A :class:`Stage` names both as glob patterns relative to the project root;
:func:`run_stage` computes a SHA-256 digest of the names and contents of the input files (plus any
other key parts the stage names: a date, environment variables, the command) and of the output
files, and skips the stage when both equal the digests recorded after its last successful run::

    inputs  = sha256(for each input file in name order: name, 0, content, 0; then the extra parts)
    outputs = sha256(for each output file in name order: name, 0, content, 0)

Content, not modification times, is compared, so ``touch`` or ``git checkout`` of an unchanged file
costs nothing, while an output edited or deleted by hand makes the stage run again. The record
(one small JSON file per stage, in a folder the caller names, for example ``_build/.stages``) is
written only after the stage succeeded, so a failed stage runs again next time.

:class:`Budget` collects how long each stage and sub-stage took (or that it was skipped) and prints
one line each. This module has no dependency outside the standard library, so that a build driver
importing it starts at once. Nothing here knows about any particular review.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Budget", "Stage", "files_digest", "matched", "run_stage"]

#: Folder names never read as inputs or outputs (caches, editor droppings, version control).
IGNORED_DIRS = frozenset({
    ".git", "__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis", ".ruff_cache",
    ".import_linter_cache", ".mypy_cache", "node_modules",
})


def _walk(folder: Path, excluded: Sequence[str], above: str = "") -> Iterable[str]:
    """Names (relative to ``folder``) of its files, skipping excluded and ignored folders.

    ``above`` is the folder's own relative name plus "/" (or empty), against which ``excluded``
    patterns are matched.
    """
    for current, dirs, files in os.walk(folder):
        rel = Path(current).relative_to(folder).as_posix()
        prefix = "" if rel == "." else rel + "/"
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS
                         and not any(fnmatch.fnmatchcase(above + prefix + d, x) for x in excluded))
        for name in files:
            if not any(fnmatch.fnmatchcase(above + prefix + name, x) for x in excluded):
                yield prefix + name


def _base(pattern: str) -> str:
    """The folder part of ``pattern`` before its first wildcard (where a walk may start)."""
    cut = min((i for i, c in enumerate(pattern) if c in "*?["), default=len(pattern))
    return pattern[:cut].rpartition("/")[0]


def matched(root: Path, patterns: Sequence[str], excluded: Sequence[str] = ()) -> list[str]:
    """Sorted relative names of the files under ``root`` that ``patterns`` match.

    Patterns are glob patterns on relative POSIX names (``fnmatch`` rules: ``*`` also crosses
    ``/``, so ``data/*`` matches every file under ``data/``); ``excluded`` patterns remove
    files, and whole folders when they match the folder's name. Only the folders the patterns
    can reach are walked.
    """
    root = Path(root)
    found: set[str] = set()
    for base in sorted({_base(p) for p in patterns}):
        folder = root / base
        if not folder.is_dir():
            continue
        prefix = base + "/" if base else ""
        found.update(prefix + name for name in _walk(folder, excluded, prefix))
    return sorted(p for p in found if any(fnmatch.fnmatchcase(p, x) for x in patterns))


def files_digest(root: Path, names: Iterable[str], extra: Sequence[str] = ()) -> str:
    """SHA-256 over each file's relative name and content, in order, then the ``extra`` strings."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0")
        try:
            digest.update((Path(root) / name).read_bytes())
        except OSError:  # removed while we read: the digest differs from any complete one
            digest.update(b"\1missing")
        digest.update(b"\0")
    for part in extra:
        digest.update(b"\2" + part.encode() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Stage:
    """One stage of a build: what it reads, what it writes, and how it runs.

    Attributes
    ----------
    name : str
        Short name (also the name of its record file).
    inputs : sequence of str
        Glob patterns (relative to the root) of the files the stage reads.
    outputs : sequence of str
        Glob patterns of the files it writes; the stage runs when they are missing or changed.
        Empty for a check that writes nothing (it runs when its inputs changed).
    run : callable
        ``run() -> bool``: True when the stage succeeded.
    excluded : sequence of str
        Patterns removed from the inputs (folders included), e.g. the build folder.
    key : sequence of str
        Other parts of the key: dates, environment variables, the command line.
    """

    name: str
    inputs: Sequence[str]
    outputs: Sequence[str]
    run: Callable[[], bool]
    excluded: Sequence[str] = ()
    key: Sequence[str] = ()


def _digests(stage: Stage, root: Path) -> tuple[str, str | None]:
    """(input digest, output digest); the latter None when the stage names outputs and none exists."""
    inputs = files_digest(root, matched(root, stage.inputs, stage.excluded), stage.key)
    outputs = matched(root, stage.outputs)
    if stage.outputs and not outputs:
        return inputs, None
    return inputs, files_digest(root, outputs)


def _record_path(records: Path, stage: Stage) -> Path:
    return Path(records) / f"{stage.name}.json"


def up_to_date(stage: Stage, root: Path, records: Path) -> bool:
    """True when the stage's inputs and outputs are those recorded after its last successful run."""
    try:
        old = json.loads(_record_path(records, stage).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    inputs, outputs = _digests(stage, root)
    return outputs is not None and old == {"inputs": inputs, "outputs": outputs}


def run_stage(stage: Stage, root: Path, records: Path) -> tuple[bool, bool, float]:
    """Run ``stage`` unless it is up to date; return (succeeded, ran, seconds).

    The input digest is taken before the stage runs (a file edited while it runs makes the next
    build run it again) and the output digest after; both are recorded only on success.
    """
    start = time.perf_counter()
    record = _record_path(records, stage)
    if up_to_date(stage, root, records):
        return True, False, time.perf_counter() - start
    inputs, _ = _digests(stage, root)
    record.unlink(missing_ok=True)
    ok = bool(stage.run())
    if ok:
        outputs = files_digest(root, matched(root, stage.outputs))
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"inputs": inputs, "outputs": outputs}) + "\n", encoding="utf-8")
    return ok, True, time.perf_counter() - start


@dataclass
class Budget:
    """Seconds spent per stage of one build (``None``: skipped, inputs unchanged), printed one per line."""

    lines: list[tuple[str, float | None, str]] = field(default_factory=list)

    def add(self, name: str, seconds: float | None, note: str = "") -> None:
        """Record a stage (or an indented sub-stage: a name starting with spaces)."""
        self.lines.append((name, seconds, note))

    def render(self, total: float | None = None) -> str:
        """The budget as text: ``name  seconds  note``, skipped stages marked."""
        width = max([len(n) for n, _, _ in self.lines] + [5])
        out = []
        for name, seconds, note in self.lines:
            shown = "skipped" if seconds is None else f"{seconds:6.2f} s"
            out.append(f"  {name:<{width}}  {shown:>9}  {note}".rstrip())
        if total is not None:
            out.append(f"  {'total':<{width}}  {f'{total:6.2f} s':>9}")
        return "\n".join(out)
