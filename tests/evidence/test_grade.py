"""GRADE arithmetic (:mod:`analysis.evidence.grade`): rating down from a starting level (guyatt2008).

Every expected level below is the GRADE rule applied by hand: one level down per *serious*
concern, two per *very serious* concern, never below *very low*. The judgements are SYNTHETIC.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.evidence.grade import (
    DOMAINS,
    DOWNGRADE,
    LEVELS,
    NO_EVIDENCE,
    NOT_ASSESSED,
    STATEMENT_NO_EVIDENCE,
    STATEMENT_NOT_ASSESSED,
    certainty_table,
    downgrades,
    footnote_letter,
    footnote_letters,
    plain_statement,
    rate,
    symbols,
)


def test_levels_and_steps() -> None:
    assert LEVELS == ("very low", "low", "moderate", "high")
    assert dict(DOWNGRADE) == {"not_serious": 0, "serious": 1, "very_serious": 2}


@pytest.mark.parametrize(
    ("start", "ratings", "expected"),
    [
        ("low", [], "low"),
        ("low", ["not_serious"] * 5, "low"),
        ("low", ["serious"], "very low"),  # low - serious = very low
        ("low", ["serious", "serious"], "very low"),  # floor at very low
        ("low", ["very_serious", "very_serious", "serious"], "very low"),
        ("moderate", ["serious"], "low"),
        ("moderate", ["serious", "serious"], "very low"),  # moderate - serious - serious
        ("moderate", ["very_serious"], "very low"),
        ("high", ["serious"], "moderate"),
        ("high", ["very_serious"], "low"),
        ("high", ["serious", "not_serious", "serious"], "low"),
        ("high", ["very_serious", "serious"], "very low"),
        ("high", ["very_serious", "very_serious"], "very low"),
        ("very low", ["very_serious"], "very low"),
        ("very low", [], "very low"),
    ],
)
def test_rate_arithmetic(start: str, ratings: list[str], expected: str) -> None:
    assert rate(start, ratings) == expected


def test_rate_with_custom_levels() -> None:
    levels = ("⊕◯◯◯", "⊕⊕◯◯", "⊕⊕⊕◯", "⊕⊕⊕⊕")
    assert rate("⊕⊕⊕⊕", ["serious", "serious"], levels) == "⊕⊕◯◯"
    assert rate("⊕⊕◯◯", ["very_serious"], levels) == "⊕◯◯◯"


@pytest.mark.parametrize("bad", ["Serious", "very serious", "high", ""])
def test_rate_unknown_rating_names_the_value(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown rating") as info:
        rate("low", ["not_serious", bad])
    assert repr(bad) in str(info.value)
    assert "not_serious, serious, very_serious" in str(info.value)


def test_rate_unknown_start_names_the_value() -> None:
    with pytest.raises(ValueError, match="'medium'") as info:
        rate("medium", [])
    assert "very low, low, moderate, high" in str(info.value)


def _judgements(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["outcome", "domain", "rating", "reason"])


SYNTHETIC = _judgements(
    [
        ("synth_a", "risk_of_bias", "serious", "SYNTHETIC: selection unclear."),
        ("synth_a", "inconsistency", "not_serious", "SYNTHETIC: one study."),
        ("synth_a", "imprecision", "very_serious", "SYNTHETIC: few patients. "),
        ("synth_b", "risk_of_bias", "not_serious", "SYNTHETIC: fine."),
        ("synth_b", "indirectness", "not_serious", "SYNTHETIC: direct."),
        ("synth_c", "imprecision", "serious", "SYNTHETIC: wide interval"),
        ("synth_empty", "imprecision", "very_serious", "SYNTHETIC: judged before the only study was withdrawn."),
    ]
)


def test_certainty_table_values() -> None:
    k = {"synth_a": 2, "synth_b": 1, "synth_c": 3, "synth_none": 4, "synth_empty": 0}
    table = certainty_table(SYNTHETIC, k, start="low")
    assert list(table.index) == list(k)
    assert list(table.columns) == ["certainty", "reasons", "downgrades"]
    # low - 1 - 2 = very low (floor); 3 steps counted
    assert table.loc["synth_a"].tolist() == [
        "very low",
        "risk of bias (serious): SYNTHETIC: selection unclear; imprecision (very serious): SYNTHETIC: few patients",
        3,
    ]
    # only not_serious judgements: stays at the start, nothing to say
    assert table.loc["synth_b"].tolist() == ["low", "none", 0]
    assert table.loc["synth_c"].tolist() == ["very low", "imprecision (serious): SYNTHETIC: wide interval", 1]


def test_certainty_table_not_yet_assessed() -> None:
    table = certainty_table(SYNTHETIC, {"synth_none": 4}, start="moderate")
    assert table.loc["synth_none"].tolist() == ["moderate", "not yet assessed; shown at the starting level", 0]


def test_certainty_table_without_any_judgement() -> None:
    empty = _judgements([])
    table = certainty_table(empty, {"x": 1, "y": 0}, start="low")
    assert table.loc["x", "certainty"] == "low"
    assert table.loc["x", "reasons"] == "not yet assessed; shown at the starting level"
    assert table.loc["y"].tolist() == [NO_EVIDENCE, "no study has reported this outcome", 0]


def test_certainty_table_no_evidence_overrides_judgements() -> None:
    table = certainty_table(SYNTHETIC, {"synth_empty": 0})
    assert table.loc["synth_empty"].tolist() == ["no evidence", "no study has reported this outcome", 0]


def test_certainty_table_custom_levels() -> None:
    table = certainty_table(SYNTHETIC, {"synth_c": 1}, start="B", levels=["D", "C", "B", "A"])
    assert table.loc["synth_c", "certainty"] == "C"


def test_certainty_table_unknown_rating_raises() -> None:
    bad = _judgements([("synth_a", "risk_of_bias", "moderate", "SYNTHETIC")])
    with pytest.raises(ValueError, match="'moderate'"):
        certainty_table(bad, {"synth_a": 2})


def test_certainty_table_agrees_with_rate() -> None:
    """The table's level is rate() on the outcome's ratings; downgrades is their step sum."""
    k = {"synth_a": 2, "synth_b": 1, "synth_c": 3}
    table = certainty_table(SYNTHETIC, k, start="high")
    for outcome in k:
        ratings = SYNTHETIC.loc[SYNTHETIC["outcome"] == outcome, "rating"].tolist()
        assert table.loc[outcome, "certainty"] == rate("high", ratings)
        assert table.loc[outcome, "downgrades"] == sum(DOWNGRADE[r] for r in ratings)
    assert table["certainty"].tolist() == ["very low", "high", "moderate"]  # high-3, high, high-1


# ---------------------------------------------------------------- summary-of-findings pieces



@pytest.mark.parametrize(("level", "expected"), [
    ("high", "⊕⊕⊕⊕"), ("moderate", "⊕⊕⊕◯"), ("low", "⊕⊕◯◯"), ("very low", "⊕◯◯◯"),
])
def test_symbols_per_level(level: str, expected: str) -> None:
    assert symbols(level) == expected


def test_symbols_follow_the_levels_given_and_refuse_others() -> None:
    five = ("very low", "low", "moderate", "high", "very high")  # SYNTHETIC scale
    assert [symbols(x, five) for x in five] == ["⊕◯◯◯◯", "⊕⊕◯◯◯", "⊕⊕⊕◯◯", "⊕⊕⊕⊕◯", "⊕⊕⊕⊕⊕"]
    with pytest.raises(ValueError, match="not one of"):
        symbols(NOT_ASSESSED)


@pytest.mark.parametrize(("certainty", "expected"), [
    ("high", "Neutrophil recovery occurs in about 88 of every 100 patients."),
    ("moderate", "Neutrophil recovery probably occurs in about 88 of every 100 patients."),
    ("low", "Neutrophil recovery may occur in about 88 of every 100 patients."),
    ("very low", "The evidence is very uncertain about how often neutrophil recovery occurs."),
    (NOT_ASSESSED, STATEMENT_NOT_ASSESSED),
    (NO_EVIDENCE, STATEMENT_NO_EVIDENCE),
])
def test_statement_per_level(certainty: str, expected: str) -> None:
    assert plain_statement(certainty, "Neutrophil recovery", "about 88 of every 100 patients") == expected


def test_statements_keep_acronyms_and_refuse_unknown_levels() -> None:
    assert plain_statement("very low", "GVHD of the skin", "x") == (
        "The evidence is very uncertain about how often GVHD of the skin occurs.")
    assert plain_statement("low", "death (all causes)", "about 5 of every 100 patients") == (
        "Death (all causes) may occur in about 5 of every 100 patients.")
    with pytest.raises(ValueError, match="no statement"):
        plain_statement("certain", "X", "x")


@pytest.mark.parametrize(("index", "letter"), [
    (0, "a"), (1, "b"), (25, "z"), (26, "aa"), (27, "ab"), (51, "az"), (52, "ba"), (701, "zz"), (702, "aaa"),
])
def test_footnote_letter_boundaries(index: int, letter: str) -> None:
    assert footnote_letter(index) == letter


def test_footnote_letters_are_unique_and_stable() -> None:
    letters = [footnote_letter(i) for i in range(2000)]
    assert len(set(letters)) == len(letters)
    keys = [("risk_of_bias", "x"), ("imprecision", "y"), ("risk_of_bias", "x"), ("publication_bias", "z"),
            ("imprecision", "y2")]
    first = footnote_letters(keys)
    assert first == {("risk_of_bias", "x"): "a", ("imprecision", "y"): "b", ("publication_bias", "z"): "c",
                     ("imprecision", "y2"): "d"}
    assert footnote_letters(keys) == first  # same table, same letters
    assert footnote_letters([]) == {}
    with pytest.raises(ValueError):
        footnote_letter(-1)


def test_downgrades_in_grade_order_with_short_reasons() -> None:
    judgements = pd.DataFrame({  # SYNTHETIC
        "outcome": ["o"] * 5 + ["p"],
        "domain": ["publication_bias", "imprecision", "indirectness", "risk_of_bias", "inconsistency", "imprecision"],
        "rating": ["serious", "very_serious", "not_serious", "serious", "serious", "serious"],
        "reason": ["long pb", "long imp", "long ind", "long rob", "long inc", "long p"],
        "short_reason": ["pb", "imp", None, "rob", "  ", "p"],
    })
    found = downgrades(judgements, "o")
    assert [d.domain for d in found] == ["risk_of_bias", "inconsistency", "imprecision", "publication_bias"]
    assert [d.short for d in found] == ["rob", "long inc", "imp", "pb"]  # a blank short reason falls back
    assert [d.levels for d in found] == [1, 1, 2, 1]
    assert downgrades(judgements, "none") == ()
    assert downgrades(judgements.drop(columns=["short_reason"]), "p")[0].short == "long p"
    assert DOMAINS[0] == "risk_of_bias" and DOMAINS[-1] == "publication_bias"
