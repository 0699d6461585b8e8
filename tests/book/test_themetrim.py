"""The PyData theme's Font Awesome script left out, its icons kept (:mod:`analysis.book.themetrim`).

The override template is rendered with Jinja against a stand-in for the theme's macro file, and
two SYNTHETIC Sphinx projects are built with the installed PyData Sphinx theme, with and without
``theme_trim_fontawesome_js``. The premise the module rests on is checked too: the theme's own
style sheet declares Font Awesome's web fonts (and ships them) and the icon rules, so an
``<i class="fa-brands fa-github">`` still shows without the script.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

from analysis.book.themetrim import (
    MACROS,
    REMOVED,
    SCRIPT,
    deferred_scripts,
    macro_names,
    override_template,
    without_assets,
)
from tests.buildutil import build_sphinx

THEME_MACROS = """
{% macro head_pre_assets() %}
  <link href="{{ root }}/theme.css" rel="stylesheet" />
{% endmacro %}
{%- macro head_js_preload() -%}
  <script defer src="{{ root }}/fontawesome.js?digest=1"></script>
  <link rel="preload" as="script" href="{{ root }}/bootstrap.js" />
{%- endmacro %}
{% macro body_post() %}
<script defer src="{{ root }}/bootstrap.js"></script>
{% endmacro %}
{% macro with_argument(x) %}{{ x }}{% endmacro %}
"""


def test_macro_names_lists_argumentless_macros_in_order() -> None:
    assert macro_names(THEME_MACROS) == ["head_pre_assets", "head_js_preload", "body_post"]
    assert macro_names("no macros") == []


def test_override_drops_only_the_script_line() -> None:
    loader = jinja2.DictLoader({
        "!" + MACROS: THEME_MACROS,
        MACROS: override_template(macro_names(THEME_MACROS)),
        "page.html": '{% import "' + MACROS + '" as w with context %}'
                     "{{ w.head_pre_assets() }}|{{ w.head_js_preload() }}|{{ w.body_post() }}",
    })  # fmt: skip
    page = jinja2.Environment(loader=loader).get_template("page.html").render(root="/s")
    assert SCRIPT not in page
    assert page.count("theme.css") == 1
    assert '<link rel="preload" as="script" href="/s/bootstrap.js" />' in page
    assert '<script defer src="/s/bootstrap.js"></script>' in page


CONF = """
project = "Synthetic"
html_theme = "pydata_sphinx_theme"
html_theme_options = {{"icon_links": [{{"name": "Code", "url": "https://example.org/code",
                                       "icon": "fa-brands fa-github", "type": "fontawesome"}}]}}
