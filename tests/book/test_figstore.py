"""The store of figures of stored results (analysis.book.figstore) and the simulation study's store.

The toy summaries are SYNTHETIC (hand-made numbers); the last tests read the committed
``results/simulation/`` and its ``figures/``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from analysis.book.figcache import Plot
from analysis.book.figstore import (
    MANIFEST,
    SIMULATION_MEASURES,
    StoredFigure,
    figure_key,
    restore,
    simulation_figures,
    stale_figures,
    write_store,
)
from analysis.book.plots import save_figure
from analysis.book.plots.simulation import simulation_plot
from analysis.evidence.readers import load_yaml
from tests.engine.test_simulation import _toy_summary
from tools import simulate

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "results" / "simulation"
LABELS = {"GLMM-z": "GLMM, Wald", "DL-z": "DerSimonian-Laird, Wald"}
CHOICE = SimpleNamespace(chosen="GLMM-z", band=(0.936, 0.964))


def _toy() -> pd.DataFrame:
    return _toy_summary().assign(mechanism="binomial-normal")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_simulation_figures_describe_each_measure_with_the_rules_choice() -> None:
    figures = simulation_figures(_toy(), CHOICE, LABELS, prefix="toy")
    assert [f.stem for f in figures] == ["toy-coverage-ci", "toy-interval-score", "toy-width-ci",
                                         "toy-bias", "toy-coverage-pi"]
    assert [f.plot.args[1] for f in figures] == [m for m, _ in SIMULATION_MEASURES]
    assert figures[0].plot.kwargs["band"] == (0.936, 0.964)
    assert [f.plot.kwargs["band"] for f in figures[1:]] == [None] * 4
    assert all(f.plot.kwargs["highlight"] == "GLMM-z" for f in figures)
    assert "GLMM, Wald (the review's method): 0.930 to 0.945" in figures[0].alt
    other = _toy_summary().assign(mechanism="beta-binomial")
    assert len(simulation_figures(pd.concat([_toy(), other]), CHOICE, LABELS)[0].plot.args[0]) == 6
    with pytest.raises(ValueError, match="lacks the column 'mechanism'"):
        simulation_figures(_toy_summary(), CHOICE, LABELS)


def test_key_follows_data_options_alt_text_but_not_the_copy_of_the_data() -> None:
    toy = _toy()
    plot = Plot(simulation_plot, (toy, "bias"), {"highlight": "GLMM-z"})
    key = figure_key(plot, "alt")
    assert figure_key(Plot(simulation_plot, (toy.copy(), "bias"), {"highlight": "GLMM-z"}), "alt") == key
    changed = toy.assign(bias=toy["bias"].where(toy.index != 0, -0.0100000001))
    assert figure_key(Plot(simulation_plot, (changed, "bias"), {"highlight": "GLMM-z"}), "alt") != key
    assert figure_key(Plot(simulation_plot, (toy, "bias"), {"highlight": "DL-z"}), "alt") != key
    assert figure_key(plot, "other alt") != key
    with pytest.raises(TypeError, match=r"got object"):
        figure_key(Plot(simulation_plot, (object(),)), "alt")


def test_store_draws_stale_figures_only_and_copies_what_show_figure_would_write(tmp_path: Path) -> None:
    figures = simulation_figures(_toy(), CHOICE, LABELS, prefix="toy")[:2]
    store = tmp_path / "figures"
    assert stale_figures(store, figures) == ["toy-coverage-ci", "toy-interval-score"]
    assert restore(store, figures[0], tmp_path / "page" / "x") is None
    assert write_store(store, figures) == ["toy-coverage-ci", "toy-interval-score"]
    assert stale_figures(store, figures) == []
    assert write_store(store, figures) == []  # nothing stale: nothing drawn
    manifest = json.loads((store / MANIFEST).read_text(encoding="utf-8"))
    entry = manifest["figures"]["toy-coverage-ci"]
    assert entry["key"] == figures[0].key
    assert entry["files"]["toy-coverage-ci.png"] == _sha(store / "toy-coverage-ci.png")

    copied = restore(store, figures[0], tmp_path / "page" / "toy-coverage-ci")
    assert [p.name for p in copied] == ["toy-coverage-ci.svg", "toy-coverage-ci.png"]
    drawn = save_figure(figures[0].plot.draw(), tmp_path / "drawn", alt=figures[0].alt)
    assert [p.read_bytes() for p in copied] == [p.read_bytes() for p in drawn]


def test_a_changed_input_or_file_makes_a_figure_stale_and_the_store_keeps_only_its_figures(
        tmp_path: Path) -> None:
    figures = simulation_figures(_toy(), CHOICE, LABELS, prefix="toy")[:2]
    store = tmp_path / "figures"
    write_store(store, figures)
    moved = simulation_figures(_toy(), SimpleNamespace(chosen="DL-z", band=CHOICE.band), LABELS,
                               prefix="toy")[:2]
    assert stale_figures(store, moved) == ["toy-coverage-ci", "toy-interval-score"]
    (store / "toy-interval-score.svg").write_text("<svg/>", encoding="utf-8")
    assert stale_figures(store, figures) == ["toy-interval-score"]
    assert write_store(store, figures[1:]) == ["toy-interval-score"]
    assert sorted(p.name for p in store.iterdir()) == [MANIFEST, "toy-interval-score.png",
                                                       "toy-interval-score.svg"]
    twice = [figures[0], StoredFigure(figures[0].stem, figures[1].plot, "x")]
    with pytest.raises(ValueError, match="distinct stems"):
        write_store(store, twice)


def test_committed_simulation_figures_are_those_of_the_committed_results() -> None:
    """The figures in results/simulation/figures/ are drawn from summary.csv, the plan's rule and the
    plotting code as committed; otherwise: ``python -m tools.simulate --figures-only``."""
    plan = load_yaml(ROOT / "data" / "simulation_plan.yaml")
    figures = simulate.study_figures(STUDY, plan)
    stale = stale_figures(STUDY / simulate.FIGURES, figures)
    assert stale == [], (f"stale stored figure(s) {', '.join(stale)}: run "
                         "`python -m tools.simulate --figures-only` and commit results/simulation/figures/")
    stored = json.loads((STUDY / simulate.FIGURES / MANIFEST).read_text(encoding="utf-8"))["figures"]
    assert sorted(stored) == sorted(f.stem for f in figures)


@pytest.mark.slow
def test_committed_simulation_figures_are_drawn_again_byte_for_byte(tmp_path: Path) -> None:
    plan = load_yaml(ROOT / "data" / "simulation_plan.yaml")
    for figure in simulate.study_figures(STUDY, plan):
        drawn = figure.save(tmp_path / figure.stem)
        for path in drawn:
            assert path.read_bytes() == (STUDY / simulate.FIGURES / path.name).read_bytes(), path.name
