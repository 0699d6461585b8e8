"""Icon fonts cut to the icons used (:mod:`analysis.book.iconfonts`).

The style-sheet reading is checked on small SYNTHETIC style sheets; the cutting on the real Font Awesome
fonts the installed PyData Sphinx theme ships (copied to a temporary folder): after the cut a font maps
exactly the code points asked for that it had, keeps its format, and is smaller. The end-to-end check
(every icon class in the built review has its glyph in a font of the site) is in
``tests/e2e/test_book_e2e.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from analysis.book.iconfonts import (
    icon_code_points,
    needed_code_points,
    subset_font,
    subset_font_cached,
    subset_site,
    used_icon_classes,
)

CSS = (
    '.fa-github:before{content:"\\f09b"}'
    '.fa-github-square:before,.fa-square-github:before{content:"\\f092"}'
    ".fa-solid,.fas{font-weight:900}"
    ':root{--pst-icon-external-link:"\\f35d"}'
    'a.external::after{font:var(--fa-font-solid);content:"\\f08e"}'
    '.fa-magnifying-glass::before{content:"\\f002"}'
)


def test_icon_code_points_splits_class_rules_from_rules_that_show_icons_themselves() -> None:
    by_class, always = icon_code_points(CSS)
    assert by_class == {"fa-github": {0xF09B}, "fa-github-square": {0xF092}, "fa-square-github": {0xF092},
                        "fa-magnifying-glass": {0xF002}}  # fmt: skip
    assert always == {0xF35D, 0xF08E}


def test_used_icon_classes_finds_names_in_markup_and_scripts() -> None:
    texts = ['<i class="fa-brands fa-github"></i>', 'icon.classList.add("fa-solid", "fa-magnifying-glass")',
             "a sofa-bed is not an icon"]  # fmt: skip
    assert used_icon_classes(texts) == {"fa-brands", "fa-github", "fa-solid", "fa-magnifying-glass"}


def test_needed_code_points_are_the_used_classes_and_the_self_shown_icons() -> None:
    assert needed_code_points([CSS], {"fa-github", "fa-unknown"}) == {0xF09B, 0xF35D, 0xF08E}
    assert needed_code_points([CSS], set()) == {0xF35D, 0xF08E}
    assert needed_code_points([], {"fa-github"}) == set()


def _theme_fonts() -> Path:
    import pydata_sphinx_theme

    folder = (Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static"
              / "vendor" / "fontawesome" / "webfonts")  # fmt: skip
    if not folder.is_dir():
        pytest.skip("the installed PyData theme ships no Font Awesome fonts")
    return folder


@pytest.mark.parametrize("name", ["fa-solid-900.woff2", "fa-solid-900.ttf"])
def test_subset_font_keeps_exactly_the_asked_glyphs_and_the_format(tmp_path: Path, name: str) -> None:
    font = tmp_path / name
    shutil.copy(_theme_fonts() / name, font)
    before = font.stat().st_size
    original = TTFont(str(_theme_fonts() / name))
    asked = {0xF002, 0xF0C9, 0x10FFFF}  # magnifying glass, bars, and a code point no font has
    assert subset_font(font, asked)
    cut = TTFont(str(font))
    assert set(cut.getBestCmap()) == asked & set(original.getBestCmap()) == {0xF002, 0xF0C9}
    assert cut.flavor == original.flavor
    assert font.stat().st_size < before / 10


def test_font_holding_none_of_the_code_points_is_left_as_it_is(tmp_path: Path) -> None:
    font = tmp_path / "fa-brands-400.woff2"
    shutil.copy(_theme_fonts() / "fa-brands-400.woff2", font)
    data = font.read_bytes()
    assert not subset_font(font, {0xF002})  # a solid icon: not in the brands font
    assert font.read_bytes() == data


def test_subset_site_cuts_to_the_icons_of_the_pages(tmp_path: Path) -> None:
    fonts = tmp_path / "_static" / "fonts"
    fonts.mkdir(parents=True)
    for name in ("fa-solid-900.woff2", "fa-brands-400.woff2"):
        shutil.copy(_theme_fonts() / name, fonts / name)
    (tmp_path / "_static" / "theme.css").write_text(CSS, encoding="utf-8")
    (tmp_path / "index.html").write_text('<i class="fa-brands fa-github"></i>', encoding="utf-8")
    sizes = subset_site(tmp_path, ["_static/fonts/*.woff2"])
    assert set(sizes) == {"_static/fonts/fa-solid-900.woff2", "_static/fonts/fa-brands-400.woff2"}
    assert set(TTFont(str(fonts / "fa-brands-400.woff2")).getBestCmap()) == {0xF09B}
    assert set(TTFont(str(fonts / "fa-solid-900.woff2")).getBestCmap()) == {0xF35D, 0xF08E}
    assert subset_site(tmp_path, ["nothing/*"]) == {}


def test_cutting_is_reproducible(tmp_path: Path) -> None:
    """The same font and icons give the same bytes (no time stamp), so two builds of the site are identical."""
    import time

    outputs = []
    for run in range(2):
        font = tmp_path / f"run{run}.woff2"
        shutil.copy(_theme_fonts() / "fa-solid-900.woff2", font)
        subset_font(font, {0xF002, 0xF0C9})
        outputs.append(font.read_bytes())
        time.sleep(1.1)  # a time stamp in seconds would differ
    assert outputs[0] == outputs[1]


def test_a_cached_cut_is_the_bytes_of_a_fresh_cut_and_skips_the_subsetter(tmp_path: Path, monkeypatch) -> None:
    from analysis.book import iconfonts

    cache, asked = tmp_path / "cache", {0xF002, 0xF0C9}
    fresh = tmp_path / "fresh.woff2"
    shutil.copy(_theme_fonts() / "fa-solid-900.woff2", fresh)
    subset_font(fresh, asked)
    first, second = tmp_path / "first.woff2", tmp_path / "second.woff2"
    for font in (first, second):
        shutil.copy(_theme_fonts() / "fa-solid-900.woff2", font)
    assert subset_font_cached(first, asked, cache)
    calls = []
    monkeypatch.setattr(iconfonts, "subset_font", lambda *a: calls.append(a) or True)
    assert subset_font_cached(second, asked, cache)
    assert calls == []
    assert second.read_bytes() == first.read_bytes() == fresh.read_bytes()
    other = tmp_path / "other.woff2"  # other code points: another key, the subsetter runs
    shutil.copy(_theme_fonts() / "fa-solid-900.woff2", other)
    subset_font_cached(other, {0xF002}, cache)
    assert len(calls) == 1


def test_a_font_left_as_it_is_is_remembered(tmp_path: Path) -> None:
    font = tmp_path / "fa-brands-400.woff2"
    shutil.copy(_theme_fonts() / "fa-brands-400.woff2", font)
    data = font.read_bytes()
    assert not subset_font_cached(font, {0xF002}, tmp_path / "cache")
    assert not subset_font_cached(font, {0xF002}, tmp_path / "cache")
    assert font.read_bytes() == data


def test_glyph_rules_of_unused_icons_are_left_out_and_nothing_else_changes() -> None:
    from analysis.book.iconfonts import trim_icon_rules

    css = ('.fa-lg{font-size:1.25em}.fa-0:before{content:"\\30 "}.fa-github:before{content:"\\f09b"}'
           '.fa-house::before,.fa-home:before{content:"\\f015"}@media print{.fa-moon:before{content:"\\f186"}}'
           '.fa-bars:before, .fa-navicon:before { content: "\\f0c9"; }.x:before{content:"\\f002"}')
    trimmed = trim_icon_rules(css, {"fa-github", "fa-home", "fa-bars", "fa-lg"})
    assert trimmed == ('.fa-lg{font-size:1.25em}.fa-github:before{content:"\\f09b"}'
                       '.fa-home:before{content:"\\f015"}@media print{}'
                       '.fa-bars:before { content: "\\f0c9"; }.x:before{content:"\\f002"}')
    assert needed_code_points([trimmed], {"fa-github", "fa-home", "fa-bars"}) == needed_code_points(
        [css], {"fa-github", "fa-home", "fa-bars"})
    assert trim_icon_rules(css, {"fa-0", "fa-github", "fa-house", "fa-home", "fa-moon", "fa-bars",
                                 "fa-navicon"}) == css
