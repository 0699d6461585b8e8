"""A build made from the caches writes the same site and snapshot as a build that computes everything (issue 28).

``make book`` (``tools/build.py``) reuses work wherever the inputs did not change: drawn figures
(:mod:`analysis.book.figcache`), results shared by chapters and the snapshot
(:mod:`analysis.living.buildcache`), the review loaded once per build in the process the chapters
are forked from (``live_inputs_prewarm``), icon-font cuts (:mod:`analysis.book.iconfonts`), WebP
copies of the figures (:mod:`analysis.book.imagehints`), and the pages of chapters whose execution
gave what it gave last time (``live_inputs_skip_unchanged``: not read nor written again). This test
builds the real book three ways:

* **plain**: a copy whose ``_config.yml`` sets ``live_inputs_caches: false`` (no cache is read
  or written, nothing is prewarmed), built once from nothing;
* **cached**: the real book the session builds once (``real_book``: a copy as a clone has it, built
  with every cache filled), copied, then built again after its site, doctrees, executed notebooks,
  stage records and snapshot were removed, the caches kept: the second build takes every figure,
  shared result, font cut and WebP copy from them;
* **incremental**: that copy then rebuilt twice as ``make book`` rebuilds after a reviewer corrected
  a count (one count of ``data/outcomes.csv`` changed, with its quote and the second reviewer's
  record), then corrected it back: only the chapters reading the file are executed, and those whose
  outputs did not change are not read again.

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


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, real_book: RealBuild) -> dict[str, Any]:
    plain = fresh_copy(tmp_path_factory.mktemp("plain") / "book")  # what real_book was copied from
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
    cached = tmp_path_factory.mktemp("cached") / "book"
    shutil.copytree(real_book.root, cached, symlinks=True)  # the session's build is only read
    for name in REMOVED:
        shutil.rmtree(cached / "_build" / name, ignore_errors=True)
    assert all(any((cached / "_build" / name).iterdir()) for name in CACHES), "a cache is empty"
    second = _make_book(cached)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    kept = tmp_path_factory.mktemp("cached-site")  # what the cached build wrote, before the rebuilds
    shutil.copytree(cached / "_build" / "html", kept / "html")
    shutil.copytree(cached / "_build" / "results", kept / "results")

    row, logs = changeable_row(cached), []
    for delta in (-1, +1):  # a count corrected, then corrected back: the data are those of plain again
        change_one_value(cached, row, delta)
        again = _make_book(cached)
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
        logs.append(again.stdout)
    return {"plain": plain / "_build", "cached": kept, "cached log": second.stdout,
            "incremental": cached / "_build", "incremental logs": logs}


def test_the_second_build_took_its_work_from_the_caches(built: dict[str, Any]) -> None:
    log = str(built["cached log"])
    assert "chapter execution" in log and "site post-processing" in log
    figures = built["incremental"] / ".figure_cache"  # the folder the cached build was made in
    assert len([p for p in figures.iterdir() if p.is_dir()]) >= 10


def test_the_incremental_build_left_unchanged_chapters_unread(built: dict[str, Any]) -> None:
    """Some chapters read ``data/outcomes.csv`` without showing the changed count: executed, not read again."""
    for log in built["incremental logs"]:
        assert "re-executing" in log
    assert "gave what they gave last time, not read again" in built["incremental logs"][-1]


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
