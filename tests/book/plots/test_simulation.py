"""The simulation study's figure (analysis.book.plots.simulation), on a hand-made SYNTHETIC summary."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.engine.test_simulation import _toy_summary


def test_simulation_plot_draws_every_method_and_describes_it() -> None:
    from analysis.book.plots.simulation import simulation_plot, simulation_plot_alt_text

    toy = _toy_summary()
    fig = simulation_plot(toy, "coverage_ci", highlight="GLMM-z", band=(0.936, 0.964))
    gids = {a.get_gid() for ax in fig.axes for a in ax.get_lines()}
    assert {"sim-REML-HKSJ-adhoc", "sim-GLMM-z", "sim-DL-z"} <= gids
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2  # rows k = 3, 10 x column tau
    bands = [p for ax in fig.axes for p in ax.patches if p.get_gid() == "sim-band"]
    assert len(bands) == 2
    alt = simulation_plot_alt_text(toy, "coverage_ci", highlight="GLMM-z")
    assert "GLMM-z (the review's method): 0.930 to 0.945" in alt
    with pytest.raises(ValueError, match="measure must be one of"):
        simulation_plot(toy, "power")
    with pytest.raises(ValueError, match="appears twice"):
        simulation_plot(pd.concat([toy, toy.iloc[:1]]), "coverage_ci")
