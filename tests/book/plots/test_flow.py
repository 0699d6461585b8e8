"""Tests of analysis.book.plots.flow: the PRISMA 2020 diagram shows every count it is given.

All flow records here are SYNTHETIC (made-up counts in the shape of search_flow.yaml).
"""

from __future__ import annotations

import copy

import matplotlib

matplotlib.use("Agg")

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from analysis.book.plots import prisma_flow, prisma_flow_alt_text
from analysis.book.plots.flow import COUNT_KEYS

SYNTHETIC_FIRST = {
    "version": "1.0.0",
    "search_date": "2026-01-15",
    "trigger": "first version (synthetic)",
    "identified": [
        {"source": "Synthetic database A", "records": 311},
        {"source": "Synthetic trial registry B", "records": 27},
    ],
    "duplicates_removed": 58,
    "screened": 280,
    "excluded_screening": 262,
    "reports_sought": 18,
    "reports_not_retrieved": 3,
    "assessed": 15,
    "excluded_fulltext": [
        {
            "reason": "Wrong population: boost given for poor graft function after transplant",
            "n": 6,
        },
        {"reason": "No outcome data", "n": 2},
    ],
    "awaiting_data": 2,
    "included_new": 5,
    "included_total": 5,
}

SYNTHETIC_SECOND = {
    **SYNTHETIC_FIRST,
    "version": "1.1.0",
    "search_date": "2026-04-15",
    "identified": [{"source": "Synthetic database A", "records": 44}],
    "duplicates_removed": 4,
    "screened": 40,
    "excluded_screening": 36,
    "reports_sought": 4,
    "reports_not_retrieved": 0,
    "assessed": 4,
    "excluded_fulltext": [],
    "awaiting_data": 1,
    "included_new": 3,
    "included_total": 8,
}


def texts(fig: Figure) -> str:
    raw = "\n".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))
    return " ".join(raw.replace("\u00a0", " ").split())  # undo wrapping and non-breaking spaces


def agg_renderer(fig: Figure):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def shown_counts(flow: dict) -> list[tuple[str, int]]:
    out = [(k, flow[k]) for k in COUNT_KEYS]
    out += [(s["source"], s["records"]) for s in flow["identified"]]
    out += [(r["reason"], r["n"]) for r in flow["excluded_fulltext"]]
    return out


def test_every_count_of_the_first_version_is_shown():
    text = texts(prisma_flow(SYNTHETIC_FIRST))
    for key, value in shown_counts(SYNTHETIC_FIRST):
        assert f"(n = {value})" in text, key
    for src in SYNTHETIC_FIRST["identified"]:
        assert f"{src['source']} (n = {src['records']})" in text
    for reason in SYNTHETIC_FIRST["excluded_fulltext"]:
        assert f"{reason['reason']} (n = {reason['n']})" in text
    assert "Records screened (n = 280)" in text
    assert "Total studies included in review (n = 5)" in text
    assert "Version 1.0.0" in text and "2026-01-15" in text
    assert "Previous studies" not in text


def test_previous_arm_shows_the_previous_total_and_the_new_total():
    fig = prisma_flow(SYNTHETIC_SECOND, previous=SYNTHETIC_FIRST)
    text = texts(fig)
    assert "Previous studies" in text
    assert "Studies included in previous version of review (n = 5)" in text
    assert "New studies included in review (n = 3)" in text
    assert "Total studies included in review (n = 8)" in text
    for key, value in shown_counts(SYNTHETIC_SECOND):
        assert f"(n = {value})" in text, key


def test_empty_exclusion_list_says_none():
    text = texts(prisma_flow(SYNTHETIC_SECOND))
    assert "Reports excluded: none" in text


def test_boxes_and_arrows_follow_the_template():
    fig = prisma_flow(SYNTHETIC_FIRST)
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch) and p.get_edgecolor()[3] > 0]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(boxes) == 11  # 6 main-column boxes, 5 side boxes
    assert len(arrows) == 5 + 5  # down the main column, and across to each side box
    with_prev = prisma_flow(SYNTHETIC_SECOND, previous=SYNTHETIC_FIRST).axes[0]
    assert sum(isinstance(p, FancyArrowPatch) for p in with_prev.patches) == 11


def test_boxes_do_not_overlap_and_text_stays_inside():
    fig = prisma_flow(SYNTHETIC_SECOND, previous=SYNTHETIC_FIRST)
    renderer = agg_renderer(fig)
    ax = fig.axes[0]
    boxes = [
        p.get_window_extent()
        for p in ax.patches
        if isinstance(p, FancyBboxPatch) and p.get_edgecolor()[3] > 0
    ]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)
    fig_box = fig.bbox
    for t in ax.texts:
        ext = t.get_window_extent(renderer)
        assert fig_box.x0 - 1 <= ext.x0 and ext.x1 <= fig_box.x1 + 1


