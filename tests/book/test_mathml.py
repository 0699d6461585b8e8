"""Formulas written as MathML at build time (:mod:`analysis.book.mathml`).

The conversion is checked on formulas of the kind the package's docstrings hold (fractions, roots,
Greek letters, sub- and superscripts, aligned equations) and, as a property over any text, that
what is written is always well-formed XML: MathML, or the TeX itself, escaped, in ``<code>``. A small
SYNTHETIC Sphinx project checks the pages: inline and displayed formulas as ``<math>``, the equation
number and its link, and no MathJax script on any page.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.book.mathml import tex_to_mathml
from tests.buildutil import build_sphinx

MATHML = "{http://www.w3.org/1998/Math/MathML}"


def _tags(markup: str) -> list[str]:
    return [e.tag.removeprefix(MATHML) for e in ElementTree.fromstring(markup).iter()]


@pytest.mark.parametrize(
    ("tex", "expected"),
    [
        (r"\frac{a}{b}", "mfrac"),
        (r"\arcsin\sqrt{p}", "msqrt"),
        (r"\tau^2", "msup"),
        (r"t_{k-1}", "msub"),
        (r"\hat\mu", "mover"),
    ],
)
def test_formula_becomes_mathml(tex: str, expected: str) -> None:
    markup = tex_to_mathml(tex)
    root = ElementTree.fromstring(markup)
    assert root.tag == MATHML + "math" and root.get("display") == "inline"
    assert expected in _tags(markup)


def test_greek_letters_are_characters() -> None:
    assert "\u03c4" in "".join(ElementTree.fromstring(tex_to_mathml(r"\tau")).itertext())


def test_display_formula_is_a_block() -> None:
    assert ElementTree.fromstring(tex_to_mathml("x", display=True)).get("display") == "block"


def test_aligned_equations_are_well_formed() -> None:
    markup = tex_to_mathml(r"\begin{aligned}a&=b\\c&=d\end{aligned}", display=True)
    assert ElementTree.fromstring(markup).tag == MATHML + "math"


def test_unreadable_formula_is_shown_as_escaped_tex() -> None:
    assert tex_to_mathml("{") == '<code class="math-tex">{</code>'
    assert tex_to_mathml(" a<b&c \\sqrt ") == '<code class="math-tex">a&lt;b&amp;c \\sqrt</code>'


#: Characters XML 1.0 allows (no control characters other than tab and newline, no lone surrogates).
XML_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs"), whitelist_characters="\t\n"), max_size=40)


@given(XML_TEXT)
def test_output_is_always_well_formed(tex: str) -> None:
    markup = tex_to_mathml(tex)
    root = ElementTree.fromstring(markup)
    assert root.tag in {MATHML + "math", "code"}
    if root.tag == "code":
        assert root.text in (None, tex.strip()) or "".join(root.itertext()) == tex.strip()


CONF = """
project = "Synthetic"
extensions = ["myst_parser", "analysis.book.mathml"]
myst_enable_extensions = ["dollarmath", "amsmath"]
html_theme = "basic"
html_math_renderer = "mathml"
"""

PAGES = {
    "index.md": "# Home\n\n```{toctree}\nformulas\n```\n\nNo formula here.\n",
    "formulas.md": (
        "# Formulas\n\nInline $\\tau^2$ in a sentence.\n\n"
        "```{math}\n:label: pooled\n\\hat\\mu = \\frac{\\sum w_i y_i}{\\sum w_i}\n```\n\n"
        "See {eq}`pooled`.\n"
    ),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out, warnings = build_sphinx(tmp_path_factory.mktemp("math"), CONF, PAGES)
    assert "WARNING" not in warnings, warnings
    return out


def test_pages_hold_mathml_and_no_mathjax(built: Path) -> None:
    page = (built / "formulas.html").read_text(encoding="utf-8")
    assert page.count("<math ") == 2
    assert '<span class="math notranslate nohighlight"><math' in page
    assert 'id="equation-pooled"' in page and '<span class="eqno">(1)' in page
    for html in built.glob("*.html"):
        assert "mathjax" not in html.read_text(encoding="utf-8").lower().replace("mathjax_ignore", "")


def _docstring_formulas() -> list[tuple[str, str]]:
    """``(where, TeX)`` of every ``:math:`` role in the docstrings of the ``analysis`` package."""
    import ast
    import re

    root = Path(__file__).resolve().parents[2] / "analysis"
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node, clean=False) or ""
                where = f"{path.relative_to(root.parent)}:{getattr(node, 'name', 'module')}"
                found += [(where, tex) for tex in re.findall(r":math:`([^`]+)`", doc)]
    return found


def test_every_formula_in_the_package_docstrings_converts() -> None:
    """The API reference shows each docstring formula as MathML (a stray ``\\a`` in a docstring that is
    not raw becomes a control character, which no converter reads)."""
    formulas = _docstring_formulas()
    assert len(formulas) >= 10
    unread = [f"{where}: {tex!r}" for where, tex in formulas if tex_to_mathml(tex).startswith("<code")]
    assert unread == []
