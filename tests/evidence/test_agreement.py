"""Agreement of two extractions counted from their disagreement log (analysis.evidence.agreement).

All rows are SYNTHETIC. The rates are checked against a direct count of equal pairs (hand-counted
examples, and a Hypothesis property over random pairs of extractions).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.evidence.agreement import (
    Agreement,
    Comparison,
    agreement,
    comparisons,
    format_value,
    log_problems,
)

COUNTS = Comparison.from_spec("outcomes", {
    "first": "outcomes", "second": "second_outcomes", "keys": {"study_id": "study_id", "outcome_or_item": "outcome"},
    "compared_as": {"outcome": "compared_as"}, "values": ["events", "total"], "checked": "checked_by",
    "label": "outcome counts",
})
RATINGS = Comparison.from_spec("grade", {
    "first": "grade", "second": "second_grade", "keys": {"outcome_or_item": "outcome", "domain": "domain"},
    "values": ["rating"], "label": "GRADE judgements",
})


def count(study: str, outcome: str, events: int | None, total: int | None, **extra: Any) -> dict[str, Any]:
    return {"study_id": study, "outcome": outcome, "events": events, "total": total, **extra}


def log_row(table: str, study: str, item: str, kind: str, first: str, second: str, resolution: str,
            resolved: str = "", rnd: int = 1, domain: str = "") -> dict[str, Any]:
    return {"table": table, "round": rnd, "study_id": study, "outcome_or_item": item, "domain": domain, "kind": kind,
            "first_value": first, "second_value": second, "resolution": resolution, "resolved_value": resolved}


# ------------------------------------------------------------------------------ counting


def test_agreement_counts_compared_agreed_and_one_sided_pairs() -> None:
    # SYNTHETIC: the second reviewer recorded 5 counts and found one unreadable; the first differs on one
    # (s2 death) and lacks one (s3 agvhd) -> compared 5 - 1 = 4, agreed 4 - 1 = 3, one-sided 1
    second = [count("s1", "death", 2, 10, round=1), count("s1", "cgvhd", 0, 10, round=1),
              count("s2", "death", 3, 8, round=1), count("s2", "cgvhd", 1, 8, round=1),
              count("s3", "agvhd", 1, 5, round=1), count("s3", "death", None, None, round=1)]
    log = [log_row("outcomes", "s2", "death", "disagreement", "4/8", "3/8", "first", "4/8"),
           log_row("outcomes", "s3", "agvhd", "second_only", "", "1/5", "not_a_count"),
           log_row("grade", "", "death", "disagreement", "serious", "not_serious", "first", "serious",
                   domain="imprecision")]
    got = agreement(COUNTS, second, log)
    assert got == Agreement("outcome counts", compared=4, agreed=3, one_sided=1)
    assert got.rate == 0.75


def test_nothing_compared_gives_no_rate() -> None:
    assert math.isnan(agreement(RATINGS, [], []).rate)


def test_a_log_naming_more_differences_than_values_is_refused() -> None:
    log = [log_row("grade", "", "death", "disagreement", "serious", "not_serious", "first", "serious",
                   domain="imprecision")] * 2
    with pytest.raises(ValueError, match="more differences of grade than the 1 values"):
        agreement(RATINGS, [{"outcome": "death", "domain": "imprecision", "rating": "not_serious"}], log)


def test_format_value_joins_the_compared_columns() -> None:
    assert format_value({"events": 8.0, "total": 10}, ["events", "total"]) == "8/10"
    assert format_value({"rating": "serious"}, ["rating"]) == "serious"
    assert format_value({"events": float("nan"), "total": 10}, ["events", "total"]) is None


def test_a_declaration_without_values_is_an_error() -> None:
    with pytest.raises(ValueError, match="table 'grade' needs values"):
        comparisons({"tables": {"grade": {"first": "grade", "second": "g2", "keys": {"a": "b"}}}})


pairs = st.dictionaries(
    st.tuples(st.sampled_from(["s1", "s2", "s3", "s4"]), st.sampled_from(["death", "agvhd", "cgvhd"])),
    st.tuples(st.one_of(st.none(), st.integers(0, 3)), st.one_of(st.none(), st.integers(0, 3))),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(pairs)
def test_agreement_from_the_log_equals_a_direct_count_and_a_complete_log_has_no_problems(
        values: dict[tuple[str, str], tuple[int | None, int | None]]) -> None:
    # SYNTHETIC pairs (first events, second events) out of 3; None = not recorded by that reviewer
    first, second, log = [], [], []
    direct_compared = direct_agreed = 0
    for (study, outcome), (a, b) in values.items():
        if b is not None:
            second.append(count(study, outcome, b, 3, round=1))
        if a is not None or b is not None:  # the first table after resolving to the second reviewer's value
            first.append(count(study, outcome, b if b is not None else a, 3, checked_by="x" if b is not None else ""))
        if a is not None and b is not None:
            direct_compared += 1
            direct_agreed += a == b
            if a != b:
                log.append(log_row("outcomes", study, outcome, "disagreement", f"{a}/3", f"{b}/3", "second", f"{b}/3"))
        elif b is not None:
            log.append(log_row("outcomes", study, outcome, "second_only", "", f"{b}/3", "second", f"{b}/3"))
    got = agreement(COUNTS, second, log)
    assert (got.compared, got.agreed) == (direct_compared, direct_agreed)
    assert log_problems(COUNTS, first, second, log) == []


# ------------------------------------------------------------------------------ the log against the tables


def test_an_unlogged_difference_is_reported_on_the_second_row() -> None:
    first = [count("s1", "death", 2, 10, checked_by="x")]
    second = [count("s1", "death", 3, 10, round=1)]
    (problem,) = log_problems(COUNTS, first, second, [])
    assert (problem.where, problem.index, problem.column) == ("second", 0, "events")
    assert problem.message == "s1, death: the second reviewer recorded 3/10 and the first extraction has 2/10, but the disagreement log " \
           "has no row for it (round 1)"


def test_a_resolution_not_applied_and_a_wrong_second_value_are_reported() -> None:
    first = [count("s1", "death", 2, 10, checked_by="x")]
    second = [count("s1", "death", 3, 10, round=1)]
    log = [log_row("outcomes", "s1", "death", "disagreement", "2/10", "3/9", "second", "3/9")]
    messages = {(p.column, p.message) for p in log_problems(COUNTS, first, second, log)}
    assert ("second_value", "3/9 is not the second reviewer's value in second_outcomes for this round (3/10)") in messages
    unapplied = "resolved as second (3/9), but the first table now has 2/10: apply the resolution or correct the log"
    assert ("resolution", unapplied) in messages


def test_awaiting_data_and_not_a_count_leave_no_value_in_the_first_table() -> None:
    second = [count("s1", "agvhd", 6, 41, round=1)]
    log = [log_row("outcomes", "s1", "agvhd", "second_only", "", "6/41", "not_a_count")]
    assert log_problems(COUNTS, [], second, log) == []
    (problem,) = log_problems(COUNTS, [count("s1", "agvhd", 6, 41, checked_by="x")], second, log)
    assert problem.message.startswith("resolved as not_a_count (no value), but the first table now has 6/41")


def test_a_recoded_outcome_is_compared_with_the_first_reviewers_outcome() -> None:
    first = [count("s1", "gvhd_any", 0, 3, checked_by="x")]
    second = [count("s1", "agvhd", 0, 3, round=1, compared_as="gvhd_any")]
    assert log_problems(COUNTS, first, second, []) == []
    assert agreement(COUNTS, second, []) == Agreement("outcome counts", 1, 1, 0)


def test_a_later_round_supersedes_an_earlier_one() -> None:
    # SYNTHETIC: round 1 differed (logged, re-judged); in round 2 both agree on the new rating
    first = [{"outcome": "agvhd", "domain": "imprecision", "rating": "very_serious"}]
    second = [{"outcome": "agvhd", "domain": "imprecision", "rating": "serious", "round": 1},
              {"outcome": "agvhd", "domain": "imprecision", "rating": "very_serious", "round": 2}]
    log = [log_row("grade", "", "agvhd", "disagreement", "serious", "serious", "new_value", "very_serious",
                   domain="imprecision")]
    # the round-1 row says first and second were the same: not a disagreement
    assert [p.column for p in log_problems(RATINGS, first, second, log)] == ["kind"]
    log[0]["first_value"] = "very_serious"
    assert log_problems(RATINGS, first, second, log) == []
    assert agreement(RATINGS, second, log) == Agreement("GRADE judgements", compared=2, agreed=1, one_sided=0)


def test_a_checked_mark_needs_a_second_value_and_a_compared_row_needs_the_mark() -> None:
    first = [count("s1", "death", 2, 10, checked_by="x"), count("s2", "death", 1, 4, checked_by="")]
    second = [count("s2", "death", 1, 4, round=1)]
    problems = log_problems(COUNTS, first, second, [])
    assert [(p.index, p.severity) for p in problems] == [(0, "error"), (1, "warning")]
    assert problems[0].message == ("s1, death: marked as checked, but the second extraction (second_outcomes) has "
                                   "no value for it")
    assert problems[1].message == "s2, death: extracted twice (second_outcomes has it), but checked_by is empty"


def test_a_value_only_the_first_recorded_needs_a_first_only_row() -> None:
    first = [count("s1", "death", 2, 10)]
    second = [count("s1", "death", None, None, round=1)]
    (problem,) = log_problems(COUNTS, first, second, [])
    assert problem.message == ("s1, death: only the first reviewer recorded a value (2/10); the disagreement log "
                               "needs a first_only row for round 1")
    log = [log_row("outcomes", "s1", "death", "first_only", "2/10", "", "first", "2/10")]
    assert log_problems(COUNTS, first, second, log) == []
    assert agreement(COUNTS, second, log) == Agreement("outcome counts", 0, 0, 1)
