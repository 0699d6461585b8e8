"""Labels put in the middle of a sentence (analysis.evidence.words)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.evidence.words import lower_first


@pytest.mark.parametrize(("text", "expected"), [
    ("Without Li 2023", "without Li 2023"),
    ("Rejeski 2022 read as 11/11 (engraftment among the neutropenic)", "Rejeski 2022 read as 11/11 (engraftment among the neutropenic)"),
    ("O'Neil 2019 read as 3/4", "O'Neil 2019 read as 3/4"),
    ("GLMM-t", "GLMM-t"),
    ("RBC transfusion independence", "RBC transfusion independence"),
    ("Included", "included"),
    ("", ""),
    ("A", "A"),
])
def test_lower_first(text: str, expected: str) -> None:
    assert lower_first(text) == expected


@given(st.text())
def test_only_the_first_character_can_change(text: str) -> None:
    out = lower_first(text)
    assert out[1:] == text[1:] and out[:1].lower() == text[:1].lower()
