"""The per-build cache of results (analysis.living.buildcache)."""

from __future__ import annotations

import importlib
import multiprocessing
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from analysis.living import buildcache
from analysis.living.buildcache import cache_key, cached, trim

CALLS: list[tuple] = []


def expensive(frame: pd.DataFrame, scale: float = 1.0) -> dict:
    """A pure function of its arguments that records each real call."""
    CALLS.append((len(frame), scale))
    return {"total": float(frame["x"].sum()) * scale, "rows": len(frame)}


def slow_counted(marker: str) -> str:
    """Appends a line to ``marker`` (a file) per real call, slowly enough for a second process to wait."""
    with open(marker, "a") as handle:
        handle.write("call\n")
    time.sleep(0.5)
    return "done"


@pytest.fixture(autouse=True)
def _no_calls() -> None:
    CALLS.clear()


def test_the_second_call_reads_the_result_and_equals_the_computed_one(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1.5, 2.5, 3.0]})
    first = cached(expensive, frame, scale=2.0, cache_dir=tmp_path)
    second = cached(expensive, frame.copy(), scale=2.0, cache_dir=tmp_path)
    assert first == second == expensive(frame, 2.0) == {"total": 14.0, "rows": 3}
    assert CALLS == [(3, 2.0), (3, 2.0)]  # once through the cache, once by hand


def test_other_arguments_compute_anew(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    cached(expensive, frame, cache_dir=tmp_path)
    assert cached(expensive, frame, scale=3.0, cache_dir=tmp_path)["total"] == 9.0
    assert cached(expensive, pd.DataFrame({"x": [1.0, 2.5]}), cache_dir=tmp_path)["total"] == 3.5
    assert len(CALLS) == 3


def test_without_a_folder_nothing_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(buildcache.CACHE_ENV, raising=False)
    frame = pd.DataFrame({"x": [1.0]})
    cached(expensive, frame)
    cached(expensive, frame)
    assert len(CALLS) == 2


def test_the_folder_can_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(buildcache.CACHE_ENV, str(tmp_path / "env-cache"))
    frame = pd.DataFrame({"x": [4.0]})
    cached(expensive, frame)
    cached(expensive, frame)
    assert len(CALLS) == 1
    assert len(list((tmp_path / "env-cache").glob("*.pickle"))) == 1


def test_unpicklable_arguments_are_simply_computed(tmp_path: Path) -> None:
    def local(x: object) -> int:
        CALLS.append(("local",))
        return 1

    assert cached(local, lambda: None, cache_dir=tmp_path) == 1  # a lambda cannot be pickled
    assert cached(local, lambda: None, cache_dir=tmp_path) == 1
    assert len(CALLS) == 2


def test_a_change_to_the_code_of_the_package_changes_the_key(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "pkgx"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "calc.py").write_text("def twice(x):\n    return 2 * x\n")
    (package / "other.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    calc = importlib.import_module("pkgx.calc")
    before = cache_key(calc.twice, (3,), {})
    assert before == cache_key(calc.twice, (3,), {})
    (package / "other.py").write_text("VALUE = 2\n")  # another module of the same package
    buildcache.code_digest.cache_clear()
    assert cache_key(calc.twice, (3,), {}) != before
    del sys.modules["pkgx.calc"], sys.modules["pkgx"]


def test_two_processes_asking_at_once_compute_once(tmp_path: Path) -> None:
    marker = tmp_path / "calls.txt"
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=cached, args=(slow_counted, str(marker)),
                                 kwargs={"cache_dir": tmp_path / "cache"}) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
    assert marker.read_text().splitlines() == ["call"]
    assert cached(slow_counted, str(marker), cache_dir=tmp_path / "cache") == "done"
    assert marker.read_text().splitlines() == ["call"]


def test_trim_keeps_the_most_recently_used(tmp_path: Path) -> None:
    for value in range(4):
        cached(expensive, pd.DataFrame({"x": [float(value)]}), cache_dir=tmp_path)
        time.sleep(0.01)
    assert trim(tmp_path, 2) == 2
    assert len(list(tmp_path.glob("*.pickle"))) == 2
    CALLS.clear()
    cached(expensive, pd.DataFrame({"x": [3.0]}), cache_dir=tmp_path)  # the newest is still there
    assert CALLS == []
