"""Sphinx math renderer that writes MathML at build time: mathematics with no script and no other host.

Sphinx's default HTML math renderer, MathJax, loads a 1 MB script from a public content delivery
network on every page that has (or whose table of contents includes a page that has) a formula; a
hospital network or an offline reader does not reach it, and the formulas then show as raw TeX.
This renderer converts each formula's TeX to MathML while the site is built, with the
``latex2mathml`` package, and writes it into the page, where browsers display it natively (MathML
Core) and screen readers read it. A formula the converter cannot parse is shown as its TeX source
in a ``<code>`` element, never dropped.

Use it by adding ``analysis.book.mathml`` (or :mod:`analysis.book.sphinxext`, which loads it) to the
extensions and setting ``html_math_renderer: mathml`` in the Sphinx configuration.
"""

from __future__ import annotations

import html
import re
from typing import Any
from xml.etree import ElementTree

from docutils import nodes

#: Name under which the renderer is registered (the value of ``html_math_renderer``).
RENDERER = "mathml"

#: An ampersand that does not start a character reference (latex2mathml leaves alignment marks bare).
_BARE_AMPERSAND = re.compile(r"&(?!#x?[0-9A-Fa-f]+;|[A-Za-z][A-Za-z0-9]*;)")


def tex_to_mathml(tex: str, display: bool = False) -> str:
    """MathML for the TeX formula ``tex``, or its TeX in ``<code class="math-tex">`` when it cannot be read.

    Parameters
    ----------
    tex
        The formula, without delimiters (``\\log\\{p/(1-p)\\}``).
    display
        True for a displayed (block) formula, False for one inside a line of text.

    Returns
    -------
    str
        A well-formed ``<math>`` element (``display="block"`` or ``"inline"``; a bare ``&`` the
        converter leaves is escaped), or the escaped TeX in ``<code>`` when conversion fails or
        its result is not well-formed XML.
    """
    from latex2mathml.converter import convert

    source = tex.strip()
    try:
        markup = _BARE_AMPERSAND.sub("&amp;", convert(source, display="block" if display else "inline"))
        ElementTree.fromstring(markup)  # well-formed, or not written
    except Exception:  # noqa: BLE001 - any failure: show the TeX itself
        return f'<code class="math-tex">{html.escape(source)}</code>'
    return markup


def visit_math(translator: Any, node: nodes.math) -> None:
    """Inline formula: ``<span class="math">`` holding its MathML."""
    translator.body.append('<span class="math notranslate nohighlight">')
    translator.body.append(tex_to_mathml(node.astext(), display=False))
    translator.body.append("</span>")
    raise nodes.SkipNode


def visit_math_block(translator: Any, node: nodes.math_block) -> None:
    """Displayed formula: one ``<math display="block">`` per blank-line-separated part, numbered as Sphinx does."""
    from sphinx.locale import _
    from sphinx.util.math import get_node_equation_number

    translator.body.append(translator.starttag(node, "div", CLASS="math notranslate nohighlight"))
    if node.get("number"):
        number = get_node_equation_number(translator, node)
        translator.body.append(f'<span class="eqno">({number})')
        translator.add_permalink_ref(node, _("Link to this equation"))
        translator.body.append("</span>")
    parts = [p for p in node.astext().split("\n\n") if p.strip()] or [""]
    for part in parts:
        translator.body.append(tex_to_mathml(part, display=True))
    translator.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app: Any) -> dict[str, Any]:
    """Register the ``mathml`` HTML math renderer with Sphinx."""
    app.add_html_math_renderer(RENDERER, (visit_math, None), (visit_math_block, None))
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
