"""The fast path builds the same site as Jupyter kernels do (issue 8).

`make book` executes chapters in forked workers of a kernel-like process (`analysis.book.nbfork`) and
reuses unchanged figures (`analysis.book.figcache`). This test compares the session's build of the
real book (the ``real_book`` fixture, built that way) with a copy built with `execute_notebooks: force`
(a Jupyter kernel per chapter, the reference): every file of the website byte for byte, and the
glued values (the numbers the prose shows) as JSON: jupyter-cache sorts the keys of JSON objects
on the fast path, which carries no meaning.

Known difference, by myst-nb's design: in ``cache`` mode the notebooks myst-nb copies to
``_build/jupyter_execute`` are the sources without outputs (the executed notebooks are in
``_build/.jupyter_cache``); they are not part of the website.
"""

from __future__ import annotations

import filecmp
import json
from pathlib import Path
from typing import Any

import pytest

from tests.buildutil import build
from tests.e2e.test_book_e2e import fresh_copy

pytestmark = [pytest.mark.build, pytest.mark.slow, pytest.mark.xdist_group("real_book")]

#: Build outputs that must be identical (the rest of _build holds caches and pickled doctrees,
#: which embed the copy's absolute path), and the files compared in each.
COMPARED = {"html": "*", "jupyter_execute": "*.glue.json"}


def _files(folder: Path, pattern: str) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob(pattern) if p.is_file()}


@pytest.fixture(scope="module")
def built(real_book: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The fast path: the session's build of the real review (``real_book``); the reference: the same
    copy built with ``execute_notebooks: force``."""
    assert real_book.returncode == 0, real_book.stdout[-3000:] + real_book.stderr[-3000:]
    assert "executed (forked)" in real_book.stdout and "Executing notebook" not in real_book.stdout
    project = fresh_copy(tmp_path_factory.mktemp("force") / "book")
    config = project / "_config.yml"
    text = config.read_text(encoding="utf-8")
    assert "execute_notebooks: cache" in text
    config.write_text(text.replace("execute_notebooks: cache", "execute_notebooks: force"), encoding="utf-8")
    result = build(project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "executed (forked)" not in result.stdout and "Executing notebook" in result.stdout
    return {"cache": real_book.root / "_build", "force": project / "_build"}


@pytest.mark.parametrize("folder", sorted(COMPARED))
def test_the_fast_path_writes_the_same_files_as_kernels(built: dict[str, Path], folder: str) -> None:
    fast, kernel = built["cache"] / folder, built["force"] / folder
    names = _files(kernel, COMPARED[folder])
    assert names, f"nothing built in {kernel}"
    assert _files(fast, COMPARED[folder]) == names
    as_json = sorted(n for n in names if n.endswith(".json") and folder == "jupyter_execute")
    as_bytes = sorted(names - set(as_json))
    _, mismatch, errors = filecmp.cmpfiles(fast, kernel, as_bytes, shallow=False)
    assert not mismatch and not errors, f"differ: {mismatch[:10]}"
    differ = [n for n in as_json if json.loads((fast / n).read_text(encoding="utf-8"))
              != json.loads((kernel / n).read_text(encoding="utf-8"))]
    assert not differ, f"differ: {differ[:10]}"
