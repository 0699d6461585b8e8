"""Helpers for end-to-end tests that build a Jupyter Book in a temporary copy of the project."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")

#: What a temporary copy of the project needs in order to build (not .venv, _build or caches).
PROJECT_ITEMS = (
    "_config.yml", "_toc.yml", "_static", "references.bib", "VERSION", "CITATION.cff",
    "CHANGELOG.md", "CONTRIBUTING.md", "RELEASING.md", "book", "data", "results",
    "tests/reference/README.md",
)


def copy_project(dest: Path, items: tuple[str, ...] = PROJECT_ITEMS) -> Path:
    """Copy the buildable parts of the project into ``dest`` (private data excluded)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in items:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(
                src, dest / name, dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("private", "__pycache__", "_generated"),
            )
        elif src.exists():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def build(project: Path, *extra: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run ``jupyter-book build`` on ``project`` with the flags ``make book`` uses."""
    return subprocess.run(
        [str(JUPYTER_BOOK), "build", str(project), "-W", "--keep-going", *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def html(project: Path, page: str) -> str:
    """Text of a built page, e.g. ``html(p, "book/index")``."""
    return (project / "_build" / "html" / f"{page}.html").read_text(encoding="utf-8")


#: Front matter of an executable MyST notebook, without the closing ``---`` (tests append
#: optional keys such as ``depends_on`` before closing it).
NOTEBOOK_FRONT_MATTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
"""


def toc_pages(toc: Path) -> list[str]:
    """Every page named in a ``_toc.yml``: the root and each ``file`` entry, in order, no suffix."""
    import yaml

    data = yaml.safe_load(toc.read_text(encoding="utf-8"))
    found = [data["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                found.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in data.items() if k != "root"})
    return [str(Path(p).with_suffix("")) for p in found]


def build_sphinx(project: Path, conf: str, pages: dict[str, str]) -> tuple[Path, str]:
    """Build a small Sphinx project in-process: ``conf`` is its ``conf.py``, ``pages`` maps file names
    (with suffix) to their text. Returns the HTML folder and the warnings the build printed."""
    import io

    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    project.mkdir(parents=True, exist_ok=True)
    (project / "conf.py").write_text(conf, encoding="utf-8")
    for name, text in pages.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text, encoding="utf-8")
    out, warnings = project / "_build" / "html", io.StringIO()
    # As sphinx-build does: docutils' registries are restored afterwards, so builds can follow each other.
    with patch_docutils(project), docutils_namespace():
        app = Sphinx(str(project), str(project), str(out), str(project / "_build" / "doctrees"), "html",
                     status=None, warning=warnings, freshenv=True)  # fmt: skip
        app.build()
    return out, warnings.getvalue()


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``lock`` (POSIX ``flock``; elsewhere no lock is needed,
    since :func:`once_per_session` then gives each worker its own folder)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def once_per_session(factory: Any, name: str, make: Callable[[Path], dict[str, Any]]) -> tuple[Path, dict[str, Any]]:
    """Run ``make(folder)`` once for the whole test session, even across pytest-xdist workers.

    ``factory`` is pytest's ``tmp_path_factory``. Under xdist every worker has its own temporary
    folder inside one shared by the session; the first worker to get there runs ``make`` in
    ``<shared>/<name>`` while holding a lock, and records what it returns (JSON); the others wait
    for the lock and read the record. Without xdist it simply runs once. Returns the folder and
    the record.
    """
    base = Path(factory.getbasetemp())
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") and _has_lock() else base
    folder, record = shared / name, shared / f"{name}.json"
    with _exclusive(shared / f"{name}.lock"):
        if not record.exists():
            result = make(folder)
            record.write_text(json.dumps(result), encoding="utf-8")
    return folder, json.loads(record.read_text(encoding="utf-8"))


def _has_lock() -> bool:
    try:
        import fcntl  # noqa: F401
    except ImportError:  # pragma: no cover - not POSIX
        return False
    return True


# ----------------------------------------------------------------- one count changed, as a reviewer would
def changeable_row(project: Path) -> int:
    """Index of the first data row of ``data/outcomes.csv`` with 0 < events < total."""
    text = (project / "data" / "outcomes.csv").read_text(encoding="utf-8")
    for i, row in enumerate(csv.DictReader(io.StringIO(text))):
        if 0 < int(row["events"]) < int(row["total"]):
            return i
    raise SystemExit("no row of data/outcomes.csv with 0 < events < total to change")


_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
          "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]


def _requote(rest: str, quote: str, old: int, new: int) -> str:
    """``rest`` of a CSV line with the first ``old`` in its quote (digits or word) written ``new``."""
    for before, after in ((str(old), str(new)), *(((_WORDS[old], _WORDS[new]),) if new < len(_WORDS) else ())):
        found = re.search(rf"\b{before}\b", quote, flags=re.IGNORECASE)
        if found:
            word = after.capitalize() if found.group(0)[0].isupper() else after
            changed = quote[:found.start()] + word + quote[found.end():]
            return rest.replace(quote, changed, 1)
    raise SystemExit(f"the quote {quote!r} does not state {old}")


def _change_rows(path: Path, study: str, outcome: str, ev: int, tot: int, delta: int) -> int:
    """Add ``delta`` to the events of every row of ``path`` recording ``ev``/``tot`` of ``study`` and
    ``outcome``, with the number in its quote; return how many rows changed."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    prefix = f"{study},{outcome},{ev},{tot},"
    changed = 0
    for i, row in enumerate(csv.DictReader(io.StringIO(text))):
        if (row["study_id"], row["outcome"], row["events"], row["total"]) != (study, outcome, str(ev), str(tot)):
            continue
        if not lines[i + 1].startswith(prefix):
            raise SystemExit(f"row {i + 2} of {path.name} spans several lines; cannot change it")
        rest = _requote(lines[i + 1][len(prefix):], row["quote"], ev, ev + delta)
        lines[i + 1] = f"{study},{outcome},{ev + delta},{tot}," + rest
        changed += 1
    path.write_text("".join(lines), encoding="utf-8")
    return changed


def change_one_value(project: Path, index: int, delta: int) -> tuple[str, str, int, int, int]:
    """Add ``delta`` to the events of data row ``index`` of ``data/outcomes.csv``.

    Returns (study_id, outcome, old events, new events, total). The count and the number in its
    quote change (the validator checks that a count is stated by its quote), nothing else; the
    second reviewer's record of the same count (``data/second_extraction/outcomes.csv``), if any,
    changes with it, as when both reviewers correct a count (the validator checks that the two
    records agree or that their difference is logged).
    """
    path = project / "data" / "outcomes.csv"
    row = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))[index]
    ev, tot = int(row["events"]), int(row["total"])
    if not 0 <= ev + delta <= tot:
        raise SystemExit(f"cannot change row {index + 2} of data/outcomes.csv by {delta}")
    if _change_rows(path, row["study_id"], row["outcome"], ev, tot, delta) != 1:
        raise SystemExit(f"row {index + 2} of data/outcomes.csv is not the only record of its count")
    second = project / "data" / "second_extraction" / "outcomes.csv"
    if second.exists():
        _change_rows(second, row["study_id"], row["outcome"], ev, tot, delta)
    return row["study_id"], row["outcome"], ev, ev + delta, tot
