"""Docstring citations: ``[key]`` in help(), footnoted references on the API page."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import analysis
from analysis.book.apidoc import CITATION, cite_keys
from analysis.evidence.bibliography import parse_bibliography
from tests.packageutil import package_modules

ROOT = Path(__file__).resolve().parents[2]
KNOWN = {e.key for e in parse_bibliography(ROOT / "references.bib").entries}


def test_one_and_several_known_keys() -> None:
    assert cite_keys("estimator [paule1982].", KNOWN) == ("estimator :footcite:`paule1982`.", [])
    line, unknown = cite_keys("see [higgins2002, viechtbauer2010] and [miller1978]", KNOWN)
    assert line == "see :footcite:`higgins2002,viechtbauer2010` and :footcite:`miller1978`"
    assert unknown == []


def test_unknown_keys_are_reported_and_left_alone() -> None:
    line, unknown = cite_keys("[higgins2002, nobody1999] text", KNOWN)
    assert line == "[higgins2002, nobody1999] text"
    assert unknown == ["nobody1999"]


@pytest.mark.parametrize("text", ["[0, 1]", "x[i]", "[k]", "a list [1, 2, 3]", "[PLO]", "``[x2]``"])
def test_brackets_that_are_not_citations(text: str) -> None:
    assert cite_keys(text, KNOWN) == (text, [])


@given(st.text(alphabet=st.characters(blacklist_characters="[]"), max_size=80))
def test_text_without_brackets_is_unchanged(text: str) -> None:
    assert cite_keys(text, KNOWN) == (text, [])


@given(st.lists(st.sampled_from(sorted(KNOWN)), min_size=1, max_size=4), st.text(max_size=20))
def test_any_known_keys_become_one_footcite(keys: list[str], prefix: str) -> None:
    prefix = prefix.replace("[", "(").replace("]", ")")
    line, unknown = cite_keys(f"{prefix}[{', '.join(keys)}]", KNOWN)
    assert line == f"{prefix}:footcite:`{','.join(keys)}`"
    assert unknown == []


def _docstrings() -> dict[str, str]:
    """Every docstring of the package (modules, classes, functions, methods), by qualified name."""
    code = """
import importlib, inspect, json, sys
out = {}
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    out[name] = inspect.getdoc(module) or ""
    for attr, obj in vars(module).items():
        if getattr(obj, "__module__", None) == name and (inspect.isclass(obj) or inspect.isfunction(obj)):
            out[f"{name}.{attr}"] = inspect.getdoc(obj) or ""
            for sub, member in vars(obj).items() if inspect.isclass(obj) else ():
                if inspect.isfunction(member):
                    out[f"{name}.{attr}.{sub}"] = inspect.getdoc(member) or ""
print(json.dumps(out))
"""
    import json

    proc = subprocess.run([sys.executable, "-c", code, *package_modules()], capture_output=True,
                          text=True, check=True, timeout=120, cwd=ROOT)
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def docstrings() -> dict[str, str]:
    return _docstrings()


def test_help_shows_no_sphinx_citation_roles(docstrings: dict[str, str]) -> None:
    """help() reads cleanly in a terminal: citations are [key], never :footcite: or :cite:."""
    raw = {n for n, d in docstrings.items() if re.search(r":(foot)?cite(:[a-z]+)?:`", d)}
    assert raw == set()
    assert ":footcite:" not in (analysis.metaprop.__doc__ or "")


def test_every_docstring_citation_is_in_the_bibliography(docstrings: dict[str, str]) -> None:
    cited = {k.strip() for d in docstrings.values() for m in CITATION.finditer(d) for k in m.group(1).split(",")}
    assert cited, "the docstrings cite their sources"
    assert cited - KNOWN == set()
