"""Sphinx extension part: a meta description on every page and Open Graph tags on the home page.

Search engines show a page's ``<meta name="description">`` under its title, and link previews (chat,
social sites, e-mail) read the Open Graph tags (``og:title``, ``og:description``, ``og:type``,
``og:url``) of the Open Graph protocol. For every HTML page, during Sphinx's ``html-page-context`` event:

* the description is the page's front-matter ``description`` when it has one, else the text of its
  first paragraph of prose (not one inside an admonition, sidebar, table, footnote, citation or
  code output), else its title, else the project's title; markup is removed, white space collapsed
  and the text cut at a word boundary to at most :data:`DESCRIPTION_LIMIT` characters (an ellipsis
  marks a cut);
* a page Sphinx generates without a document (search, general index) is described as
  "<its title>: <project title>";
* a page that already has a description (a ``meta`` directive or ``html_meta``) keeps its own;
* the root document (the home page) also gets ``og:title``, ``og:description``, ``og:type``
  (``website``), ``og:site_name`` and, when ``html_baseurl`` is set, ``og:url``.

A feed of the site (an Atom feed of its releases, for example) is linked from every page's head with
``<link rel="alternate" type="application/atom+xml">`` when ``feed_url`` is set: a path relative to the root of
the built HTML (``feed.xml``, or ``../feed.xml`` for a feed one folder above it, as a versioned site has it) or
an absolute address. The role ``feed-link`` (in MyST, ``{feed-link}`` followed by the link text in backticks)
writes a link to it in a page's text (plain text when no feed is set).

Configuration: ``page_description_limit`` (default :data:`DESCRIPTION_LIMIT`), ``feed_url`` (default empty: no
feed), ``feed_title`` (the link's title). Nothing here knows about any particular book.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

from docutils import nodes

#: Longest description written, in characters; search engines cut longer ones at about this length.
DESCRIPTION_LIMIT = 155
#: Marks a description that was cut.
ELLIPSIS = "\u2026"

_TAG = re.compile(r"<[^>]*>")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARKS = re.compile(r"[*_`#]+|[<>]")
_SPACE = re.compile(r"\s+")


def plain_text(text: str) -> str:
    """``text`` without HTML tags or Markdown marks, its white space collapsed to single spaces.

    HTML character references are decoded first (``&amp;`` becomes ``&``), a Markdown link keeps its
    text, and ``*``, ``_``, backticks, ``#``, ``<`` and ``>`` are removed.
    """
    text = _TAG.sub(" ", html.unescape(text))
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_MARKS.sub("", text)
    return _SPACE.sub(" ", text).strip()


def trim(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, ending with an ellipsis when cut.

    A text of at most ``limit`` characters is returned unchanged. Otherwise the longest run of whole
    words that leaves room for the ellipsis is kept (a single word longer than that is cut inside the
    word), trailing punctuation is dropped and :data:`ELLIPSIS` appended.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    cut = text[: room + 1]
    space = cut.rfind(" ")
    kept = cut[:space] if space > 0 else text[:room]
    return kept.rstrip(" ,;:.-\u2013\u2014") + ELLIPSIS if room > 0 else ELLIPSIS[:limit]


#: Containers whose paragraphs are not the page's own prose.
_SKIPPED = (
    nodes.Admonition, nodes.sidebar, nodes.topic, nodes.table, nodes.footnote, nodes.citation,
    nodes.field_list, nodes.docinfo, nodes.system_message, nodes.raw, nodes.literal_block,
)  # fmt: skip


#: Classes of the containers that hold a code cell's output (myst-nb; docutils spells it with a hyphen).
_OUTPUT_CLASSES = frozenset({"cell_output", "cell-output"})


def _inside(node: nodes.Node, kinds: tuple[type, ...]) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, kinds) or _OUTPUT_CLASSES.intersection(parent.get("classes", ())):
            return True
        parent = parent.parent
    return False


def first_paragraph(doctree: nodes.Node | None) -> str:
    """Plain text of the first non-empty paragraph of prose in ``doctree`` ("" when there is none)."""
    if doctree is None:
        return ""
    for paragraph in doctree.findall(nodes.paragraph):
        if _inside(paragraph, _SKIPPED):
            continue
        text = plain_text(paragraph.astext())
        if text:
            return text
    return ""


def page_description(
    metadata: Mapping[str, Any] | None,
    doctree: nodes.Node | None,
    fallbacks: Iterable[str] = (),
    limit: int = DESCRIPTION_LIMIT,
) -> str:
    """The description of one page: front matter, else first paragraph, else the first usable fallback.

    Parameters
    ----------
    metadata
        The page's front matter / docinfo (Sphinx's ``env.metadata[docname]``); its ``description``
        is used when it is a non-empty string.
    doctree
        The page's document tree.
    fallbacks
        Texts tried in order when the page has neither (its title, the project's title).
    limit
        Longest description, in characters (see :func:`trim`).

    Returns
    -------
    str
        Plain text of at most ``limit`` characters; "" only when every source is empty.
    """
    declared = (metadata or {}).get("description")
    candidates = [declared if isinstance(declared, str) else "", first_paragraph(doctree)]
    for text in [*candidates, *fallbacks]:
        cleaned = plain_text(text or "")
        if cleaned:
            return trim(cleaned, limit)
    return ""


def _meta(attribute: str, key: str, value: str) -> str:
    return f'<meta {attribute}="{key}" content="{html.escape(value, quote=True)}" />\n'


def open_graph_tags(title: str, description: str, site_name: str, url: str | None) -> str:
    """Open Graph ``<meta property="og:...">`` tags (Open Graph protocol) for a home page."""
    tags = [
        _meta("property", "og:title", title),
        _meta("property", "og:description", description),
        _meta("property", "og:type", "website"),
        _meta("property", "og:site_name", site_name),
    ]
    if url:
        tags.append(_meta("property", "og:url", url))
    return "".join(tags)


def page_url(baseurl: str, pagename: str, suffix: str = ".html") -> str | None:
    """Absolute address of a page from Sphinx's ``html_baseurl`` (None when that is not set)."""
    if not baseurl:
        return None
    return baseurl.rstrip("/") + "/" + pagename + suffix


#: Titles of the pages Sphinx generates without a document (their templates, not the context, set them).
_GENERATED_TITLES = {"search": "Search", "genindex": "Index", "py-modindex": "Python Module Index"}


#: Title of the feed link when ``feed_title`` is not set.
FEED_TITLE = "Releases (Atom feed)"


def feed_href(feed_url: str, pagename: str) -> str:
    """The address of the feed from page ``pagename`` (e.g. ``book/index``): an absolute address as it is, a
    path relative to the HTML root prefixed with one ``../`` per folder of the page."""
    if not feed_url or feed_url.startswith(("/", "http://", "https://")):
        return feed_url
    return "../" * pagename.count("/") + feed_url


def feed_link_tag(href: str, title: str = FEED_TITLE) -> str:
    """``<link rel="alternate" type="application/atom+xml" ...>`` for a page's head."""
    return (f'<link rel="alternate" type="application/atom+xml" title="{html.escape(title, quote=True)}" '
            f'href="{html.escape(href, quote=True)}" />\n')


def _feed_role(name: str, rawtext: str, text: str, lineno: int, inliner: Any,
               options: Any = None, content: Any = None) -> tuple[list[nodes.Node], list[Any]]:
    """``{feed-link}`Subscribe```: a link to the site's feed (plain text when no feed is configured)."""
    env = inliner.document.settings.env
    href = feed_href(str(env.config.feed_url or ""), env.docname)
    if not href:
        return [nodes.Text(text)], []
    return [nodes.reference(rawtext, text, refuri=href, classes=["feed-link"])], []


def _page_context(
    app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """``html-page-context``: add the description (and, on the home page, Open Graph tags)."""
    existing = context.get("metatags", "")
    project = plain_text(app.config.html_title or app.config.project or "")
    title = plain_text(context.get("title") or "") or _GENERATED_TITLES.get(pagename, "")
    # A page generated without a document (search, general index) is described by its title and the project.
    fallbacks = (title, project) if doctree is not None else (f"{title}: {project}" if title else project,)
    description = page_description(
        context.get("meta"), doctree, fallbacks, app.config.page_description_limit
    )
    tags = ""
    if description and 'name="description"' not in existing:
        tags += _meta("name", "description", description)
    if pagename == app.config.root_doc and "og:title" not in existing:
        url = page_url(app.config.html_baseurl, pagename, app.builder.link_suffix)
        tags += open_graph_tags(title or project, description, project, url)
    href = feed_href(str(app.config.feed_url or ""), pagename)
    if href and "application/atom+xml" not in existing:
        tags += feed_link_tag(href, app.config.feed_title or FEED_TITLE)
    context["metatags"] = existing + tags


def setup(app: Any) -> dict[str, Any]:
    """Register the page metadata part of the extension."""
    app.add_config_value("page_description_limit", DESCRIPTION_LIMIT, "html", [int])
    app.add_config_value("feed_url", "", "env", [str])
    app.add_config_value("feed_title", FEED_TITLE, "html", [str])
    app.add_role("feed-link", _feed_role)
    app.connect("html-page-context", _page_context)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