extensions = ["analysis.book.themetrim"]
theme_trim_fontawesome_js = {trim}
theme_defer_scripts = {trim}
"""
PAGES = {"index.rst": "Home\n====\n\n.. toctree::\n\n   other\n", "other.rst": "Other\n=====\n\nText.\n"}


def _build(tmp: Path, trim: bool) -> Path:
    out, warnings = build_sphinx(tmp, CONF.format(trim=trim), PAGES)
    assert "WARNING" not in warnings, warnings
    return out


def test_trimmed_build_loads_no_font_awesome_script(tmp_path: Path) -> None:
    out = _build(tmp_path, trim=True)
    for page in ("index", "other"):
        html = (out / f"{page}.html").read_text(encoding="utf-8")
        assert SCRIPT not in html
        assert "bootstrap.js" in html and "pydata-sphinx-theme.js" in html  # the rest is kept
        assert 'class="fa-brands fa-github' in html  # the icon element is still there
    for name in REMOVED:
        assert not (out / "_static" / "scripts" / name).exists()


def test_untrimmed_build_keeps_the_script(tmp_path: Path) -> None:
    out = _build(tmp_path, trim=False)
    assert SCRIPT in (out / "index.html").read_text(encoding="utf-8")
    assert (out / "_static" / "scripts" / SCRIPT).is_file()


def test_theme_style_sheet_draws_icons_from_shipped_web_fonts(tmp_path: Path) -> None:
    out = _build(tmp_path, trim=True)
    css = (out / "_static" / "styles" / "pydata-sphinx-theme.css").read_text(encoding="utf-8")
    faces = re.findall(r"@font-face\{[^}]*Font Awesome[^}]*\}", css)
    families = {re.search(r"font-weight:(\d+)", f).group(1) + ("b" if "Brands" in f else "") for f in faces}
    assert {"900", "400", "400b"} <= families  # solid, regular, brands
    for font in re.findall(r"url\((\.\./vendor/fontawesome/webfonts/[^)]+\.woff2)\)", css):
        assert (out / "_static" / "styles" / font).resolve().is_file(), font
    assert ".fa-github:before{content:" in css
    assert re.search(r"\.fa-brands,\.fab\{font-family:Font Awesome\\ 6 Brands", css)


# ---------------------------------------------------------------- deferred scripts
def _js(filename: str | None, **attributes: str) -> object:
    from sphinx.builders.html._assets import _JavaScript

    return _JavaScript(filename, **attributes)


def test_blocking_script_files_are_deferred_inline_async_module_and_kept_ones_not() -> None:
    scripts = [
        _js("_static/documentation_options.js"),
        _js("_static/doctools.js"),
        _js(None, body="DOCUMENTATION_OPTIONS.pagename = 'x';"),
        _js("_static/a.js", **{"async": "async"}),
        _js("_static/b.js", defer="defer"),
        _js("_static/m.js", type="module"),
        _js("_static/c.js?v=1", **{"data-x": "1"}),
    ]
    out = deferred_scripts(scripts, keep=("documentation_options.js",))
    assert [s.attributes for s in out] == [
        {}, {"defer": "defer"}, {"body": "DOCUMENTATION_OPTIONS.pagename = 'x';"}, {"async": "async"},
        {"defer": "defer"}, {"type": "module"}, {"data-x": "1", "defer": "defer"},
    ]
    assert [s.filename for s in out] == [s.filename for s in scripts]
    assert [s.priority for s in out] == [s.priority for s in scripts]


def test_duplicate_scripts_are_kept_once_in_first_place() -> None:
    body = {"body": 'const SETTING = "x";'}
    scripts = [_js(None, **body), _js("_static/a.js"), _js("", **body), _js("_static/a.js")]
    out = deferred_scripts(scripts, keep=())
    assert [(s.filename, s.attributes) for s in out] == [(None, body), ("_static/a.js", {"defer": "defer"})]


def test_trimmed_build_defers_every_script_file_but_the_kept_one(tmp_path: Path) -> None:
    from tests.sitecheck import scan_page

    out = _build(tmp_path, trim=True)
    html = (out / "index.html").read_text(encoding="utf-8")
    blocking = re.findall(r"<script(?![^>]*\b(?:defer|async)\b)[^>]*\bsrc=\"([^\"]+)\"", html)
    assert [src.split("?")[0] for src in blocking] == ["_static/documentation_options.js"]
    loads = [url.split("?")[0] for _, url in scan_page(out / "index.html").loads]
    for name in ("_static/searchtools.js", "_static/language_data.js", "searchindex.js", "_static/doctools.js"):
        assert name in loads, name  # deferred, not dropped
    assert html.index("documentation_options.js") < html.index("DOCUMENTATION_OPTIONS.pagename")


def test_project_layout_is_not_shadowed(tmp_path: Path) -> None:
    conf = CONF.format(trim=True) + 'templates_path = ["_templates"]\n'
    layout = '{% extends "!layout.html" %}{% block extrahead %}{{ super() }}<meta name="own-layout" content="1">{% endblock %}'
    out, _ = build_sphinx(tmp_path, conf, {**PAGES, "_templates/layout.html": layout})
    html = (out / "index.html").read_text(encoding="utf-8")
    assert 'name="own-layout"' in html
    assert SCRIPT not in html  # the Font Awesome trim still applies


def test_nothing_is_deferred_on_the_search_page_but_duplicates_go(tmp_path: Path) -> None:
    """Sphinx's search page loads searchtools.js synchronously; it needs doctools.js loaded before it."""
    out = _build(tmp_path, trim=True)
    html = (out / "search.html").read_text(encoding="utf-8")
    assert re.search(r'<script src="_static/doctools\.js[^"]*"></script>', html)
    assert html.count("doctools.js") == 1
    scripts = [_js(None, body="const A = 1;"), _js("_static/doctools.js"), _js("", body="const A = 1;")]
    assert [s.attributes for s in deferred_scripts(scripts, keep=(), defer=False)] == [
        {"body": "const A = 1;"}, {},
    ]


def test_unused_assets_are_dropped_by_file_name_or_inline_text() -> None:
    from sphinx.builders.html._assets import _CascadingStyleSheet

    scripts = [_js("_static/thebe.js?v=1"), _js("_static/keep.js"), _js(None, body='const URL = "x"; // THEBE'),
               _js(None, body="const other = 1;")]  # fmt: skip
    kept = without_assets(scripts, ("thebe.js", "THEBE"))
    assert [(s.filename, s.attributes) for s in kept] == [("_static/keep.js", {}), (None, {"body": "const other = 1;"})]
    sheets = [_CascadingStyleSheet("_static/thebe.css"), _CascadingStyleSheet("_static/site.css")]
    assert [c.filename for c in without_assets(sheets, ("thebe.css",))] == ["_static/site.css"]
    assert without_assets(scripts, ()) == scripts
