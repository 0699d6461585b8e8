"""A build made from the caches writes the same site and snapshot as a build that computes everything (issue 28).

``make book`` (``tools/build.py``) reuses work wherever the inputs did not change: drawn figures
(:mod:`analysis.book.figcache`), results shared by chapters and the snapshot
(:mod:`analysis.living.buildcache`), the review loaded once per build in the process the chapters
are forked from (``live_inputs_prewarm``), icon-font cuts (:mod:`analysis.book.iconfonts`), WebP
copies of the figures (:mod:`analysis.book.imagehints`), and the pages of chapters whose execution
gave what it gave last time (``live_inputs_skip_unchanged``: not read nor written again). In each
copy below one count of ``data/outcomes.csv`` is changed (with its quote and the second reviewer's
record), as a reviewer correcting a count would; then the real book is built three ways:

* **plain**: a copy whose ``_config.yml`` sets ``live_inputs_caches: false`` (no cache is read
  or written, nothing is prewarmed), built once from nothing;
* **cached**: the real book the session builds once (``real_book``: a copy as a clone has it, built
  with every cache filled), copied, then built again after its site, doctrees, executed notebooks,
  stage records and snapshot were removed, the caches kept: the second build takes every figure,
  shared result, font cut and WebP copy it can from them;
* **incremental**: the same copy with nothing removed, built again as ``make book`` rebuilds after a
  change: only the chapters reading the changed file are executed, and those whose outputs did
  not change are not read again.

Every file of the three websites, and the three results snapshots, must be byte-identical.
"""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.buildutil import ROOT, change_one_value, changeable_row
from tests.e2e.conftest import RealBuild
from tests.e2e.test_book_e2e import fresh_copy

pytestmark = [pytest.mark.build, pytest.mark.slow]

DATE = "2026-12-07"  # the snapshot records its date: the same for both builds
#: What the second build of the cached copy must make again; the caches beside them are kept.
REMOVED = ("html", ".doctrees", "jupyter_execute", ".jupyter_cache", ".stages", "results")
CACHES = (".figure_cache", ".build_cache", "icon-font-cache", "image-cache")


def _make_book(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.build", "--root", str(project), "--date", DATE],
        cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False)


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _change_a_count(project: Path) -> None:
    change_one_value(project, changeable_row(project), -1)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, real_book: RealBuild) -> dict[str, Any]:
    plain = fresh_copy(tmp_path_factory.mktemp("plain") / "book")  # what real_book was copied from
    _change_a_count(plain)
    config = plain / "_config.yml"
    text = config.read_text(encoding="utf-8")
    assert "  config:\n" in text
    config.write_text(text.replace("  config:\n", "  config:\n    live_inputs_caches: false\n", 1),
                      encoding="utf-8")
    result = _make_book(plain)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert not any((plain / "_build" / name).exists() and any((plain / "_build" / name).iterdir())
                   for name in (".figure_cache", "icon-font-cache", "image-cache")), "a cache was written"

    assert real_book.returncode == 0, real_book.stdout[-3000:] + real_book.stderr[-3000:]
    out: dict[str, Any] = {"plain": plain / "_build"}
    for name, removed in (("incremental", ()), ("cached", REMOVED)):
        copy = tmp_path_factory.mktemp(name) / "book"
        shutil.copytree(real_book.root, copy, symlinks=True)  # the session's build is only read
        _change_a_count(copy)
        for folder in removed:
            shutil.rmtree(copy / "_build" / folder, ignore_errors=True)
        if removed:
            assert all(any((copy / "_build" / c).iterdir()) for c in CACHES), "a cache is empty"
        again = _make_book(copy)
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
        out[name], out[f"{name} log"] = copy / "_build", again.stdout
    return out


def test_the_second_build_took_its_work_from_the_caches(built: dict[str, Any]) -> None:
    log = str(built["cached log"])
    assert "chapter execution" in log and "site post-processing" in log
    figures = built["cached"] / ".figure_cache"
    assert len([p for p in figures.iterdir() if p.is_dir()]) >= 10


def test_the_incremental_build_left_unchanged_chapters_unread(built: dict[str, Any]) -> None:
    """Some chapters read ``data/outcomes.csv`` without showing the changed count: executed, not read again."""
    log = str(built["incremental log"])
    assert "re-executing" in log
    assert "gave what they gave last time, not read again" in log


@pytest.mark.parametrize("build", ["cached", "incremental"])
def test_the_websites_are_byte_identical(built: dict[str, Any], build: str) -> None:
    plain, other = built["plain"] / "html", built[build] / "html"
    names = _files(plain)
    assert len(names) > 100
    assert _files(other) == names
    _, mismatch, errors = filecmp.cmpfiles(plain, other, names, shallow=False)
    assert not mismatch and not errors, f"differ: {mismatch[:10]}"


@pytest.mark.parametrize("build", ["cached", "incremental"])
def test_the_snapshots_are_byte_identical(built: dict[str, Any], build: str) -> None:
    plain = (built["plain"] / "results" / "dev.json").read_bytes()
    assert plain == (built[build] / "results" / "dev.json").read_bytes()
    assert b'"date": "2026-12-07"' in plain
