"""Results snapshots: a versioned, machine-readable record of what one build of a review computed.

A snapshot wraps any JSON-safe *payload* (for example pooled estimates per outcome and subgroup,
and the studies' fields) with the metadata needed to tell versions apart and to reproduce them::

    {
      "format": 1,
      "version": "26.1.0",            # YY.MINOR.PATCH, or "dev" for an unreleased working tree
      "date": "2026-12-01",           # ISO date of the release (or of the build, for "dev")
      "trigger": "new study ...",     # why this version exists (PRISMA-LSR item L3)
      "package_version": "0.1.0",     # version of the analysis package that computed it
      "data_files": {"data/studies.csv": "<sha256>", ...},
      "private_data_used": false,     # whether private patient-level files were present
      "results": { ...payload... },
      "answer": { ...whether the answer changed since the previous release (optional)... }
    }

``answer`` (optional) is what :mod:`analysis.living.alerts` judged when the snapshot was written: the previous
release compared with, the plan's decision rules, which fired and the sentence of what moved. It sits beside
``results``, not in it, so a PATCH release (identical results) is not refused because its answer differs.
The JSON Schema ``results/results.schema.json`` documents every field.

Private patient-level data are never hashed or described: the snapshot records only *that*
such files were present (``private_data_used``), so nothing about a patient can leak through it.

Released snapshots are immutable: :func:`write_snapshot` refuses to replace a file that exists
unless explicitly told to (which only the unreleased "dev" snapshot is). Files are written as
canonical JSON (sorted keys, fixed indentation, trailing newline), so the same payload always
gives the same bytes and a diff between two versions is readable.

This module does file I/O and is kept apart from the statistics engine. It knows nothing about
any particular review: the payload is opaque here; :mod:`analysis.living.changes` compares payloads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEV",
    "SNAPSHOT_FORMAT",
    "VERSION_RE",
    "Snapshot",
    "SnapshotDiff",
    "compare_snapshots",
    "data_digests",
    "is_release_version",
    "list_snapshots",
    "load_series",
    "make_snapshot",
    "parse_version",
    "previous_release",
    "previous_snapshot",
    "private_data_present",
    "read_snapshot",
    "snapshot_json",
    "write_snapshot",
]

#: Version of the snapshot file layout (bumped if the metadata keys ever change).
SNAPSHOT_FORMAT = 1

#: Name used for the unreleased working tree.
DEV = "dev"

#: ``YY.MINOR.PATCH``: two-digit year of the latest search, then MINOR and PATCH numbers.
VERSION_RE = re.compile(r"^(\d{2})\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")

_REQUIRED_KEYS = (
    "format",
    "version",
    "date",
    "trigger",
    "package_version",
    "data_files",
    "private_data_used",
    "results",
)


def parse_version(version: str) -> tuple[int, int, int]:
    """Split a ``YY.MINOR.PATCH`` version into integers, e.g. ``"26.1.0" -> (26, 1, 0)``.

    Raises
    ------
    ValueError
        When ``version`` is not of the form ``YY.MINOR.PATCH`` (two-digit year, numbers without
        leading zeros), with a message naming the value.
    """
    match = VERSION_RE.match(version.strip()) if isinstance(version, str) else None
    if match is None:
        raise ValueError(
            f"version {version!r} is not YY.MINOR.PATCH (two-digit year of the latest search, "
            "then MINOR and PATCH numbers, e.g. 26.1.0)"
        )
    yy, minor, patch = (int(g) for g in match.groups())
    return yy, minor, patch


def is_release_version(name: str) -> bool:
    """True when ``name`` is a release version ``YY.MINOR.PATCH`` (a git tag name, a file stem)."""
    return isinstance(name, str) and VERSION_RE.match(name) is not None


def previous_release(versions: Iterable[str], current: str) -> str | None:
    """The newest release version strictly older than ``current`` (``None`` when there is none).

    ``current`` may be ``"dev"``, which is newer than every release. Names that are not release
    versions are ignored.
    """
    releases = sorted((v for v in versions if is_release_version(v)), key=parse_version)
    if current == DEV:
        return releases[-1] if releases else None
    key = parse_version(current)
    older = [v for v in releases if parse_version(v) < key]
    return older[-1] if older else None


# --------------------------------------------------------------------------------------------
# data files


def _is_private(relative: Path, private_dirs: tuple[str, ...]) -> bool:
    text = relative.as_posix()
    return any(text == d or text.startswith(d.rstrip("/") + "/") for d in private_dirs)


def data_digests(
    root: Path | str,
    patterns: Iterable[str] = ("data/**/*",),
    private_dirs: Iterable[str] = ("data/private",),
) -> dict[str, str]:
    """SHA-256 of every file matched by ``patterns`` under ``root``, private folders excluded.

    Parameters
    ----------
    root : path
        Project root; keys of the result are POSIX paths relative to it.
    patterns : iterable of str
        Glob patterns relative to ``root``. Default ``("data/**/*",)``.
    private_dirs : iterable of str
        Folders (relative to ``root``) whose files are never read. Default ``("data/private",)``.

    Returns
    -------
    dict
        ``{relative path: hex digest}``, sorted by path.
    """
    base = Path(root)
    private = tuple(private_dirs)
    found: dict[str, str] = {}
    for pattern in patterns:
        for path in base.glob(pattern):
            relative = path.relative_to(base)
            if not path.is_file() or _is_private(relative, private):
                continue
            if "__pycache__" in relative.parts or ".ipynb_checkpoints" in relative.parts:
                continue
            found[relative.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return dict(sorted(found.items()))


def private_data_present(
    root: Path | str, private_dir: str = "data/private", ignore: Iterable[str] = ("README.md",)
) -> bool:
    """Whether the private folder holds any file other than ``ignore`` (contents are never read)."""
    folder = Path(root) / private_dir
    if not folder.is_dir():
        return False
    skip = set(ignore)
    return any(p.is_file() and p.name not in skip for p in folder.rglob("*"))


# --------------------------------------------------------------------------------------------
# building, writing and reading


@dataclass(frozen=True)
class Snapshot:
    """A parsed snapshot file (see the module docstring for the layout)."""

    version: str
    date: dt.date
    trigger: str
    package_version: str
    data_files: Mapping[str, str]
    private_data_used: bool
    results: Mapping[str, Any]
    format: int = SNAPSHOT_FORMAT
    answer: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-safe dictionary written to disk (``answer`` only when recorded)."""
        out = {
            "format": self.format,
            "version": self.version,
            "date": self.date.isoformat(),
            "trigger": self.trigger,
            "package_version": self.package_version,
            "data_files": dict(self.data_files),
            "private_data_used": self.private_data_used,
            "results": self.results,
        }
        if self.answer is not None:
            out["answer"] = dict(self.answer)
        return out


