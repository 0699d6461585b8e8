"""Tests of analysis.book.plots.rob: one marker per study x item, in the judgement's colour.

The risk-of-bias tables here are SYNTHETIC (made-up judgements for made-up studies).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from analysis.book.plots import (
    summary_bars,
    summary_bars_alt_text,
    traffic_light,
    traffic_light_alt_text,
)
from analysis.book.plots.rob import JUDGEMENTS

ITEMS = {
    "Q1": "Synthetic item one",
    "Q2": "Synthetic item two with a much longer wording that needs wrapping in the key",
    "Q3": "Synthetic item three",
}
SYNTHETIC = {
    "synth2020": ["yes", "no", "unclear"],
    "synth2021": ["not_applicable", "yes", "yes"],
    "synth2022a": ["unclear", "unclear", "no"],
    "synth2022b": ["yes", "yes", "yes"],
}


def rob_table(judgements=SYNTHETIC) -> pd.DataFrame:
    rows = [
        {"study_id": s, "tool": "synthetic", "item": f"Q{i + 1}", "judgement": j, "support": ""}
        for s, js in judgements.items()
        for i, j in enumerate(js)
    ]
    return pd.DataFrame(rows)


def by_gid(fig: Figure, gid: str) -> list:
    return [a for a in fig.findobj() if a.get_gid() == gid]


def all_text(fig: Figure) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


def test_traffic_light_one_marker_per_study_and_item_with_its_colour():
    fig = traffic_light(rob_table(), ITEMS)
    (markers,) = by_gid(fig, "rob-markers")
    ax = fig.axes[0]
    items = [t.get_text() for t in ax.get_xticklabels()]
    studies = [t.get_text() for t in ax.get_yticklabels()]
    assert items == list(ITEMS) and studies == list(SYNTHETIC)
    offsets = markers.get_offsets()
    colours = markers.get_facecolors()
    assert len(offsets) == len(SYNTHETIC) * len(ITEMS)
    seen = set()
    for (x, y), colour in zip(offsets, colours, strict=True):
        study, item = studies[int(y)], items[int(x)]
        expected = JUDGEMENTS[SYNTHETIC[study][int(x)]][1]
        np.testing.assert_allclose(colour, to_rgba(expected))
        seen.add((study, item))
    assert len(seen) == len(offsets)


def test_traffic_light_symbols_match_judgements():
    fig = traffic_light(rob_table(), ITEMS)
    ax = fig.axes[0]
    symbols = [t.get_text() for t in ax.texts]
    expected = [JUDGEMENTS[j][2] for js in SYNTHETIC.values() for j in js]
    assert symbols == expected
    legend = all_text(fig)
    for name, _, symbol, _ in JUDGEMENTS.values():
        assert f"{symbol}  {name}" in legend


def test_traffic_light_shows_item_wording_and_study_labels():
    labels = {"synth2020": "Synthetic et al. 2020"}
    fig = traffic_light(rob_table(), ITEMS, study_labels=labels, title="Synthetic")
    text = " ".join(all_text(fig).split())
    assert "Synthetic et al. 2020" in text and "synth2021" in text
    assert "Q2 Synthetic item two with a much longer wording that needs wrapping in the key" in text


def test_summary_bars_segment_widths_are_shares_of_studies():
    fig = summary_bars(rob_table(), ITEMS)
    n = len(SYNTHETIC)
    for judgement in JUDGEMENTS:
        bars = by_gid(fig, f"rob-bars-{judgement}")  # one rectangle per item, in item order
        assert len(bars) == len(ITEMS)
        for i, patch in enumerate(bars):
            count = sum(js[i] == judgement for js in SYNTHETIC.values())
            assert patch.get_width() == pytest.approx(100 * count / n)
    text = all_text(fig)
    assert "Studies (n = 4)" in text
    assert "+ 2" in text  # Q1: two studies judged yes


def test_summary_bars_fill_each_item_to_100_percent():
    fig = summary_bars(rob_table(), ITEMS)
    totals = np.zeros(len(ITEMS))
    for judgement in JUDGEMENTS:
        totals += [p.get_width() for p in by_gid(fig, f"rob-bars-{judgement}")]
    np.testing.assert_allclose(totals, 100.0)


def test_alt_texts_name_the_judgements():
    alt = traffic_light_alt_text(rob_table(), ITEMS)
    assert "4 studies on 3 items" in alt
    assert "synth2020: 1 of 3 items yes; no: Q2; unclear: Q3" in alt
    alt = summary_bars_alt_text(rob_table(), ITEMS)
    assert "Q1: 2 yes, 1 unclear, 1 not applicable" in alt


def test_single_study_single_item():
    table = rob_table({"synth2024": ["no"]})
    fig = traffic_light(table, {"Q1": "Only item"})
    (markers,) = by_gid(fig, "rob-markers")
    assert len(markers.get_offsets()) == 1


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda t: t.assign(judgement=t["judgement"].replace("no", "No")),
            r"judgement 'No' is not",
        ),
        (
            lambda t: t.assign(item=t["item"].replace("Q3", "Q9")),
            r"item 'Q9' is not in item_labels",
        ),
        (lambda t: pd.concat([t, t.iloc[[0]]]), r"study 'synth2020', item 'Q1'.*judged twice"),
        (lambda t: t.drop(index=[1]), r"study 'synth2020' has no judgement for Q2"),
        (lambda t: t.drop(columns=["judgement"]), r"lacks the column\(s\) judgement"),
        (lambda t: t.iloc[0:0], r"no rows"),
    ],
)
def test_bad_tables_are_named(mutate, message):
    with pytest.raises(ValueError, match=message):
        traffic_light(mutate(rob_table()), ITEMS)