def test_long_exclusion_reason_is_wrapped_inside_its_box():
    flow = copy.deepcopy(SYNTHETIC_FIRST)
    flow["excluded_fulltext"][0]["reason"] = " ".join(["verylongreasonword"] * 12)
    fig = prisma_flow(flow)
    renderer = agg_renderer(fig)
    ax = fig.axes[0]
    side = max(
        (p for p in ax.patches if isinstance(p, FancyBboxPatch)),
        key=lambda p: p.get_window_extent().x1,
    ).get_window_extent()
    excluded = next(t for t in ax.texts if t.get_text().startswith("Reports excluded"))
    assert excluded.get_window_extent(renderer).x1 <= side.x1
    assert excluded.get_text().count("\n") >= 4


def test_alt_text_lists_the_counts():
    alt = prisma_flow_alt_text(SYNTHETIC_SECOND, previous=SYNTHETIC_FIRST)
    for phrase in (
        "version 1.1.0",
        "44",
        "4 duplicate records removed",
        "40 records screened, 36 excluded",
        "no report excluded",
        "1 studies awaiting data",
        "3 new studies included",
        "5 studies included in the previous version",
        "8 studies included in total",
    ):
        assert phrase in alt


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"screened": -1}, r"'screened' must be a non-negative integer \(got -1\)"),
        ({"assessed": "7"}, r"'assessed' must be a non-negative integer \(got '7'\)"),
        ({"included_new": True}, r"'included_new' must be a non-negative integer"),
        ({"identified": []}, r"'identified' lists no source"),
        ({"identified": [{"source": "X"}]}, r"identified\[0\] must have the keys 'source'"),
        (
            {"excluded_fulltext": [{"reason": "", "n": 1}]},
            r"excluded_fulltext\[0\]\.reason is empty",
        ),
    ],
)
def test_bad_counts_are_named(change, message):
    flow = {**SYNTHETIC_FIRST, **change}
    with pytest.raises(ValueError, match=message):
        prisma_flow(flow)


def test_missing_key_is_named_with_the_version():
    flow = {k: v for k, v in SYNTHETIC_FIRST.items() if k != "reports_sought"}
    with pytest.raises(ValueError, match=r"version '1.0.0': the key 'reports_sought' is missing"):
        prisma_flow(flow)


SYNTHETIC_DETAILED = {
    **SYNTHETIC_FIRST,
    "excluded_screening_reasons": [{"reason": "Review or background", "n": 200},
                                   {"reason": "No stem cell boost", "n": 62}],
    "excluded_fulltext": [{"reason": "No outcome data", "n": 2}],
    "awaiting_classification": 4,
    "awaiting_classification_reasons": [{"reason": "Registry record not read", "n": 1},
                                        {"reason": "Full text not read", "n": 3}],
    "awaiting_data": 2,
    "reports_included": 7,
    "reports_included_total": 7,
    "included_by_set": [{"label": "Main set", "n": 3}, {"label": "Context set", "n": 2}],
}


def test_reasons_awaiting_classification_reports_and_study_sets_are_shown():
    text = texts(prisma_flow(SYNTHETIC_DETAILED))
    assert "Records excluded (n = 262) Review or background (n = 200) No stem cell boost (n = 62)" in text
    assert ("Reports awaiting classification (n = 4) Registry record not read (n = 1) "
            "Full text not read (n = 3)") in text
    assert "New studies included in review (n = 5) Reports of new included studies (n = 7)" in text
    assert ("Total studies included in review (n = 5) Main set (n = 3) Context set (n = 2) "
            "Reports of total included studies (n = 7)") in text


def test_alt_text_lists_reasons_reports_and_study_sets():
    alt = prisma_flow_alt_text(SYNTHETIC_DETAILED)
    for phrase in (
        "280 records screened, 262 excluded (Review or background: 200; No stem cell boost: 62)",
        "4 awaiting classification (Registry record not read: 1; Full text not read: 3)",
        "5 new studies included (7 reports)",
        "5 studies included in total (Main set: 3; Context set: 2), with 7 reports",
    ):
        assert phrase in alt


def test_a_bad_optional_count_is_named():
    with pytest.raises(ValueError, match=r"'reports_included' must be a non-negative integer \(got -2\)"):
        prisma_flow({**SYNTHETIC_DETAILED, "reports_included": -2})
    with pytest.raises(ValueError, match=r"included_by_set\[0\] must have the keys 'label' and 'n'"):
        prisma_flow({**SYNTHETIC_DETAILED, "included_by_set": [{"reason": "x", "n": 1}]})
