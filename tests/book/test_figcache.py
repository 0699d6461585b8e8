"""analysis.book.figcache: a cached figure is byte-identical to a fresh one; any relevant change misses.

Figures are drawn from SYNTHETIC counts.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

from analysis import metaprop
from analysis.book import figcache
from analysis.book.figcache import Plot, cached_save, plot_key
from analysis.book.plots import forest_plot, save_figure

matplotlib.use("Agg")


def _plot(events: tuple[int, ...] = (3, 5, 7)) -> Plot:
    return Plot(forest_plot, (metaprop(list(events), [10, 12, 9]),), {"xlabel": "Synthetic"})


def _save(fig, stem: Path) -> list[Path]:
    return save_figure(fig, stem, alt="synthetic")


class Counting:
    """Wraps a plot function and counts how often it really draws."""

    def __init__(self) -> None:
        self.calls = 0
        self.__module__ = forest_plot.__module__
        self.__qualname__ = forest_plot.__qualname__

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return forest_plot(*args, **kwargs)


def test_a_hit_gives_the_same_bytes_as_drawing_afresh(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    fresh = _save(_plot().draw(), tmp_path / "fresh")
    first = cached_save(_plot(), tmp_path / "first", _save, cache_dir=cache)
    counting = Counting()
    plot = Plot(counting, _plot().args, _plot().kwargs)
    second = cached_save(plot, tmp_path / "second", _save, cache_dir=cache)
    assert counting.calls == 0  # served from the cache
    assert [p.suffix for p in second] == [p.suffix for p in first] == [".svg", ".png"]
    for a, b, c in zip(fresh, first, second, strict=True):
        assert a.read_bytes() == b.read_bytes() == c.read_bytes()


def test_changed_data_miss_and_are_drawn(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cached_save(_plot((3, 5, 7)), tmp_path / "a", _save, cache_dir=cache)
    counting = Counting()
    plot = Plot(counting, _plot((3, 5, 6)).args, _plot().kwargs)
    written = cached_save(plot, tmp_path / "b", _save, cache_dir=cache)
    assert counting.calls == 1
    assert written[0].read_bytes() != (tmp_path / "a.svg").read_bytes()
    assert len(list(cache.iterdir())) == 2


@pytest.mark.parametrize("change", ["args", "kwargs", "extra", "function", "rc"])
def test_every_input_changes_the_key(change: str) -> None:
    base = _plot()
    key = plot_key(base, extra=("alt",))
    if change == "args":
        other = plot_key(_plot((3, 5, 8)), extra=("alt",))
    elif change == "kwargs":
        other = plot_key(Plot(forest_plot, base.args, {"xlabel": "Other"}), extra=("alt",))
    elif change == "extra":
        other = plot_key(base, extra=("other alt",))
    elif change == "function":
        from analysis.book.plots import leave_one_out_plot

        other = plot_key(Plot(leave_one_out_plot, base.args, base.kwargs), extra=("alt",))
    else:
        with matplotlib.rc_context({"font.size": 23}):
            other = plot_key(base, extra=("alt",))
    assert key is not None and other is not None and key != other


def test_the_key_is_stable_for_equal_inputs() -> None:
    assert plot_key(_plot()) == plot_key(_plot())


def test_the_key_covers_the_code_of_the_plotting_package(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("x = 1\n", encoding="utf-8")
    before = figcache.code_digest.__wrapped__(str(package))
    (package / "a.py").write_text("x = 2\n", encoding="utf-8")
    assert figcache.code_digest.__wrapped__(str(package)) != before


def test_unpicklable_data_are_drawn_not_cached(tmp_path: Path) -> None:
    counting = Counting()
    plot = Plot(lambda *a, **k: counting(*a, xlabel="Synthetic"), (_plot().args[0],), {"f": lambda: 0})
    assert plot_key(plot) is None
    cached_save(plot, tmp_path / "x", _save, cache_dir=tmp_path / "cache")
    cached_save(plot, tmp_path / "y", _save, cache_dir=tmp_path / "cache")
    assert counting.calls == 2
    assert not (tmp_path / "cache").exists()


def test_without_a_cache_folder_nothing_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(figcache.CACHE_ENV, raising=False)
    written = cached_save(_plot(), tmp_path / "x", _save)
    assert [p.name for p in written] == ["x.svg", "x.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png", "x.svg"]


def test_the_environment_names_the_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(figcache.CACHE_ENV, str(tmp_path / "envcache"))
    cached_save(_plot(), tmp_path / "x", _save)
    assert len(list((tmp_path / "envcache").iterdir())) == 1


def test_trim_keeps_the_most_recently_used(tmp_path: Path) -> None:
    import os

    cache = tmp_path / "cache"
    for i in range(4):
        entry = cache / f"k{i}"
        entry.mkdir(parents=True)
        os.utime(entry, (1000 + i, 1000 + i))
    assert figcache.trim(cache, 2) == 2
    assert sorted(p.name for p in cache.iterdir()) == ["k2", "k3"]
    assert figcache.trim(tmp_path / "absent", 2) == 0


# ------------------------------------------------------------------------------------------ cached values


def test_cached_value_hit_equals_miss_and_computes_once(tmp_path: Path) -> None:
    calls = []

    def compute() -> list[dict]:
        calls.append(1)
        return [{"estimate": 0.875, "ci_lower": None, "k": 3, "studies": "synthA; synthB"}]  # SYNTHETIC

    inputs = ("synthetic panel", ((3, 10), (5, 12)))
    first = figcache.cached_value(inputs, compute, tmp_path)
    second = figcache.cached_value(inputs, compute, tmp_path)
    assert first == second == compute()
    assert len(calls) == 2  # the two direct calls here: the second cached_value did not compute
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1


def test_cached_value_misses_on_other_inputs_and_without_a_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(figcache.CACHE_ENV, raising=False)
    assert figcache.value_key((1, 2)) != figcache.value_key((1, 3))
    assert figcache.value_key(lambda: 0) is None  # not picklable: never cached
    calls = []
    for _ in range(2):
        figcache.cached_value(("no folder",), lambda: calls.append(1) or 1)
    assert len(calls) == 2
    figcache.cached_value((1, 2), lambda: 1, tmp_path)
    figcache.cached_value((1, 3), lambda: 2, tmp_path)
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2


def test_cached_value_refuses_what_json_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        figcache.cached_value(("nan",), lambda: [float("nan")], tmp_path)
    assert not [p for p in tmp_path.iterdir() if not p.name.startswith(".")]


def test_cached_value_key_follows_the_package_code(monkeypatch) -> None:
    before = figcache.value_key(("same",))
    monkeypatch.setattr(figcache, "code_digest", lambda path: "another version of the code")
    assert figcache.value_key(("same",)) != before
