"""Sphinx extension: a page written again is byte for byte the page a build from nothing writes.

A living review is rebuilt after every correction, and only the pages whose chapters changed are
written again (:mod:`analysis.book.sphinxext`). Two details of Sphinx 7 and myst-nb make such a
site differ from one built from an empty folder, although a reader sees no difference:

* **style-sheet checksums.** Sphinx appends ``?v=<checksum>`` to a style sheet's link when the file
  is already in the output folder as the page is written. myst-nb copies its style sheet there only
  when the build ends (``build-finished``), so a page written by a first build links it without a
  checksum and a page written again links it with one. :func:`copy_late_static_files` copies it
  when writing starts (``write-started``), so every page links it the same way, with its checksum.
* **search terms of old text.** When pages are written again, Sphinx removes them from the search
  index it loaded and adds them anew; a word that no page holds any more stays in the index with an
  empty list of pages. :func:`prune_search_terms` removes such words before the index is written
  (``html-collect-pages``, which comes before the index is dumped).

Nothing here knows about any particular review; :mod:`analysis.book.sphinxext` loads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def copy_late_static_files(app: Any, builder: Any) -> None:
    """``write-started``: copy myst-nb's style sheet into the output folder before any page is written."""
    if getattr(builder, "format", None) != "html":
        return
    try:
        from myst_nb.sphinx_ext import add_global_html_resources
    except ImportError:  # another notebook extension, or none: nothing is copied late
        return
    Path(builder.outdir, "_static").mkdir(parents=True, exist_ok=True)
    add_global_html_resources(app, None)


def prune_search_terms(app: Any) -> list:
    """``html-collect-pages``: drop from the search index the words no page holds any more.

    Returns no page (the event asks for pages to add).
    """
    indexer = getattr(app.builder, "indexer", None)
    for name in ("_mapping", "_title_mapping"):
        mapping = getattr(indexer, name, None)
        if isinstance(mapping, dict):
            for word in [word for word, pages in mapping.items() if not pages]:
                del mapping[word]
    return []


def setup(app: Any) -> dict[str, Any]:
    """Register the extension with Sphinx."""
    app.connect("write-started", copy_late_static_files)
    app.connect("html-collect-pages", prune_search_terms)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
