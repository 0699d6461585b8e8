"""Options named by a word, read whatever their case (analysis.engine.options)."""

from __future__ import annotations

import pytest

from analysis.engine.metareg import metareg
from analysis.engine.options import choose
from analysis.engine.rma import rma_uni
from analysis.engine.tau2 import TAU2_METHODS


@pytest.mark.parametrize("given", ["reml", "REML", "Reml", "rEmL"])
def test_any_case_gives_the_engine_s_spelling(given: str) -> None:
    assert choose("method", given, TAU2_METHODS) == "REML"


@pytest.mark.parametrize("given", ["restricted", "", None, 3, "REML "])
def test_anything_else_is_refused_with_the_choices(given: object) -> None:
    with pytest.raises(ValueError, match=rf"^method must be one of {', '.join(TAU2_METHODS)}; got {given!r}$"):
        choose("method", given, TAU2_METHODS)


def test_rma_uni_and_metareg_accept_lower_case_names() -> None:
    yi, vi = [0.1, 0.5, 0.9, 1.4], [0.04, 0.05, 0.03, 0.06]
    assert rma_uni(yi, vi, "dl", "HKSJ", "Z").method == "DL"
    a = rma_uni(yi, vi, "pm", "hksj", "z")
    b = rma_uni(yi, vi, "PM", "hksj", "z")
    assert (a.mu, a.se, a.tau2) == (b.mu, b.se, b.tau2)
    events, n, x = [3, 6, 10, 1, 8], [11, 17, 21, 6, 12], [1.0, 2.0, 3.0, 4.0, 5.0]
    low = metareg(events, n, x, measure="plo", method="reml")
    same = metareg(events, n, x, measure="PLO", method="REML")
    assert (low.measure, low.method) == ("PLO", "REML")
    assert (low.intercept, low.slope, low.tau2) == (same.intercept, same.slope, same.tau2)
