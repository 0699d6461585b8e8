"""Sphinx extension: citations in docstrings become footnoted references on the API page.

Docstrings cite their sources by BibTeX key in square brackets, ``[viechtbauer2010]`` or
``[higgins2002, viechtbauer2010]``, which reads cleanly in ``help()`` and in a terminal. When
autodoc renders a docstring, every bracket whose keys are all entries of the book's BibTeX files
(``bibtex_bibfiles``) becomes a sphinxcontrib-bibtex ``footcite`` role, so the API reference page shows numbered
citations and, at its ``footbibliography``, the full references. A bracket that looks like a
citation but names a key missing from the bibliography is reported as a Sphinx warning (a typo
would otherwise pass silently); other brackets (``[0, 1]``) are left alone.

Enable it with ``analysis.book.apidoc`` in ``sphinx.extra_extensions`` after ``sphinx.ext.autodoc``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from analysis.evidence.bibliography import parse_bibliography
from analysis.references import CITATION

__all__ = ["CITATION", "cite_keys", "setup"]


def cite_keys(line: str, known: set[str]) -> tuple[str, list[str]]:
    """Turn ``[key, key]`` citations of known keys into sphinxcontrib-bibtex ``footcite`` roles.

    Parameters
    ----------
    line : str
        One line of a docstring.
    known : set of str
        The BibTeX keys of the bibliography.

    Returns
    -------
    line : str
        The line with each citation of known keys replaced.
    unknown : list of str
        Keys cited in a citation-shaped bracket but missing from ``known``.
    """
    unknown: list[str] = []

    def replace(match: re.Match[str]) -> str:
        keys = [k.strip() for k in match.group(1).split(",")]
        missing = [k for k in keys if k not in known]
        if missing:
            unknown.extend(missing)
            return match.group(0)
        return f":footcite:`{','.join(keys)}`"

    return CITATION.sub(replace, line), unknown


def _known_keys(app: Any) -> set[str]:
    keys: set[str] = set()
    for name in getattr(app.config, "bibtex_bibfiles", []) or []:
        keys |= {entry.key for entry in parse_bibliography(Path(app.srcdir) / name).entries}
    return keys


def _process(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    from sphinx.util import logging

    if "apidoc_known_keys" not in app.env.temp_data:  # read the bibliography once per build
        app.env.temp_data["apidoc_known_keys"] = _known_keys(app)
    known = app.env.temp_data["apidoc_known_keys"]
    for i, line in enumerate(lines):
        lines[i], unknown = cite_keys(line, known)
        for key in unknown:
            logging.getLogger(__name__).warning(
                f"docstring of {name} cites [{key}], which is not in the bibliography")


def setup(app: Any) -> dict[str, Any]:
    """Register the extension with Sphinx."""
    app.connect("autodoc-process-docstring", _process)
    return {"version": "1", "parallel_read_safe": True}
