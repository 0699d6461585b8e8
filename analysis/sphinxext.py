"""Sphinx extension: re-execute a chapter whenever one of its inputs changes.

jupyter-cache (Jupyter Book 1's executor cache) keys a notebook on its code only, so a chapter
that reads ``data/studies.csv`` is served with stale outputs after the CSV changes. A living
review must never show numbers from old data. This extension closes that gap:

* each chapter declares its inputs in its front matter, as glob patterns relative to the
  project root::

      depends_on: [data/studies.csv, data/outcomes.csv]

  (chapters that declare nothing depend on :data:`DEFAULT_DEPENDS_ON`);
* when Sphinx reads a chapter, the extension stores a SHA-256 digest of the names and
  contents of every file those patterns match;
* on every later build it recomputes the digests and marks a chapter outdated when its digest
  changed (a file edited, added or removed), so Sphinx re-reads it and myst-nb, configured with
  ``execute_notebooks: force``, executes it again. Unchanged chapters are neither re-read nor
  re-executed, which keeps a no-change rebuild fast.

Content hashes, not modification times, are compared, so ``git checkout`` or ``touch`` alone do
not trigger work. Nothing here knows about any particular review; another Jupyter Book can add
``analysis.sphinxext`` to ``sphinx.extra_extensions`` and use it as is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

#: Inputs assumed for a chapter whose front matter declares no ``depends_on``.
DEFAULT_DEPENDS_ON: tuple[str, ...] = (
    "data/**/*",
    "references.bib",
    "VERSION",
    "analysis/**/*.py",
)

#: Files never hashed even when a pattern matches them (caches, editor droppings).
_IGNORED_PARTS = frozenset({"__pycache__", ".ipynb_checkpoints"})


def front_matter(text: str) -> dict[str, Any]:
    """Return the YAML front matter of a MyST Markdown file (empty dict when there is none)."""
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end < 0:
        return {}
    loaded = yaml.safe_load(text[3:end])
    return loaded if isinstance(loaded, dict) else {}


def declared_inputs(source: Path) -> tuple[str, ...] | None:
    """Glob patterns a chapter depends on, read from its ``depends_on`` front-matter key.

    Returns None for a page that is not an executable notebook (no ``kernelspec``): it runs no
    code, so its output cannot go stale (Sphinx itself tracks files it includes).
    """
    try:
        meta = front_matter(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return DEFAULT_DEPENDS_ON
    if source.suffix == ".md" and "kernelspec" not in meta:
        return None
    value = meta.get("depends_on")
    if value is None:
        return DEFAULT_DEPENDS_ON
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def matched_files(root: Path, patterns: Iterable[str]) -> list[Path]:
    """Sorted, de-duplicated files under ``root`` matched by ``patterns``."""
    found: set[Path] = set()
    for pattern in patterns:
        for path in root.glob(pattern):
            if path.is_file() and not _IGNORED_PARTS.intersection(path.parts):
                found.add(path)
    return sorted(found)


def inputs_digest(root: Path, patterns: Sequence[str]) -> str:
    """SHA-256 over the relative names and contents of the files ``patterns`` match."""
    digest = hashlib.sha256()
    for path in matched_files(root, patterns):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _root(app: Any) -> Path:
    return Path(app.srcdir)


def _digest_for(app: Any, docname: str) -> str | None:
    source = Path(app.env.doc2path(docname))
    if source.suffix not in {".md", ".ipynb"}:
        return None
    patterns = declared_inputs(source)
    return None if patterns is None else inputs_digest(_root(app), patterns)


def _record(app: Any, docname: str, source: list[str]) -> None:
    """``source-read``: remember the digest of the inputs this chapter was executed with."""
    digest = _digest_for(app, docname)
    if digest is not None:
        app.env.live_inputs_digest[docname] = digest


def _outdated(app: Any, env: Any, added: set, changed: set, removed: set) -> list[str]:
    """``env-get-outdated``: chapters whose declared inputs differ from their last read."""
    stale = []
    for docname, old in list(env.live_inputs_digest.items()):
        if docname in changed or docname in removed or docname not in env.all_docs:
            continue
        if _digest_for(app, docname) != old:
            stale.append(docname)
    if stale:
        from sphinx.util import logging

        logging.getLogger(__name__).info(
            "[live inputs] re-executing %d chapter(s) whose data changed: %s",
            len(stale),
            ", ".join(sorted(stale)),
        )
    return stale


def _init_env(app: Any) -> None:
    if not hasattr(app.env, "live_inputs_digest"):
        app.env.live_inputs_digest = {}


def _purge(app: Any, env: Any, docname: str) -> None:
    env.live_inputs_digest.pop(docname, None)


def _merge(app: Any, env: Any, docnames: set, other: Any) -> None:
    for docname in docnames:
        if docname in other.live_inputs_digest:
            env.live_inputs_digest[docname] = other.live_inputs_digest[docname]


def setup(app: Any) -> dict[str, Any]:
    """Register the extension with Sphinx."""
    app.connect("builder-inited", _init_env)
    app.connect("source-read", _record)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    return {"version": "1", "env_version": 1, "parallel_read_safe": True}
