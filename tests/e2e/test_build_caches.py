"""A build made from the caches writes the same site and snapshot as a build that computes everything (issue 28).

``make book`` (``tools/build.py``) reuses work wherever the inputs did not change: drawn figures
(:mod:`analysis.book.figcache`), results shared by chapters and the snapshot
(:mod:`analysis.living.buildcache`), the review loaded once per build in the process the chapters
are forked from (``live_inputs_prewarm``), icon-font cuts (:mod:`analysis.book.iconfonts`) and WebP
copies of the figures (:mod:`analysis.book.imagehints`). This test builds the real book twice:

* **plain**: a copy whose ``_config.yml`` sets ``live_inputs_caches: false`` (no cache is read
  or written, nothing is prewarmed), built once from nothing;
* **cached**: the real book the session builds once (``real_book``: a copy as a clone has it, built
  with every cache filled), copied, then built again after its site, doctrees, executed notebooks,
  stage records and snapshot were removed, the caches kept: the second build takes every figure,
  shared result, font cut and WebP copy from them.

Every file of the two websites, and the two results snapshots, must be byte-identical.
"""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.buildutil import ROOT
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
def built(tmp_path_factory: pytest.TempPathFactory, real_book: RealBuild) -> dict[str, Path]:
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
    return {"plain": plain / "_build", "cached": cached / "_build", "log": second.stdout}


def test_the_second_build_took_its_work_from_the_caches(built: dict[str, Path]) -> None:
    log = str(built["log"])
    assert "chapter execution" in log and "site post-processing" in log
    figures = built["cached"] / ".figure_cache"
    assert len([p for p in figures.iterdir() if p.is_dir()]) >= 10


def test_the_websites_are_byte_identical(built: dict[str, Path]) -> None:
    plain, cached = built["plain"] / "html", built["cached"] / "html"
    names = _files(plain)
    assert len(names) > 100
    assert _files(cached) == names
    _, mismatch, errors = filecmp.cmpfiles(plain, cached, names, shallow=False)
    assert not mismatch and not errors, f"differ: {mismatch[:10]}"


def test_the_snapshots_are_byte_identical(built: dict[str, Path]) -> None:
    plain = (built["plain"] / "results" / "dev.json").read_bytes()
    assert plain == (built["cached"] / "results" / "dev.json").read_bytes()
    assert b'"date": "2026-12-07"' in plain
