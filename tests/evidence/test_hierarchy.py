"""Outcome hierarchy: one row per study, the highest-ranked available one (SYNTHETIC rows)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.evidence.hierarchy import hierarchy_levels, select_by_hierarchy

LEVELS = [["strict"], ["loose_a", "loose_b"], ["any"]]


def _rows(records: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_records(records, columns=["study_id", "outcome", "events", "total"]).assign(
        definition=lambda d: "SYNTHETIC definition of " + d["outcome"])


def test_highest_ranked_row_wins_and_keeps_its_definition() -> None:
    rows = _rows([("s1", "any", 9, 10), ("s1", "strict", 5, 10), ("s2", "any", 3, 4), ("s3", "other", 1, 2)])
    out = select_by_hierarchy(rows, LEVELS, "primary")
    assert out["study_id"].tolist() == ["s1", "s2"]
    assert out["selected_from"].tolist() == ["strict", "any"]
    assert out["selected_rank"].tolist() == [1, 3]
    assert out["outcome"].tolist() == ["primary", "primary"]
    assert out["events"].tolist() == [5, 3]
    assert out["definition"].tolist() == ["SYNTHETIC definition of strict", "SYNTHETIC definition of any"]


def test_ties_go_to_the_larger_denominator_then_the_listed_order() -> None:
    rows = _rows([("s1", "loose_b", 8, 20), ("s1", "loose_a", 5, 10),   # larger denominator wins
                  ("s2", "loose_b", 4, 10), ("s2", "loose_a", 6, 10)])  # equal: first listed wins
    out = select_by_hierarchy(rows, LEVELS, "primary")
    assert out.set_index("study_id")["selected_from"].to_dict() == {"s1": "loose_b", "s2": "loose_a"}


def test_missing_counts_fall_through_to_the_next_level() -> None:
    rows = _rows([("s1", "strict", math.nan, 10), ("s1", "any", 7, 9), ("s2", "strict", 3, math.nan)])
    out = select_by_hierarchy(rows, LEVELS, "primary")
    assert out["study_id"].tolist() == ["s1"]  # s2 has no available row: it does not enter
    assert out["selected_from"].tolist() == ["any"]


def test_no_candidate_gives_an_empty_frame_with_the_columns() -> None:
    out = select_by_hierarchy(_rows([("s1", "other", 1, 2)]), LEVELS, "primary")
    assert out.empty
    assert {"study_id", "outcome", "selected_from", "selected_rank", "events", "total"} <= set(out.columns)


def test_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match="column 'total' is missing"):
        select_by_hierarchy(_rows([]).drop(columns=["total"]), LEVELS, "primary")


@pytest.mark.parametrize(("spec", "message"), [
    ({}, "'prefer' must be a non-empty list"),
    ({"prefer": []}, "'prefer' must be a non-empty list"),
    ({"prefer": ["a", []]}, r"prefer\[1\]: expected an outcome id"),
    ({"prefer": ["a", 3]}, r"prefer\[1\]: expected an outcome id"),
    ({"prefer": ["a", ["b", "a"]]}, r"prefer\[1\]: outcome listed twice \(a\)"),
    ({"prefer": [["b", "b"]]}, r"prefer\[0\]: outcome listed twice"),
])
def test_bad_hierarchy_is_named(spec: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hierarchy_levels(spec, "outcome_hierarchy.x")


def test_levels_accept_ids_and_lists() -> None:
    assert hierarchy_levels({"prefer": ["a", ["b", "c"], "d"]}) == [["a"], ["b", "c"], ["d"]]


OUTCOME_IDS = ["strict", "loose_a", "loose_b", "any", "other"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["s1", "s2", "s3", "s4"]), st.sampled_from(OUTCOME_IDS),
                          st.integers(0, 30), st.integers(1, 30), st.booleans()),
                max_size=14, unique_by=lambda r: (r[0], r[1])))
def test_selection_properties(records: list) -> None:
    """One row per study with an available candidate; no available candidate of that study ranks higher;
    among equal ranks none has a larger denominator."""
    rows = _rows([(s, o, min(e, n), n if ok else math.nan) for s, o, e, n, ok in records])
    out = select_by_hierarchy(rows, LEVELS, "primary")
    rank = {o: r for r, level in enumerate(LEVELS, start=1) for o in level}
    available = rows.loc[rows["outcome"].isin(rank) & rows["total"].notna()]
    assert sorted(out["study_id"]) == sorted(available["study_id"].unique())
    for _, chosen in out.iterrows():
        mine = available.loc[available["study_id"] == chosen["study_id"]]
        best = min(rank[o] for o in mine["outcome"])
        assert chosen["selected_rank"] == best == rank[chosen["selected_from"]]
        assert chosen["total"] == mine.loc[mine["outcome"].map(rank) == best, "total"].max()
