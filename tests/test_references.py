"""The works the package's docstrings cite travel with the package (analysis.references, analysis.cite)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import analysis
from analysis.evidence.bibliography import parse_bibliography
from analysis.references import CITATION, REFERENCES, cite, cited
from tools import package_references

ROOT = Path(__file__).resolve().parents[1]


def test_every_key_cited_under_analysis_resolves_in_the_installed_package() -> None:
    keys = package_references.cited_keys()
    assert len(keys) >= 30 and "miller1978" in keys and "egger1997" in keys  # single and listed citations
    assert sorted(REFERENCES) == keys


def test_the_shipped_references_are_those_of_references_bib_now() -> None:
    """Regenerating analysis/references.py from references.bib changes nothing."""
    done = subprocess.run([sys.executable, "-m", "tools.package_references", "--check"], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr


def test_a_reference_carries_the_entry_s_authors_title_venue_year_and_doi() -> None:
    entry = next(e for e in parse_bibliography(ROOT / "references.bib", recommended=()).entries
                 if e.key == "miller1978")
    text = cite("miller1978")
    assert text == ("Miller JJ. The inverse of the Freeman-Tukey double arcsine transformation. "
                    f"{entry.fields['journal']} {entry.fields['year']};{entry.fields['volume']}"
                    f"({entry.fields['number']}):{entry.fields['pages']}. doi:{entry.fields['doi']}")
    assert cite("[miller1978]") == text


def test_an_object_s_citations_are_listed_in_full_in_its_docstring_order() -> None:
    listed = cite(analysis.metaprop).splitlines()
    assert [line.split("]")[0].lstrip("[") for line in listed] == cited(analysis.metaprop)
    assert listed[0] == f"[miller1978] {cite('miller1978')}"
    assert "analysis.cite" in (analysis.metaprop.__doc__ or "")


def test_an_unknown_key_suggests_the_nearest() -> None:
    with pytest.raises(KeyError, match=r"no reference 'miler1978' among the .* did you mean miller1978"):
        cite("miler1978")


def test_the_citation_pattern_reads_single_and_listed_keys_and_leaves_intervals_alone() -> None:
    found = [m.group(1) for m in CITATION.finditer("a [miller1978] b [higgins2002, viechtbauer2010] c [0, 1]")]
    assert found == ["miller1978", "higgins2002, viechtbauer2010"]


def test_the_references_module_needs_nothing_but_the_standard_library() -> None:
    code = ("import sys, builtins; real = builtins.__import__\n"
            "def guard(name, *a, **k):\n"
            "    if name.split('.')[0] in {'numpy', 'scipy', 'pandas', 'yaml', 'bibtexparser'}:\n"
            "        raise ImportError(name)\n"
            "    return real(name, *a, **k)\n"
            "builtins.__import__ = guard\n"
            "import importlib.util, pathlib\n"
            "spec = importlib.util.spec_from_file_location('refs', pathlib.Path('analysis/references.py'))\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            "print(m.cite('miller1978')[:6])")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Miller\n"
