"""Page descriptions and Open Graph tags (:mod:`analysis.book.pagemeta`).

The text functions are checked as properties over any text (Hypothesis): a description is never
longer than its limit, never holds markup, and an empty page falls back to its title. A small
SYNTHETIC Sphinx project (three pages, built in-process in about a second) checks what lands in the
HTML: one description per page (front matter first, else the first paragraph of prose, else the
title), Open Graph tags on the home page only, ``og:url`` from ``html_baseurl``, a page's own
``meta`` description kept, and quotes and ampersands escaped.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from docutils.core import publish_doctree
from hypothesis import given
from hypothesis import strategies as st

from analysis.book.pagemeta import (
    DESCRIPTION_LIMIT,
    ELLIPSIS,
    first_paragraph,
    open_graph_tags,
    page_description,
    page_url,
    plain_text,
    trim,
)
from tests.buildutil import build_sphinx

MARKUP = set("<>*`")


# ---------------------------------------------------------------- plain_text
def test_plain_text_strips_tags_markdown_and_space() -> None:
    text = "  A <b>bold</b>\n claim with **stars**, `code`, a [link](https://x.org/a) &amp; _more_ "
    assert plain_text(text) == "A bold claim with stars, code, a link & more"


@given(st.text())
def test_plain_text_never_holds_markup_or_runs_of_space(text: str) -> None:
    cleaned = plain_text(text)
    assert not MARKUP & set(cleaned)
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned and "\n" not in cleaned


# ---------------------------------------------------------------- trim
def test_trim_keeps_text_at_the_limit_and_cuts_one_over() -> None:
    text = "word " * 40 + "end"
    assert trim(text[:DESCRIPTION_LIMIT]) == text[:DESCRIPTION_LIMIT]
    assert trim(text[: DESCRIPTION_LIMIT + 1]).endswith(ELLIPSIS)
    assert len(trim(text[: DESCRIPTION_LIMIT + 1])) <= DESCRIPTION_LIMIT


def test_trim_cuts_at_a_word_boundary_and_drops_trailing_punctuation() -> None:
    assert trim("alpha beta, gamma delta", 14) == "alpha beta" + ELLIPSIS
    assert trim("alpha beta gamma", 10) == "alpha" + ELLIPSIS


def test_trim_cuts_inside_a_single_long_word() -> None:
    assert trim("x" * 50, 10) == "x" * 9 + ELLIPSIS


@pytest.mark.parametrize("limit", [0, -3])
def test_trim_rejects_a_limit_below_one(limit: int) -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        trim("text", limit)


@given(st.text(), st.integers(min_value=1, max_value=400))
def test_trim_is_never_longer_than_the_limit(text: str, limit: int) -> None:
    cut = trim(text, limit)
    assert len(cut) <= limit
    if len(text) <= limit:
        assert cut == text
    else:
        assert cut.endswith(ELLIPSIS)
        assert text.startswith(cut[: -len(ELLIPSIS)])


# ---------------------------------------------------------------- first_paragraph
def _tree(rst: str) -> object:
    return publish_doctree(rst, settings_overrides={"report_level": 5})


def test_first_paragraph_skips_admonitions_tables_and_footnotes() -> None:
    tree = _tree(
        "Title\n=====\n\n.. note::\n\n   Not this note.\n\n"
        "+------+\n| cell |\n+------+\n\n"
        ".. [1] Not a footnote.\n\n"
        "The *first* paragraph of prose.\n\nA second one.\n"
    )
    assert first_paragraph(tree) == "The first paragraph of prose."


def test_first_paragraph_skips_code_cell_outputs() -> None:
    tree = _tree("Title\n=====\n\n.. container:: cell_output\n\n   An output.\n\nProse.\n")
    assert first_paragraph(tree) == "Prose."


def test_first_paragraph_of_nothing() -> None:
    assert first_paragraph(None) == ""
    assert first_paragraph(_tree("Only a title\n============\n")) == ""


# ---------------------------------------------------------------- page_description
def test_front_matter_description_wins_over_the_first_paragraph() -> None:
    tree = _tree("Prose here.\n")
    assert page_description({"description": "Declared **text**."}, tree) == "Declared text."
    assert page_description({"description": ""}, tree) == "Prose here."
    assert page_description({"description": ["not", "text"]}, tree) == "Prose here."


def test_empty_page_falls_back_to_title_then_project() -> None:
    empty = _tree("")
    assert page_description({}, empty, ("Page title", "Project")) == "Page title"
    assert page_description(None, empty, ("", "  Project  ")) == "Project"
    assert page_description(None, None, ()) == ""


@given(
    st.one_of(st.none(), st.text()),
    st.text(),
    st.lists(st.text(), max_size=3),
    st.integers(min_value=1, max_value=300),
)
def test_description_is_bounded_and_plain(
    declared: str | None, prose: str, fallbacks: list[str], limit: int
) -> None:
    from docutils import nodes

    tree = nodes.document(None, None)
    paragraph = nodes.paragraph(text=prose)
    tree += paragraph
    metadata = {} if declared is None else {"description": declared}
    described = page_description(metadata, tree, fallbacks, limit)
    assert len(described) <= limit
    assert not MARKUP & set(described)
    # the paragraph's text as docutils keeps it (it drops NUL, its escape character: prose "\x00" is empty)
    if not any(plain_text(t) for t in [declared or "", paragraph.astext(), *fallbacks]):
        assert described == ""
    else:
        assert described


# ---------------------------------------------------------------- tags and addresses
def test_open_graph_tags_escape_their_values() -> None:
    tags = open_graph_tags('A "quoted" & <title>', "Desc", "Site", "https://x.org/index.html")
    assert 'content="A &quot;quoted&quot; &amp; &lt;title&gt;"' in tags
    assert '<meta property="og:type" content="website" />' in tags
    assert '<meta property="og:url" content="https://x.org/index.html" />' in tags
    assert "og:url" not in open_graph_tags("T", "D", "S", None)


def test_page_url() -> None:
    assert page_url("", "book/index") is None
    assert page_url("https://x.org/review/", "book/index") == "https://x.org/review/book/index.html"
    assert page_url("https://x.org/review", "index", "/") == "https://x.org/review/index/"


# ---------------------------------------------------------------- a built project
CONF = """
project = "Synthetic book"
extensions = ["myst_parser", "analysis.book.pagemeta"]
myst_enable_extensions = ["colon_fence"]
html_theme = "basic"
{extra}
"""

PAGES = {
    "index.md": (
        '---\ndescription: A "declared" summary & more\n---\n# Home page\n\n'
        "```{toctree}\nprose\nempty\nown\n```\n\nThe home page's own prose.\n"
    ),
    "prose.md": "# Prose\n\n:::{note}\nA note first.\n:::\n\n" + "Words of the first paragraph. " * 10,
    "empty.md": "# An empty page\n",
    "own.md": "# Own\n\n```{eval-rst}\n.. meta::\n   :description: Written by hand.\n```\n\nProse.\n",
}


class _Meta(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        key = found.get("name") or found.get("property")
        if tag == "meta" and key in {"description"} | {f"og:{k}" for k in
                                                       ("title", "description", "type", "url", "site_name")}:  # fmt: skip
            self.tags.append((str(key), found.get("content") or ""))


def _meta(out: Path, page: str) -> dict[str, list[str]]:
    parser = _Meta()
    parser.feed((out / f"{page}.html").read_text(encoding="utf-8"))
    found: dict[str, list[str]] = {}
    for key, value in parser.tags:
        found.setdefault(key, []).append(value)
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    extra = 'html_baseurl = "https://example.org/review/"'
    out, warnings = build_sphinx(tmp_path_factory.mktemp("meta"), CONF.format(extra=extra), PAGES)
    assert "WARNING" not in warnings, warnings
    return out


def test_every_page_has_one_description(built: Path) -> None:
    assert _meta(built, "index")["description"] == ['A "declared" summary & more']
    prose = _meta(built, "prose")["description"]
    assert len(prose) == 1 and prose[0].startswith("Words of the first paragraph.")
    assert len(prose[0]) <= DESCRIPTION_LIMIT and prose[0].endswith(ELLIPSIS)
    assert _meta(built, "empty")["description"] == ["An empty page"]
    assert _meta(built, "own")["description"] == ["Written by hand."]


def test_home_page_alone_has_open_graph_tags(built: Path) -> None:
    home = _meta(built, "index")
    assert home["og:title"] == ["Home page"]
    assert home["og:description"] == ['A "declared" summary & more']
    assert home["og:type"] == ["website"]
    assert home["og:site_name"] == ["Synthetic book documentation"]
    assert home["og:url"] == ["https://example.org/review/index.html"]
    for page in ("prose", "empty", "own"):
        assert not any(key.startswith("og:") for key in _meta(built, page)), page


def test_no_base_url_no_og_url(tmp_path: Path) -> None:
    out, _ = build_sphinx(tmp_path, CONF.format(extra=""), {"index.md": "# Home\n\nText.\n"})
    home = _meta(out, "index")
    assert home["og:title"] == ["Home"] and "og:url" not in home


def test_generated_pages_are_described_by_title_and_project(built: Path) -> None:
    assert _meta(built, "search")["description"] == ["Search: Synthetic book documentation"]
    assert _meta(built, "genindex")["description"] == ["Index: Synthetic book documentation"]


# ---------------------------------------------------------------- the feed link
def test_feed_href_from_any_page() -> None:
    from analysis.book.pagemeta import feed_href

    assert feed_href("feed.xml", "index") == "feed.xml"
    assert feed_href("feed.xml", "book/index") == "../feed.xml"
    assert feed_href("../feed.xml", "book/sub/page") == "../../../feed.xml"
    assert feed_href("/review/feed.xml", "book/index") == "/review/feed.xml"
    assert feed_href("", "book/index") == ""


def _feed_links(out: Path, page: str) -> tuple[list[dict], list[dict]]:
    class Links(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.head: list[dict] = []
            self.body: list[dict] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found = dict(attrs)
            if tag == "link" and found.get("type") == "application/atom+xml":
                self.head.append(found)
            if tag == "a" and "feed-link" in (found.get("class") or ""):
                self.body.append(found)

    parser = Links()
    parser.feed((out / f"{page}.html").read_text(encoding="utf-8"))
    return parser.head, parser.body


def test_every_page_links_the_feed_and_the_role_writes_a_link(tmp_path: Path) -> None:
    extra = 'feed_url = "feed.xml"\nfeed_title = "Synthetic releases"'
    pages = {"index.md": "# Home\n\n{feed-link}`Subscribe`\n\n```{toctree}\nsub/page\n```\n",
             "sub/page.md": "# Deeper\n\nText.\n"}
    out, warnings = build_sphinx(tmp_path, CONF.format(extra=extra), pages)
    assert "WARNING" not in warnings, warnings
    for page, href in (("index", "feed.xml"), ("sub/page", "../feed.xml"), ("search", "feed.xml"),
                       ("genindex", "feed.xml")):
        head, _ = _feed_links(out, page)
        assert [(h["rel"], h["href"], h["title"]) for h in head] == [("alternate", href, "Synthetic releases")], page
    _, body = _feed_links(out, "index")
    assert [b["href"] for b in body] == ["feed.xml"]


def test_no_feed_configured_no_link_and_plain_text(tmp_path: Path) -> None:
    out, _ = build_sphinx(tmp_path, CONF.format(extra=""), {"index.md": "# Home\n\n{feed-link}`Subscribe`\n"})
    head, body = _feed_links(out, "index")
    assert head == [] and body == []
    assert "Subscribe" in (out / "index.html").read_text(encoding="utf-8")
