"""The static site checks (``tests/sitecheck.py``) on small SYNTHETIC sites: each check finds what it
is for (a script, style sheet, font, image or preload on another host; a missing or empty description;
a missing or broken icon) and passes a clean site."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sitecheck import (
    css_urls,
    is_other_host,
    missing_descriptions,
    missing_icons,
    other_host_loads,
)

CLEAN = """<!doctype html><html><head><meta charset="utf-8">
<meta name="description" content="A page." />
<link rel="icon" href="../_static/favicon.svg"/>
<link rel="stylesheet" href="../_static/site.css"/>
<script src="../_static/site.js"></script>
<style>body { background: url(data:image/png;base64,AAAA) }</style>
</head><body><a href="https://doi.org/10.1000/x">a reference</a><img src="fig.png" alt="f"></body></html>"""


def _site(tmp: Path, page: str = CLEAN, css: str = "@import '../basic.css';") -> Path:
    (tmp / "book").mkdir(parents=True)
    (tmp / "_static").mkdir()
    (tmp / "book" / "page.html").write_text(page, encoding="utf-8")
    (tmp / "_static" / "favicon.svg").write_text("<svg/>", encoding="utf-8")
    (tmp / "_static" / "site.css").write_text(css, encoding="utf-8")
    (tmp / "_static" / "fragment.html").write_text("<p>theme fragment, not a page</p>", encoding="utf-8")
    return tmp


def test_clean_site_passes(tmp_path: Path) -> None:
    site = _site(tmp_path)
    assert other_host_loads(site) == []
    assert missing_descriptions(site) == []
    assert missing_icons(site) == []


@pytest.mark.parametrize(
    "tag",
    [
        '<script defer src="https://cdn.example.org/mathjax.js"></script>',
        '<link rel="stylesheet" href="//fonts.example.org/css?family=X"/>',
        '<link rel="preload" as="font" href="http://fonts.example.org/x.woff2"/>',
        '<img src="https://images.example.org/a.png" alt="a">',
        '<img src="a.png" srcset="a.png 1x, https://images.example.org/a2.png 2x" alt="a">',
        '<style>@import "https://fonts.example.org/font.css";</style>',
        '<div style="background:url(\'https://images.example.org/b.png\')"></div>',
        '<script>const LIB_URL = "https://unpkg.example.org/lib@1/index.js";</script>',
    ],
)
def test_each_kind_of_load_from_another_host_is_found(tmp_path: Path, tag: str) -> None:
    site = _site(tmp_path, CLEAN.replace("</head>", tag + "</head>"))
    found = other_host_loads(site)
    assert len(found) == 1 and found[0].startswith("book/page.html: ")


def test_font_in_a_style_sheet_on_another_host_is_found(tmp_path: Path) -> None:
    css = "@font-face{font-family:X;src:url(https://fonts.example.org/x.woff2) format('woff2')}"
    assert other_host_loads(_site(tmp_path, css=css)) == [
        "_static/site.css: url() -> https://fonts.example.org/x.woff2"
    ]


@pytest.mark.parametrize(
    ("page", "problem"),
    [
        (CLEAN.replace('<meta name="description" content="A page." />', ""), "description []"),
        (CLEAN.replace('content="A page."', 'content="  "'), "description ['  ']"),
        (CLEAN.replace("</head>", '<meta name="description" content="Again."></head>'), "'Again.'"),
    ],
)
def test_missing_empty_or_double_description_is_found(tmp_path: Path, page: str, problem: str) -> None:
    found = missing_descriptions(_site(tmp_path, page))
    assert len(found) == 1 and problem in found[0]


def test_missing_or_broken_icon_is_found(tmp_path: Path) -> None:
    no_icon = CLEAN.replace('<link rel="icon" href="../_static/favicon.svg"/>', "")
    assert missing_icons(_site(tmp_path / "a", no_icon)) == ["book/page.html: no <link rel=icon>"]
    broken = CLEAN.replace("favicon.svg", "missing.ico")
    assert missing_icons(_site(tmp_path / "b", broken)) == [
        "book/page.html: icon ../_static/missing.ico is not a file of the site"
    ]


def test_inline_script_text_other_than_asset_addresses_passes(tmp_path: Path) -> None:
    script = '<script>const home = "https://example.org/about"; const local = "_static/a.js";</script>'
    data = '<script type="application/json">{"lib": "https://cdn.example.org/x.js"}</script>'
    assert other_host_loads(_site(tmp_path, CLEAN.replace("</head>", script + data + "</head>"))) == []


def test_other_host_and_css_urls() -> None:
    assert is_other_host("https://x.org/a.js") and is_other_host("//x.org/a.js")
    assert not is_other_host("../_static/a.js") and not is_other_host("data:image/png;base64,AA")
    assert css_urls("a{b:url( 'x.woff2' )} @import \"y.css\"; c{d:url(z.png)}") == ["x.woff2", "y.css", "z.png"]


def test_redirect_stub_needs_no_description_or_icon(tmp_path: Path) -> None:
    stub = '<!DOCTYPE html><html><head><meta http-equiv="Refresh" content="0; url=book/page.html" /></head></html>'
    site = _site(tmp_path)
    (site / "index.html").write_text(stub, encoding="utf-8")
    assert missing_descriptions(site) == [] and missing_icons(site) == []
