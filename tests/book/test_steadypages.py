"""analysis.book.steadypages: a page written again is the page a build from nothing writes.

The whole-site check is tests/e2e/test_build_caches.py (a rebuild after a count was corrected and
corrected back equals a build from nothing); these tests pin the two handlers on stand-in objects.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from analysis.book.steadypages import INDEX_ENTRIES, copy_late_static_files, steady_search_index


def _app(outdir: Path, fmt: str = "html", indexer: object = None) -> SimpleNamespace:
    builder = SimpleNamespace(format=fmt, outdir=str(outdir), indexer=indexer)
    return SimpleNamespace(builder=builder, doctreedir=str(outdir / "doctrees"))


def test_mystnbs_style_sheet_is_in_place_before_the_pages_are_written(tmp_path: Path) -> None:
    app = _app(tmp_path)
    copy_late_static_files(app, app.builder)
    [sheet] = (tmp_path / "_static").glob("mystnb.*.css")
    assert sheet.stat().st_size > 0


def test_nothing_is_copied_for_a_builder_that_is_not_html(tmp_path: Path) -> None:
    app = _app(tmp_path, fmt="latex")
    copy_late_static_files(app, app.builder)
    assert not (tmp_path / "_static").exists()


def _indexer(**parts: object) -> SimpleNamespace:
    base = {"_mapping": {}, "_title_mapping": {}, "_titles": {}, "_index_entries": {}}
    return SimpleNamespace(**{**base, **parts})


def test_words_no_page_holds_leave_the_search_index(tmp_path: Path) -> None:
    indexer = _indexer(_mapping={"kept": {"book/a"}, "gone": set(), "also": {"book/a", "book/b"}},
                       _title_mapping={"title": {"book/a"}, "old": set()})
    assert steady_search_index(_app(tmp_path, indexer=indexer)) == []
    assert indexer._mapping == {"kept": {"book/a"}, "also": {"book/a", "book/b"}}
    assert indexer._title_mapping == {"title": {"book/a"}}


def test_pages_not_written_again_keep_their_index_entries(tmp_path: Path) -> None:
    """First build: both pages written. Second: only b written; a's entries come back from the copy;
    a page gone from the index loses its entries."""
    entry_a, entry_b = ("Study (class in m)", "m.Study", ""), ("fit() (in module m)", "m.fit", "main")
    first = _indexer(_titles={"a": "A", "b": "B"}, _index_entries={"a": [entry_a], "b": [entry_b]})
    steady_search_index(_app(tmp_path, indexer=first))
    second = _indexer(_titles={"a": "A", "b": "B"}, _index_entries={"b": [entry_b]})
    steady_search_index(_app(tmp_path, indexer=second))
    assert second._index_entries == {"a": [entry_a], "b": [entry_b]}
    assert list(second._index_entries) == ["a", "b"]  # as a build from nothing feeds them
    third = _indexer(_titles={"b": "B"}, _index_entries={"b": [], "gone": [entry_a]})
    steady_search_index(_app(tmp_path, indexer=third))
    assert third._index_entries == {"b": []}  # b written again without entries; a gone from the index


def test_an_unreadable_copy_of_the_entries_is_no_copy(tmp_path: Path) -> None:
    (tmp_path / "doctrees").mkdir()
    (tmp_path / "doctrees" / INDEX_ENTRIES).write_text("not json", encoding="utf-8")
    indexer = _indexer(_titles={"a": "A"}, _index_entries={})
    steady_search_index(_app(tmp_path, indexer=indexer))
    assert indexer._index_entries == {}


def test_a_builder_without_a_search_index_is_left_alone(tmp_path: Path) -> None:
    assert steady_search_index(_app(tmp_path, indexer=None)) == []
    assert steady_search_index(_app(tmp_path, indexer=SimpleNamespace())) == []