def _check_json_safe(value: Any, where: str) -> None:
    """Raise ``ValueError`` naming the first value that JSON cannot hold faithfully."""
    if value is None or isinstance(value, bool | str | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(
                f"{where}: {value!r} is not a finite number; JSON cannot hold it. Use null for "
                "'not estimable' and say why in the payload"
            )
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: key {key!r} is not a string")
            _check_json_safe(item, f"{where}.{key}")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json_safe(item, f"{where}[{i}]")
        return
    raise ValueError(
        f"{where}: value of type {type(value).__name__} is not JSON-safe "
        "(convert numpy numbers with float()/int() and dates with isoformat())"
    )


def make_snapshot(
    payload: Mapping[str, Any],
    *,
    version: str,
    date: dt.date,
    trigger: str,
    package_version: str,
    data_files: Mapping[str, str],
    private_data_used: bool,
    answer: Mapping[str, Any] | None = None,
) -> Snapshot:
    """Wrap a JSON-safe ``payload`` with the metadata of one version.

    Parameters
    ----------
    payload : mapping
        The results (any nesting of dicts, lists, strings, finite numbers, booleans, None).
    version : str
        ``YY.MINOR.PATCH`` or ``"dev"``.
    date : datetime.date
        Release (or build) date.
    trigger : str
        Why this version exists; must not be empty for a release.
    package_version : str
        Version of the package that computed ``payload``.
    data_files : mapping
        ``{path: sha256}``, e.g. from :func:`data_digests`.
    private_data_used : bool
        Whether private patient-level files were present when ``payload`` was computed.
    answer : mapping, optional
        Whether the answer changed since the previous release (:meth:`analysis.living.alerts.Answer.to_dict`).

    Raises
    ------
    ValueError
        On a malformed version, an empty trigger for a release, or a payload value that JSON
        cannot hold (the message names its path, e.g. ``results.outcomes[3].pi_lower``).
    """
    if version != DEV:
        parse_version(version)
        if not trigger.strip():
            raise ValueError(f"release {version}: the trigger (why this version exists) is empty")
    if not isinstance(payload, Mapping):
        raise TypeError(f"results: expected a mapping, got {type(payload).__name__}")
    _check_json_safe(payload, "results")
    if answer is not None:
        _check_json_safe(answer, "answer")
    return Snapshot(
        version=version,
        date=date,
        trigger=trigger.strip(),
        package_version=package_version,
        data_files=dict(sorted(data_files.items())),
        private_data_used=bool(private_data_used),
        results=json.loads(json.dumps(payload)),
        answer=None if answer is None else json.loads(json.dumps(answer)),
    )


def snapshot_json(snapshot: Snapshot) -> str:
    """Canonical JSON text of a snapshot: sorted keys, indent 1, UTF-8 characters, final newline."""
    return json.dumps(snapshot.to_dict(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write_snapshot(path: Path | str, snapshot: Snapshot, *, overwrite: bool = False) -> Path:
    """Write ``snapshot`` to ``path``; refuse to replace an existing file unless ``overwrite``.

    Released snapshots are never rewritten, so ``overwrite`` is only for the unreleased ``dev``
    snapshot (passing it with a release version is an error).
    """
    target = Path(path)
    if overwrite and snapshot.version != DEV:
        raise ValueError(f"{target}: released snapshots ({snapshot.version}) are never rewritten")
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{target}: a snapshot of version {snapshot.version} already exists; released "
            "snapshots are never rewritten (choose a new version number)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(snapshot_json(snapshot), encoding="utf-8")
    return target


def read_snapshot(path: Path | str) -> Snapshot:
    """Read and check a snapshot file; errors name the file and the problem."""
    source = Path(path)
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{source}: cannot read the snapshot ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: expected a JSON object at the top level")  # noqa: TRY004 (file content)
    missing = [k for k in _REQUIRED_KEYS if k not in raw]
    if missing:
        raise ValueError(f"{source}: missing snapshot field(s) {', '.join(missing)}")
    if raw["format"] != SNAPSHOT_FORMAT:
        raise ValueError(f"{source}: snapshot format {raw['format']!r} is not {SNAPSHOT_FORMAT}")
    version = raw["version"]
    if version != DEV and not is_release_version(str(version)):
        raise ValueError(f"{source}: version {version!r} is neither YY.MINOR.PATCH nor 'dev'")
    try:
        date = dt.date.fromisoformat(str(raw["date"]))
    except ValueError:
        raise ValueError(f"{source}: date {raw['date']!r} is not an ISO date") from None
    for key, kind in (("data_files", dict), ("results", dict), ("private_data_used", bool)):
        if not isinstance(raw[key], kind):
            raise ValueError(f"{source}: field {key} should be a {kind.__name__}")  # noqa: TRY004
    if raw.get("answer") is not None and not isinstance(raw["answer"], dict):
        raise ValueError(f"{source}: field answer should be a dict")
    return Snapshot(
        version=str(version),
        date=date,
        trigger=str(raw["trigger"]),
        package_version=str(raw["package_version"]),
        data_files=raw["data_files"],
        private_data_used=raw["private_data_used"],
        results=raw["results"],
        format=raw["format"],
        answer=raw.get("answer"),
    )


def list_snapshots(folder: Path | str) -> dict[str, Path]:
    """Released snapshot files ``<folder>/<YY.MINOR.PATCH>.json``, oldest first, by version."""
    base = Path(folder)
    if not base.is_dir():
        return {}
    found = {p.stem: p for p in base.glob("*.json") if is_release_version(p.stem)}
    return {v: found[v] for v in sorted(found, key=parse_version)}


def load_series(
    folder: Path | str, current: Snapshot | None = None, upto: str | None = None
) -> list[Snapshot]:
    """Released snapshots of ``folder``, oldest first, then ``current`` (when given).

    Parameters
    ----------
    folder : path
        Folder of released snapshots (``results/``).
    current : Snapshot, optional
        The snapshot of the version being built (e.g. ``dev``), appended last. A released file
        of the same version is left out, so a release build does not list itself twice.
    upto : str, optional
        Keep only releases up to and including this version (default: all).
    """
    series = []
    for version, path in list_snapshots(folder).items():
        if upto is not None and parse_version(version) > parse_version(upto):
            continue
        if current is not None and version == current.version:
            continue
        series.append(read_snapshot(path))
    if current is not None:
        series.append(current)
    return series


def previous_snapshot(folder: Path | str, version: str) -> Snapshot | None:
    """The released snapshot just before ``version`` (``"dev"``: the latest release), if any."""
    files = list_snapshots(folder)
    previous = previous_release(files, version)
    return read_snapshot(files[previous]) if previous else None


# --------------------------------------------------------------------------------------------
# comparing


@dataclass(frozen=True)
class SnapshotDiff:
    """What differs between two snapshots apart from their results payload.

    Attributes
    ----------
    old_version, new_version : str
    trigger : str
        The newer snapshot's trigger (why the new version exists).
    data_added, data_removed, data_changed : tuple of str
        Data files present only in the new snapshot, only in the old one, or in both with
        different contents.
    package_changed : tuple of str or None
        ``(old, new)`` package versions when they differ.
    private_data_changed : tuple of bool or None
        ``(old, new)`` when the use of private data differs.
    results_identical : bool
        Whether the two payloads are equal (what a PATCH release promises).
    """

    old_version: str
    new_version: str
    trigger: str
    data_added: tuple[str, ...]
    data_removed: tuple[str, ...]
    data_changed: tuple[str, ...]
    package_changed: tuple[str, str] | None
    private_data_changed: tuple[bool, bool] | None
    results_identical: bool

    @property
    def data_identical(self) -> bool:
        """True when no data file was added, removed or changed."""
        return not (self.data_added or self.data_removed or self.data_changed)


def compare_snapshots(old: Snapshot, new: Snapshot) -> SnapshotDiff:
    """Compare the metadata and overall results of two snapshots (details: analysis.living.changes)."""
    old_files, new_files = dict(old.data_files), dict(new.data_files)
    common = old_files.keys() & new_files.keys()
    return SnapshotDiff(
        old_version=old.version,
        new_version=new.version,
        trigger=new.trigger,
        data_added=tuple(sorted(new_files.keys() - old_files.keys())),
        data_removed=tuple(sorted(old_files.keys() - new_files.keys())),
        data_changed=tuple(sorted(k for k in common if old_files[k] != new_files[k])),
        package_changed=(
            (old.package_version, new.package_version)
            if old.package_version != new.package_version
            else None
        ),
        private_data_changed=(
            (old.private_data_used, new.private_data_used)
            if old.private_data_used != new.private_data_used
            else None
        ),
        results_identical=json.dumps(old.results, sort_keys=True)
        == json.dumps(new.results, sort_keys=True),
    )
