"""Kaplan-Meier: a hand-computed textbook example and R's survival::survfit.

The textbook example is the 6-MP arm of the Freireich et al. (1963) leukaemia trial as tabulated by
Gehan (1965) (remission times in weeks; + = censored): 6, 6, 6, 6+, 7, 9+, 10, 10+, 11+, 13, 16, 17+,
19+, 20+, 22, 23, 25+, 32+, 32+, 34+, 35+. The product-limit steps and Greenwood sums are written out
below as fractions. The R references come from tests/fixtures/survival/survfit_reference.R (survival
3.5.3 on R 4.2.2; recorded in the JSON), over three data sets and three interval types.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import numpy as np
import pytest

from analysis.engine.survival import kaplan_meier
from tests.evidence_helpers import FIXTURES, ROOT

REFERENCE = FIXTURES / "survival" / "survfit_reference.json"
TIME = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
EVENT = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
#: (time, at risk, events) at each event time of the 6-MP arm.
STEPS = [(6, 21, 3), (7, 17, 1), (10, 15, 1), (13, 12, 1), (16, 11, 1), (22, 7, 1), (23, 6, 1)]
#: rtol for survfit: both sides compute the same closed forms in double precision.
RTOL = 1e-12


def test_product_limit_and_greenwood_by_hand() -> None:
    km = kaplan_meier(TIME, EVENT)
    s, greenwood = 1.0, 0.0
    for t, n, d in STEPS:
        s *= (n - d) / n
        greenwood += d / (n * (n - d))
        i = int(np.flatnonzero(km.time == t)[0])
        assert (km.n_risk[i], km.n_event[i]) == (n, d)
        assert km.survival[i] == pytest.approx(s, rel=1e-14)
        assert km.std_err[i] == pytest.approx(math.sqrt(greenwood), rel=1e-14)
        z = 1.959963984540054
        assert km.ci_lower[i] == pytest.approx(s * math.exp(-z * math.sqrt(greenwood)), rel=1e-12)
    # the published table's rounded values (S at 6, 13 and 23 weeks): 0.857, 0.690, 0.448
    assert [round(km.at(t), 3) for t in (6, 13, 23)] == [0.857, 0.690, 0.448]
    assert km.median == 23.0  # first time S <= 0.5
    assert (km.n, km.events) == (21, 9)


#: SYNTHETIC boundary cases in survfit_reference.R: one patient, no events, all events, ties,
#: censoring after the last event, an event last (S reaches 0).
BOUNDARY = {
    "synthetic_one_event", "synthetic_one_censored", "synthetic_no_events", "synthetic_all_events",
    "synthetic_all_tied", "synthetic_censored_after_last_event", "synthetic_event_and_censoring_tied",
    "synthetic_death_last",
}


def _cases() -> list[dict]:
    return json.loads(REFERENCE.read_text())["cases"]


def _array(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c['case']}-{c['conf_type']}")
def test_matches_survfit(case: dict) -> None:
    km = kaplan_meier(case["input"]["time"], case["input"]["status"], conf_type=case["conf_type"])
    np.testing.assert_array_equal(km.time, case["time"])
    np.testing.assert_array_equal(km.n_risk, case["n_risk"])
    np.testing.assert_array_equal(km.n_event, case["n_event"])
    np.testing.assert_array_equal(km.n_censor, case["n_censor"])
    np.testing.assert_allclose(km.survival, case["surv"], rtol=RTOL, atol=1e-15)
    se = _array(case["std_err"])
    se[np.array(case["std_err_infinite"])] = np.inf
    np.testing.assert_allclose(km.std_err, se, rtol=RTOL)
    np.testing.assert_allclose(km.ci_lower, _array(case["lower"]), rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(km.ci_upper, _array(case["upper"]), rtol=RTOL, atol=1e-15)
    medians = [km.median, km.median_ci_lower, km.median_ci_upper]
    expected = _array([case["median"], case["median_lcl"], case["median_ucl"]])
    np.testing.assert_array_equal(medians, expected)


def test_reference_covers_every_case_and_interval_type() -> None:
    found = {(c["case"], c["conf_type"]) for c in _cases()}
    cases = {"gehan_6mp", "aml_maintained", "aml_nonmaintained", "lung", *BOUNDARY}
    assert found == {(c, t) for c in cases for t in ("log", "log-log", "plain")}
    # one case ends with an event, so S reaches 0 and the limits are undefined there
    assert any(c["surv"][-1] == 0 for c in _cases())


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="regeneration needs R")
def test_reference_regenerates_identically(tmp_path) -> None:
    has_survival = subprocess.run(
        ["Rscript", "-e", "library(survival); library(jsonlite); library(MASS)"],
        capture_output=True,
        check=False,
    )
    if has_survival.returncode != 0:
        pytest.skip("R packages survival/jsonlite/MASS not installed")
    before = REFERENCE.read_text()
    subprocess.run(
        ["Rscript", str(REFERENCE.with_suffix(".R"))], cwd=ROOT, check=True, capture_output=True
    )
    assert REFERENCE.read_text() == before


def test_all_censored_has_no_median() -> None:
    km = kaplan_meier([5, 8, 9], [0, 0, 0])
    assert km.survival.tolist() == [1.0, 1.0, 1.0]
    assert math.isnan(km.median)


def test_tie_at_one_half_takes_the_midpoint() -> None:
    km = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1])
    assert km.median == 2.5  # S(2) = 0.5 exactly; next drop at 3


@pytest.mark.parametrize(
    ("time", "event", "kwargs", "message"),
    [
        ([], [], {}, "at least one patient"),
        ([1, 2], [1], {}, "time has 2 values but event has 1"),
        ([1, -2], [1, 1], {}, "non-negative \\(position 1: -2.0\\)"),
        ([1, np.nan], [1, 1], {}, "finite"),
        ([1, 2], [1, 2], {}, "event must be 0 or 1 \\(position 1: 2.0\\)"),
        ([1, 2], [1, 0], {"level": 95}, "level must be between 0 and 1"),
        ([1, 2], [1, 0], {"conf_type": "logit"}, "conf_type must be"),
    ],
)
def test_bad_input_is_refused(time, event, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        kaplan_meier(time, event, **kwargs)
