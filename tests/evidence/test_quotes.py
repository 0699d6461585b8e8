"""Counts against their quotes (analysis.evidence.quotes): examples and properties.

Quotes marked SYNTHETIC are made up for the test; the others are the review's own quotes
(data/outcomes.csv), used to show that numbers which are not counts are ignored.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.evidence.quotes import (
    count_problems,
    derivation_problems,
    parse_quote,
    percent_fits,
    whole_counts_near,
)

GAGELMANN = (
    "Overall neutrophil response rate (recovery or improvement) was observed in 26 patients "
    "(84%) within a median of 9 days (95% confidence interval, 7-14)."
)
KLYUCHNIKOV = (
    "Hematological improvement was observed in 81% of patients and noted after a median of "
    "30 days (range, 14 to 120) after SCB."
)
STASIA = (
    "The rate of trilineage recovery was 75%: 83% for HLA matched siblings and 72% for "
    "unrelated and mismatched family members (P=3)."
)


def half_up(count: int, total: int, decimals: int = 0) -> float:
    """The percentage a paper prints for count/total (half up)."""
    scale = 10**decimals
    return math.floor(100 * count / total * scale + 0.5) / scale


# ------------------------------------------------------------------------ reading a quote


def test_numbers_that_are_not_counts_are_ignored() -> None:
    facts = parse_quote(GAGELMANN)
    assert facts.counts == {26}  # not 9 (days), 95 (CI level), 7 or 14 (CI bounds)
    assert [p.value for p in facts.percents] == [84.0]
    facts = parse_quote(KLYUCHNIKOV)
    assert facts.counts == frozenset()  # 30 days, range 14 to 120
    assert parse_quote(STASIA).counts == frozenset()  # P=3 is a p-value


def test_units_years_doses_and_p_values_are_not_counts() -> None:
    quote = "SYNTHETIC: In 2019, 3 patients received 2 x 10^6 CD34+ cells/kg on day 30 (P = .04)."
    assert parse_quote(quote).counts == {3}


def test_words_ending_like_a_unit_do_not_hide_counts() -> None:
    # "group 3", "4 or 5": only whole words (day, grade, P, OR...) mark a number as not a count
    assert parse_quote("SYNTHETIC: in group 3, 4 or 5 patients responded.").counts == {3, 4, 5}
    assert parse_quote("SYNTHETIC: grade 3 GVHD in 2 patients; OR 5.1 (P = 0.2).").counts == {2}


def test_number_words_fractions_and_zero() -> None:
    facts = parse_quote("Platelet engraftment occurred in seven of nine patients")
    assert (7, 9) in facts.fractions and {7, 9} <= facts.counts
    assert parse_quote("No GvHD grade IV or chronic GvHD occurred.").zero
    assert parse_quote("SYNTHETIC: engraftment occurred in all patients.").everyone
    assert parse_quote("SYNTHETIC: 4 out of 7 deaths; 10/12 engrafted").fractions == ((4, 7), (10, 12))


def test_a_count_with_its_percentage_is_paired() -> None:
    facts = parse_quote(GAGELMANN)
    assert [(n, p.value) for n, p in facts.paired] == [(26, 84.0)]


# ---------------------------------------------------------------------------- percentages


@pytest.mark.parametrize(
    ("count", "total", "percent", "decimals", "fits"),
    [
        (26, 31, 84, 0, True),  # 83.9
        (25, 31, 84, 0, False),  # 80.6
        (31, 41, 75, 0, False),  # 75.6
        (30, 41, 75, 0, False),  # 73.2
        (33, 40, 82, 0, True),  # 82.5: either rounding of a tie
        (33, 40, 83, 0, True),
        (31, 41, 75.6, 1, True),
        (31, 41, 75.7, 1, False),
        (0, 5, 0, 0, True),
        (5, 5, 100, 0, True),
    ],
)
def test_percent_fits(count: int, total: int, percent: float, decimals: int, fits: bool) -> None:
    assert percent_fits(count, total, percent, decimals) is fits


def test_whole_counts_near_a_percentage() -> None:
    assert whole_counts_near(41, 75) == (30, 31)
    assert whole_counts_near(10, 100) == (10,)


# ------------------------------------------------------------------------- the faults


def test_the_review_rows_that_hold() -> None:
    assert count_problems(26, 31, GAGELMANN, None) == []
    assert count_problems(26, 32, KLYUCHNIKOV, None) == []
    assert count_problems(7, 9, "Platelet engraftment occurred in seven of nine patients", None) == []


def test_a_count_changed_away_from_its_quote_is_rejected() -> None:
    [message] = count_problems(25, 31, GAGELMANN, None)
    assert "25/31 is not supported by its quote" in message and "84%" in message


def test_a_total_changed_away_from_its_quote_is_rejected() -> None:
    assert count_problems(26, 30, GAGELMANN, None) == ["the quote gives 26 (84%), but 26/30 = 86.7%"]
    quote = "SYNTHETIC: response in 36 of 58 patients"
    assert count_problems(36, 60, quote, None) == ["the quote says 36 of 58, the row 36/60"]


def test_a_number_that_is_a_day_or_a_ci_bound_does_not_support_a_count() -> None:
    for events in (9, 7, 14, 95):
        assert count_problems(events, 31, GAGELMANN, None), events


def test_a_percentage_impossible_for_the_denominator_is_an_error() -> None:
    problems = count_problems(31, 41, STASIA, "75% of 41 = 30.75 -> 31")
    assert problems[0].startswith("the quote gives 75%, 72%, which no whole count of 41 patients")
    assert "30/41 = 73.2%, 31/41 = 75.6%" in problems[0]
    assert "75% of 41: no whole count of 41 rounds to 75%" in problems[1]


def test_the_same_percentage_fits_a_denominator_it_can_be_a_share_of() -> None:
    assert count_problems(30, 40, STASIA, "75% of 40 = 30") == []


def test_one_patient_is_one_event() -> None:
    quote = "SYNTHETIC: a boost from his donor led to recovery and resolution of his infections."
    assert count_problems(1, 1, quote, None) == []
    assert count_problems(1, 5, "SYNTHETIC: the patient died of severe infection.", None) == []
    assert count_problems(0, 1, quote, None) != []
    assert count_problems(2, 5, "SYNTHETIC: the patient died of severe infection.", None) != []


def test_an_unsupported_count_needs_a_derivation() -> None:
    quote = "SYNTHETIC: We gave a stem cell boost that led to recovery."
    [message] = count_problems(1, 1, quote, None)
    assert message.endswith("write the arithmetic in derivation")
    assert count_problems(1, 1, quote, "case report of one patient: 1 of 1") == []


# ---------------------------------------------------------------------------- derivations


@pytest.mark.parametrize(
    ("derivation", "events", "total", "expected"),
    [
        ("81% of 32 = 25.9 -> 26 patients", 26, 32, []),
        ("81% of 32 = 25.9 -> 25 patients", 25, 32, ["81% of 32 -> 25: 25/32 = 78.1%, which does not round to 81%"]),
        ("81% of 32 = 24.9 -> 26", 26, 32, ["81% of 32 is 25.92, not 24.9"]),
        ("75% of 40 = 30", 31, 40, ["75% of 40 gives 30, but the row's events are 31"]),
        ("4 + 4 + 5 = 13 of 5 + 10 = 15", 13, 15, []),
        ("4 + 4 + 5 = 14", 14, 15, ["4 + 4 + 5 = 14 is wrong (13)"]),
        ("31 - 5 = 26", 26, 31, []),
        ("9/16 = 56.3%", 9, 16, []),
        ("9/16 = 57.3%", 9, 16, ["9/16 = 57.3% is wrong (9/16 = 56.2%)"]),
        ("'all patients' read as the 12 boosted patients", 12, 12, []),
        ("83% of 12 siblings = 10", 31, 41, []),  # a subgroup: checked, not tied to the row
    ],
)
def test_derivation_arithmetic(derivation: str, events: int, total: int, expected: list[str]) -> None:
    assert [m.removeprefix("derivation: ") for m in derivation_problems(derivation, events, total)] == expected


# ------------------------------------------------------------------------------ properties

counts = st.integers(min_value=1, max_value=400).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
)
noise = st.sampled_from(
    [
        "",
        " within a median of {d} days",
        " (95% confidence interval, {a}-{b})",
        " (range, {a} to {b})",
        " (P = .{d})",
        " in {y}",
        " after {d} x 10^6 CD34+ cells/kg",
    ]
)


def _noise(template: str, data: st.DataObject) -> str:
    return template.format(
        d=data.draw(st.integers(1, 400)),
        a=data.draw(st.integers(1, 200)),
        b=data.draw(st.integers(1, 200)),
        y=data.draw(st.integers(1990, 2030)),
    )


@settings(max_examples=200, deadline=None)
@given(pair=counts, template=noise, data=st.data())
def test_a_stated_fraction_with_its_percentage_is_supported(
    pair: tuple[int, int], template: str, data: st.DataObject
) -> None:
    events, total = pair
    quote = f"SYNTHETIC: response in {events} of {total} patients ({half_up(events, total):g}%){_noise(template, data)}."
    assert count_problems(events, total, quote, None) == []


@settings(max_examples=200, deadline=None)
@given(pair=counts, decimals=st.sampled_from([0, 1]), template=noise, data=st.data())
def test_a_printed_percentage_supports_its_count(
    pair: tuple[int, int], decimals: int, template: str, data: st.DataObject
) -> None:
    events, total = pair
    quote = f"SYNTHETIC: the rate was {half_up(events, total, decimals):.{decimals}f}%{_noise(template, data)}."
    derivation = f"{half_up(events, total, decimals):.{decimals}f}% of {total} = {events}"
    assert count_problems(events, total, quote, None) == []
    assert count_problems(events, total, quote, derivation) == []


@settings(max_examples=200, deadline=None)
@given(pair=counts, shift=st.integers(min_value=1, max_value=50), template=noise, data=st.data())
def test_a_changed_count_is_rejected(
    pair: tuple[int, int], shift: int, template: str, data: st.DataObject
) -> None:
    events, total = pair
    changed = (events + shift) % (total + 1)
    percent = half_up(events, total)
    noise_text = _noise(template, data)
    quote = f"SYNTHETIC: response in {events} of {total} patients ({percent:g}%){noise_text}."
    numbers = {int(x) for x in __import__("re").findall(r"\d+", noise_text)}
    if changed == events or changed in numbers:
        return
    assert count_problems(changed, total, quote, None) != []


@settings(max_examples=200, deadline=None)
@given(total=st.integers(min_value=1, max_value=400), percent=st.integers(min_value=0, max_value=100))
def test_a_percentage_no_count_rounds_to_is_always_rejected(total: int, percent: int) -> None:
    if any(percent_fits(k, total, percent) for k in range(total + 1)):
        return
    k = round(percent * total / 100)
    quote = f"SYNTHETIC: the rate was {percent}%."
    assert count_problems(k, total, quote, f"{percent}% of {total} = {k}") != []
    assert count_problems(k, total, quote, None) != []
