"""Aalen-Johansen cumulative incidence: by hand, against R's survival::survfit, and by its properties.

The R references come from tests/fixtures/survival/aalen_johansen_reference.R (survival 3.5.3 on R 4.2.2;
recorded in the JSON): the multi-state ``survfit(Surv(time, factor(status, 0:2)) ~ 1)`` on survival::mgus2
(progression with death as the competing event), on the SYNTHETIC patient files of tests/fixtures/ipd
(recovery with death as the competing event) and on SYNTHETIC boundary cases, with three interval types.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.engine.survival import aalen_johansen, kaplan_meier
from tests.evidence_helpers import FIXTURES, ROOT

REFERENCE = FIXTURES / "survival" / "aalen_johansen_reference.json"
#: Tolerances for survfit: the same recursions in double precision (measured over the 48 cases: at most
#: 8e-16 absolute on the incidences, 5e-16 on the standard errors, 9e-16 on the limits).
RTOL = 1e-11
ATOL = 1e-14
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _cases() -> list[dict]:
    return json.loads(REFERENCE.read_text())["cases"]


def _array(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def test_by_hand_with_tied_event_types() -> None:
    # times 4, 6, 6, 6, 6+, 9, 11, 11, 20+ with 1 = event, 2 = competing: at 6 two events, one competing
    # and one censoring share the 8 at risk; at 11 one event and one competing share 3.
    ci = aalen_johansen([4, 6, 6, 6, 6, 9, 11, 11, 20], [1, 1, 2, 1, 0, 2, 1, 2, 0])
    s, f1, f2 = 1.0, 0.0, 0.0
    for t, n, d1, d2 in [(4, 9, 1, 0), (6, 8, 2, 1), (9, 4, 0, 1), (11, 3, 1, 1)]:
        f1, f2, s = f1 + s * d1 / n, f2 + s * d2 / n, s * (1 - (d1 + d2) / n)
        i = int(np.flatnonzero(ci.time == t)[0])
        assert (ci.n_risk[i], ci.n_event[i], ci.n_competing[i]) == (n, d1, d2)
        assert (ci.incidence[i], ci.competing_incidence[i]) == pytest.approx((f1, f2), rel=1e-14)
        assert ci.event_free[i] == pytest.approx(s, rel=1e-14)
    # by hand: F1 = 1/9 + (8/9)(2/8) + (15/36)(1/3) = 17/36; F2 = (8/9)(1/8) + (5/9)(1/4) + (15/36)(1/3) = 14/36
    assert (f1, f2) == pytest.approx((17 / 36, 14 / 36), rel=1e-14)
    # first step: var F1(4) = sum_i U_i^2 with U = (1 - 1/9)/9 for the event, -1/81 for the 8 others
    assert ci.std_err[0] == pytest.approx(math.sqrt((8 / 81) ** 2 + 8 / 81**2), rel=1e-14)
    assert (ci.n, ci.events, ci.competing) == (9, 4, 3)
    assert ci.at(5) == pytest.approx(1 / 9) and ci.at(3) == 0.0 and ci.competing_at(30) == pytest.approx(14 / 36)
    assert math.isnan(ci.median)  # 17/36 < 0.5: never reached


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c['case']}-{c['conf_type']}")
def test_matches_survfit(case: dict) -> None:
    ci = aalen_johansen(case["input"]["time"], case["input"]["status"], conf_type=case["conf_type"])
    np.testing.assert_array_equal(ci.time, case["time"])
    for mine, theirs in [(ci.n_risk, "n_risk"), (ci.n_event, "n_event"), (ci.n_competing, "n_competing"),
                         (ci.n_censor, "n_censor")]:
        np.testing.assert_array_equal(mine, case[theirs], err_msg=theirs)
    for mine, theirs in [(ci.incidence, "incidence"), (ci.competing_incidence, "competing_incidence"),
                         (ci.event_free, "event_free"), (ci.std_err, "std_err"),
                         (ci.competing_std_err, "competing_std_err")]:
        np.testing.assert_allclose(mine, case[theirs], rtol=RTOL, atol=ATOL, err_msg=theirs)
    for lower, upper, se, name in [(ci.ci_lower, ci.ci_upper, ci.std_err, ""),
                                   (ci.competing_ci_lower, ci.competing_ci_upper, ci.competing_std_err,
                                    "competing_")]:
        r_lower, r_upper = _array(case[f"{name}lower"]), _array(case[f"{name}upper"])
        # where the standard error is 0 survfit gives a zero-width interval (or NA); here: undefined (NaN)
        zero = se == 0
        assert np.all(np.isnan(lower[zero]) & np.isnan(upper[zero]))
        assert np.all(np.isnan(r_lower[zero]) | (r_lower[zero] == r_upper[zero]))
        np.testing.assert_allclose(lower[~zero], r_lower[~zero], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(upper[~zero], r_upper[~zero], rtol=RTOL, atol=ATOL)
    medians = [ci.median, ci.median_ci_lower, ci.median_ci_upper]
    expected = [_nan(case["median"]), _nan(case["median_lower"]), _nan(case["median_upper"])]
    np.testing.assert_array_equal(medians, expected)


def test_reference_covers_the_fixtures_the_boundaries_and_every_interval_type() -> None:
    cases = {c["case"] for c in _cases()}
    ipd = {f"synthetic_{f}_{lineage}" for f in ("molinosquintana2025", "boundaries", "synthcd2021")
           for lineage in ("neutrophil", "platelet")}
    boundary = {"synthetic_one_event", "synthetic_one_competing", "synthetic_all_censored",
                "synthetic_all_competing", "synthetic_no_competing", "synthetic_all_events_tied",
                "synthetic_types_tied", "synthetic_everyone_has_an_event", "synthetic_half_exactly"}
    assert cases == {"mgus2", *ipd, *boundary}
    found = {(c["case"], c["conf_type"]) for c in _cases()}
    assert found == {(c, t) for c in cases for t in ("log", "log-log", "plain")}
    # the fixtures include deaths before recovery (the competing event) and a median that is reached
    assert any(sum(s == 2 for s in c["input"]["status"]) for c in _cases() if c["case"] in ipd)
    assert any(c["median"] is not None for c in _cases() if c["case"] in ipd)


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="regeneration needs R")
def test_reference_regenerates_identically() -> None:
    has_survival = subprocess.run(["Rscript", "-e", "library(survival); library(jsonlite)"],
                                  capture_output=True, check=False)
    if has_survival.returncode != 0:
        pytest.skip("R packages survival/jsonlite not installed")
    before = REFERENCE.read_text()
    subprocess.run(["Rscript", str(REFERENCE.with_suffix(".R"))], cwd=ROOT, check=True, capture_output=True)
    assert REFERENCE.read_text() == before


# ------------------------------------------------------------------------------ boundaries


def test_no_events_of_interest_keeps_the_incidence_at_zero_with_no_band() -> None:
    for status in ([0, 0, 0], [2, 2, 2], [0, 2, 0]):
        ci = aalen_johansen([5, 8, 9], status)
        assert ci.incidence.tolist() == [0.0, 0.0, 0.0]
        assert np.all(np.isnan(ci.ci_lower)) and np.all(np.isnan(ci.ci_upper))
        assert math.isnan(ci.median) and ci.events == 0
    everyone_dies = aalen_johansen([5, 8, 9], [2, 2, 2])
    assert everyone_dies.competing_incidence[-1] == 1.0 and everyone_dies.event_free[-1] == 0.0


def test_one_patient() -> None:
    event = aalen_johansen([12], [1])
    assert (event.incidence.tolist(), event.std_err.tolist()) == ([1.0], [0.0])
    assert np.isnan(event.ci_lower[0]) and event.median == 12.0  # no zero-width band
    censored = aalen_johansen([12], [0])
    assert censored.incidence.tolist() == [0.0] and math.isnan(censored.median)


def test_the_median_is_read_off_the_incidence() -> None:
    assert aalen_johansen([1, 2, 3, 4], [1, 1, 1, 1]).median == 2.5  # F = 0.5 on [2, 3)
    assert aalen_johansen([1, 2, 3, 5], [1, 1, 1, 1]).median == 2.5
    # F = 1/4, 1/4 (a death), 1/4 + (1/2)(1/2) = 1/2 on [3, 4), then 3/4: the midpoint 3.5
    ci = aalen_johansen([1, 2, 3, 4], [1, 2, 1, 1])
    assert ci.median == 3.5
    assert aalen_johansen([1, 2, 3, 4], [1, 2, 1, 0]).median == 3.0  # 1/2 from day 3 on, never more
    assert all(map(math.isnan, ci.interval_at(0.5)))  # before the first time: no band
    lo, hi = ci.interval_at(3.5)
    assert lo <= ci.at(3.5) <= hi


@pytest.mark.parametrize(
    ("time", "status", "kwargs", "message"),
    [
        ([], [], {}, "at least one patient"),
        ([1, 2], [1], {}, "time has 2 values but status has 1"),
        ([1, -2], [1, 1], {}, "non-negative \\(position 1: -2.0\\)"),
        ([1, np.inf], [1, 1], {}, "finite"),
        ([1, 2], [1, 3], {}, ("status must be 0 \\(censored\\), 1 \\(event\\) or 2 \\(competing event\\) "
                              "\\(position 1: 3.0\\)")),
        ([1, 2], [1, 0], {"level": 1.0}, "level must be between 0 and 1"),
        ([1, 2], [1, 0], {"conf_type": "logit"}, "conf_type must be"),
    ],
)
def test_bad_input_is_refused(time, status, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        aalen_johansen(time, status, **kwargs)


# ------------------------------------------------------------------------------ properties


@st.composite
def competing_data(draw: st.DrawFn, codes: tuple[int, ...] = (0, 1, 2)) -> tuple[list[int], list[int]]:
    """SYNTHETIC (time, status) pairs: 1 to 40 patients, integer days (many ties)."""
    n = draw(st.integers(1, 40))
    time = draw(st.lists(st.integers(0, 60), min_size=n, max_size=n))
    status = draw(st.lists(st.sampled_from(codes), min_size=n, max_size=n))
    return time, status


@PROPS
@given(data=competing_data(), conf_type=st.sampled_from(["log", "log-log", "plain"]))
def test_incidences_are_monotone_probabilities_that_add_up(data, conf_type) -> None:
    ci = aalen_johansen(*data, conf_type=conf_type)
    for f in (ci.incidence, ci.competing_incidence):
        assert np.all((f >= 0) & (f <= 1 + 1e-12))
        assert np.all(np.diff(f) >= -1e-15)
    assert np.all(ci.incidence + ci.competing_incidence <= 1 + 1e-12)
    np.testing.assert_allclose(ci.incidence + ci.competing_incidence + ci.event_free, 1.0, atol=1e-12)
    defined = np.isfinite(ci.ci_lower)
    assert np.array_equal(defined, np.isfinite(ci.ci_upper))
    assert np.all(ci.ci_upper[defined] > ci.ci_lower[defined])  # never a zero-width interval
    assert np.all(ci.ci_lower[defined] <= ci.incidence[defined] + 1e-12)
    assert np.all(ci.incidence[defined] <= ci.ci_upper[defined] + 1e-12)
    assert np.all((ci.ci_lower[defined] >= 0) & (ci.ci_upper[defined] <= 1))
    assert ci.events + ci.competing + int(ci.n_censor.sum()) == ci.n == len(data[0])


@PROPS
@given(data=competing_data(codes=(0, 1)))
def test_without_competing_events_it_is_one_minus_kaplan_meier(data) -> None:
    ci = aalen_johansen(*data)
    km = kaplan_meier(*data)
    np.testing.assert_array_equal(ci.time, km.time)
    np.testing.assert_allclose(ci.incidence, 1 - km.survival, atol=1e-12)
    assert np.all(ci.competing_incidence == 0)
    assert (ci.median == km.median) or (math.isnan(ci.median) and math.isnan(km.median))


@PROPS
@given(data=competing_data())
def test_swapping_the_event_types_swaps_the_incidences(data) -> None:
    time, status = data
    a = aalen_johansen(time, status)
    b = aalen_johansen(time, [{1: 2, 2: 1}.get(s, s) for s in status])
    np.testing.assert_allclose(a.incidence, b.competing_incidence, atol=1e-14)
    np.testing.assert_allclose(a.std_err, b.competing_std_err, atol=1e-14)


@PROPS
@given(data=competing_data())
def test_censoring_competing_events_never_lowers_the_incidence(data) -> None:
    """1 - Kaplan-Meier with deaths censored overstates the incidence (Putter et al. 2007)."""
    time, status = data
    ci = aalen_johansen(time, status)
    naive = kaplan_meier(time, [1 if s == 1 else 0 for s in status])
    assert np.all(ci.incidence <= 1 - naive.survival + 1e-12)
