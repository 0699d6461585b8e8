"""The small expression language of cross-field rules (analysis.evidence.rules)."""

from __future__ import annotations

import pytest

from analysis.evidence.rules import UNKNOWN, ExpressionError, evaluate_on, parse_expression


@pytest.mark.parametrize(
    "text",
    ["a.b.c > 1", "x[0] > 1", "(lambda: 1)()", "open('f')", "a if b else c", "{1: 2}", "len(a, b)"],
)
def test_rule_language_refuses_other_constructs(text: str) -> None:
    with pytest.raises(ExpressionError):
        parse_expression(text)


def test_rule_names_and_references() -> None:
    expr = parse_expression("total <= studies.n and sum(legs.m) > x")
    assert expr.names == ("total", "x")
    assert expr.references == (("studies", "n"), ("legs", "m"))


@pytest.mark.parametrize(
    ("text", "record", "expected"),
    [
        ("a <= b", {"a": 1, "b": 2}, True),
        ("a <= b", {"a": 1, "b": None}, UNKNOWN),
        ("a <= b or c == 1", {"a": 1, "b": None, "c": 1}, True),
        ("a <= b and c == 1", {"a": 1, "b": None, "c": 2}, False),
        ("not (a == 1)", {"a": None}, UNKNOWN),
        ("k in ['x', 'y']", {"k": "y"}, True),
        ("0 <= a <= 5", {"a": 7}, False),
        ("a + b * 2 == 7", {"a": 1, "b": 3}, True),
        ("sum(l.n) == 5", {"l": [{"n": 2}, {"n": 3}]}, True),
        ("sum(l.n) == 5", {"l": [{"n": 2}, {"n": None}]}, UNKNOWN),
    ],
)
def test_three_valued_evaluation(text: str, record: dict, expected: object) -> None:
    assert (
        evaluate_on(parse_expression(text), record) is expected
        or evaluate_on(parse_expression(text), record) == expected
    )


