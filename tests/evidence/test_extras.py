"""Optional dependencies are named when missing (analysis.evidence.extras)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from analysis.evidence.extras import EXTRAS, MissingExtraError, install_hint, require, require_extra


def test_require_returns_the_module() -> None:
    import json

    assert require("json", "evidence") is json


def test_require_names_the_extra_and_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # as if PyYAML were not installed
    with pytest.raises(MissingExtraError) as info:
        require("yaml", "evidence", who="reading YAML files")
    text = str(info.value)
    assert text.startswith("reading YAML files needs the optional 'evidence' dependencies")
    assert "yaml (PyYAML) is not installed" in text
    assert 'pip install ".[evidence]"' in text
    assert isinstance(info.value, ImportError)  # callers catching ImportError still do


def test_require_of_a_submodule_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m.startswith("bibtexparser.")]:
        monkeypatch.delitem(sys.modules, name)  # as if never imported in this process
    monkeypatch.setitem(sys.modules, "bibtexparser", None)
    with pytest.raises(MissingExtraError, match=r"bibtexparser \(bibtexparser\) is not installed"):
        require("bibtexparser.model", "evidence")


def test_a_different_missing_module_is_not_renamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A library that is installed but misses one of its own dependencies keeps its own error."""
    (tmp_path / "zz_brokenlib.py").write_text("import zz_dependency_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as info:
        require("zz_brokenlib", "book")
    assert not isinstance(info.value, MissingExtraError)
    assert info.value.name == "zz_dependency_not_installed"


def test_require_extra_lists_every_missing_library(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("yaml", "pylatexenc"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingExtraError) as info:
        require_extra("evidence", "the evidence room")
    text = str(info.value)
    assert "yaml (PyYAML), pylatexenc (pylatexenc) are not installed" in text
    assert "bibtexparser" not in text


def test_require_extra_passes_when_installed() -> None:
    require_extra("book", "the book room")  # the test environment has the whole toolkit


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_install_hint(extra: str) -> None:
    assert install_hint(extra).startswith(f'pip install ".[{extra}]"')
    assert set(EXTRAS["evidence"]) <= set(EXTRAS["book"])
