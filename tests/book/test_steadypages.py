"""analysis.book.steadypages: a page written again is the page a build from nothing writes.

The whole-site check is tests/e2e/test_build_caches.py (a rebuild after a count was corrected and
corrected back equals a build from nothing); these tests pin the two handlers on stand-in objects.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from analysis.book.steadypages import copy_late_static_files, prune_search_terms


def _app(outdir: Path, fmt: str = "html", indexer: object = None) -> SimpleNamespace:
    builder = SimpleNamespace(format=fmt, outdir=str(outdir), indexer=indexer)
    return SimpleNamespace(builder=builder)


def test_mystnbs_style_sheet_is_in_place_before_the_pages_are_written(tmp_path: Path) -> None:
    app = _app(tmp_path)
    copy_late_static_files(app, app.builder)
    [sheet] = (tmp_path / "_static").glob("mystnb.*.css")
    assert sheet.stat().st_size > 0


def test_nothing_is_copied_for_a_builder_that_is_not_html(tmp_path: Path) -> None:
    app = _app(tmp_path, fmt="latex")
    copy_late_static_files(app, app.builder)
    assert not (tmp_path / "_static").exists()


def test_words_no_page_holds_leave_the_search_index(tmp_path: Path) -> None:
    indexer = SimpleNamespace(_mapping={"kept": {"book/a"}, "gone": set(), "also": {"book/a", "book/b"}},
                              _title_mapping={"title": {"book/a"}, "old": set()})
    assert prune_search_terms(_app(tmp_path, indexer=indexer)) == []
    assert indexer._mapping == {"kept": {"book/a"}, "also": {"book/a", "book/b"}}
    assert indexer._title_mapping == {"title": {"book/a"}}


def test_a_builder_without_a_search_index_is_left_alone(tmp_path: Path) -> None:
    assert prune_search_terms(_app(tmp_path, indexer=None)) == []
    assert prune_search_terms(_app(tmp_path, indexer=SimpleNamespace())) == []
