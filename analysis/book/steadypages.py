"""Sphinx extension: a page written again is byte for byte the page a build from nothing writes.

A living review is rebuilt after every correction, and only the pages whose chapters changed are
written again (:mod:`analysis.book.sphinxext`). Two details of Sphinx 7 and myst-nb make such a
site differ from one built from an empty folder, although a reader sees no difference:

* **style-sheet checksums.** Sphinx appends ``?v=<checksum>`` to a style sheet's link when the file
  is already in the output folder as the page is written. myst-nb copies its style sheet there only
  when the build ends (``build-finished``), so a page written by a first build links it without a
  checksum and a page written again links it with one. :func:`copy_late_static_files` copies it
  when writing starts (``write-started``), so every page links it the same way, with its checksum.
* **the search index.** When pages are written again, Sphinx removes them from the search index it
  loaded and adds them anew; a word that no page holds any more stays in the index with an empty
  list of pages, and the index entries (the API's "class in module" entries) of every page *not*
  written again are lost: Sphinx 7.4 keeps them in its environment, which it saves before pages are
  written, and does not read them back from the index. :func:`steady_search_index` removes such
  words and restores such entries from a copy kept beside the environment
  (:data:`INDEX_ENTRIES`), before the index is written (``html-collect-pages`` comes before it).

Nothing here knows about any particular review; :mod:`analysis.book.sphinxext` loads it.
"""

from __future__ import annotations

import json
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


#: File beside the saved environment keeping each page's search-index entries between builds.
INDEX_ENTRIES = "search-index-entries.json"


def steady_search_index(app: Any) -> list:
    """``html-collect-pages``: the search index as a build from nothing would write it.

    Words no page holds any more are dropped; each page in the index that was not written in this
    build gets back its index entries of the last build; entries of pages no longer in the index are
    dropped; the pages' entries are put in the order of their names, the order in which a build
    from nothing writes them (the index lists an entry's pages in that order). The entries are then
    kept for the next build. Returns no page (the event asks for
    pages to add).
    """
    indexer = getattr(app.builder, "indexer", None)
    for name in ("_mapping", "_title_mapping"):
        mapping = getattr(indexer, name, None)
        if isinstance(mapping, dict):
            for word in [word for word, pages in mapping.items() if not pages]:
                del mapping[word]
    entries, titles = getattr(indexer, "_index_entries", None), getattr(indexer, "_titles", None)
    if not isinstance(entries, dict) or not isinstance(titles, dict):
        return []
    kept = Path(app.doctreedir) / INDEX_ENTRIES
    for docname, listed in _read_entries(kept).items():
        if docname in titles and docname not in entries:
            entries[docname] = listed
    ordered = {d: v for d, v in sorted(entries.items()) if d in titles}  # the order pages are written in
    entries.clear()
    entries.update(ordered)
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(json.dumps({d: [list(e) for e in v] for d, v in sorted(entries.items())}), encoding="utf-8")
    return []


def _read_entries(path: Path) -> dict[str, list[tuple[str, str, str]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(d): [tuple(e) for e in v if isinstance(e, list) and len(e) == 3]
            for d, v in data.items() if isinstance(v, list)}


def setup(app: Any) -> dict[str, Any]:
    """Register the extension with Sphinx."""
    app.connect("write-started", copy_late_static_files)
    app.connect("html-collect-pages", steady_search_index)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
