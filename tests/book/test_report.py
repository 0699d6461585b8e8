"""Text and tables for reading (:mod:`analysis.book.report`).

Expected strings are written out by hand from hand-checked inputs, or from metafor / R reference
values (``tests/reference/metafor_reference.json``: ``rma`` + ``predict`` on ``dat.pritz1997``, and
``binom.test`` for the exact study intervals), so a change in rounding, wording or in which numbers
a sentence uses makes a test fail.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis import metaprop
from analysis.book import report
from analysis.engine.intervals import clopper_pearson
from analysis.evidence.pipeline import OutcomeSynthesis

REFERENCE = json.loads(
    (Path(__file__).parents[1] / "reference" / "metafor_reference.json").read_text(encoding="utf-8")
)
PRITZ = REFERENCE["datasets"]["pritz1997"]
EVENTS, N = PRITZ["xi"], PRITZ["ni"]


def _case(case_id: str) -> dict:
    return next(c for c in REFERENCE["cases"] if c["id"] == case_id)


def _pct(x: float) -> str:
    """Independent rounding for expected strings (no call into analysis.book.report)."""
    return f"{100 * x:.0f}%"


def _synth(events: list[int], n: list[int], *, pooled: bool, **options: object) -> OutcomeSynthesis:
    """A synthesis as the pipeline makes it: a model result only when pooled (the few-study rules)."""
    rows = pd.DataFrame({"study_id": [f"synth{i}" for i in range(len(n))], "events": events, "total": n})
    res = metaprop(events, n, labels=list(rows["study_id"]), **options) if pooled else None
    display = "pooled" if pooled else ("single" if len(n) == 1 else "side_by_side")
    reason = "" if pooled or len(n) == 1 else "SYNTHETIC reason"
    return OutcomeSynthesis("synthetic_outcome", "Synthetic outcome", "primary", rows, res, display, reason)


# ---------------------------------------------------------------- numbers as text
@pytest.mark.parametrize(
    ("x", "digits", "expected"),
    [
        (0.8456, 0, "85%"),
        (0.8456, 1, "84.6%"),
        (0.0, 0, "0%"),
        (1.0, 0, "100%"),
        (0.004, 0, "0%"),
        (0.996, 0, "100%"),
        (0.07, 0, "7%"),
        (0.123456, 2, "12.35%"),
    ],
)
def test_percent_hand_checked(x: float, digits: int, expected: str) -> None:
    assert report.percent(x, digits) == expected


def test_percent_accepts_numpy_scalars() -> None:
    assert report.percent(np.float64(0.8456)) == "85%"


@pytest.mark.parametrize("missing", [float("nan"), np.float64("nan"), None])
def test_percent_refuses_a_missing_value(missing: object) -> None:
    with pytest.raises(ValueError, match="missing value"):
        report.percent(missing)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(pd.NA),
        pytest.param(np.float32("nan")),
        pytest.param(float("inf")),
    ],
)
def test_percent_refuses_other_missing_or_non_finite_values(bad: object) -> None:
    with pytest.raises(ValueError):
        report.percent(bad)  # type: ignore[arg-type]


def test_interval_in_words() -> None:
    assert report.interval(0.70, 0.93) == "70% to 93%"
    assert report.interval(0.7049, 0.9351, 1) == "70.5% to 93.5%"
    # words, never a dash that could be read as a minus sign
    assert "-" not in report.interval(0.0, 1.0)


def test_interval_refuses_a_missing_bound() -> None:
    with pytest.raises(ValueError, match="missing value"):
        report.interval(0.2, float("nan"))


@pytest.mark.parametrize(
    ("p", "expected"),
    [(0.0005, "<0.001"), (0.0009999, "<0.001"), (0.001, "0.001"), (0.0049, "0.005"), (0.64, "0.640"), (1.0, "1.000")],
)
def test_pvalue_hand_checked(p: float, expected: str) -> None:
    assert report.pvalue(p) == expected


def test_pvalue_refuses_nan() -> None:
    with pytest.raises(ValueError):
        report.pvalue(float("nan"))


def test_events_of() -> None:
    assert report.events_of(12, 15) == "12/15"
    assert report.events_of(np.int64(0), np.int64(3)) == "0/3"


# ---------------------------------------------------------------- results as text
def test_estimate_with_ci_and_prediction_interval_use_metafor_values() -> None:
    """Pritz 1997, logit REML, Wald CI, t PI: the numbers metafor's predict() gives."""
    ref = _case("pritz1997-PLO-REML-z-t")
    res = metaprop(EVENTS, N, measure="PLO", method="REML", ci="z", pi="t")
    assert report.estimate_with_ci(res) == (
        f"{_pct(ref['pred'])} (95% CI {_pct(ref['pred_ci_lb'])} to {_pct(ref['pred_ci_ub'])})"
    )
    assert report.estimate_with_ci(res) == "76% (95% CI 66% to 83%)"  # metafor: 0.7550 [0.6639, 0.8286]
    assert report.prediction_interval(res) == "95% PI 43% to 93%"  # metafor: [0.4318, 0.9262]
    assert report.prediction_interval(res) == f"95% PI {_pct(ref['pred_pi_lb'])} to {_pct(ref['pred_pi_ub'])}"


def test_level_is_printed_from_the_result() -> None:
    res = metaprop(EVENTS, N, level=0.90)
    assert report.estimate_with_ci(res).split(" (")[1].startswith("90% CI ")
    assert report.prediction_interval(res).startswith("90% PI ")


def test_prediction_interval_needs_estimable_heterogeneity() -> None:
    two = metaprop([3, 4], [10, 10])
    assert report.prediction_interval(two) == (
        "no prediction interval: heterogeneity cannot be estimated from two studies (at least five needed)")
    three = metaprop([3, 4, 6], [10, 10, 10])
    assert report.prediction_interval(three, min_k_heterogeneity=3).startswith("95% PI ")
    assert report.prediction_interval(three).startswith("no prediction interval: heterogeneity cannot be estimated "
                                                        "from three studies")
    five = metaprop([3, 4, 6, 2, 5], [10, 10, 10, 10, 10])
    assert report.prediction_interval(five).startswith("95% PI ")
    assert report.prediction_interval(five, min_k=6).endswith("fewer than 6 studies")
    common = metaprop(EVENTS, N, method="EE")
    assert report.prediction_interval(common).endswith("a common-effect model has no between-study variance")


def test_heterogeneity_pritz_matches_metafor() -> None:
    """metafor REML on dat.pritz1997: tau2 0.3646, I2 56.56%, QE 29.79 on 13 df, p 0.0051; confint() gives
    I² 12.87% to 87.99% (metafor 3.8-1)."""
    ref = _case("pritz1997-PLO-REML-z-t")
    res = metaprop(EVENTS, N, measure="PLO", method="REML")
    qp = next(q for q in REFERENCE["qprofile"] if q["id"] == "pritz1997-PLO-REML")  # confint(): 0.0414, 2.0510
    assert report.heterogeneity(res) == ("τ² = 0.36 (95% CI 0.04 to 2.05); I² = 57% (95% CI 13% to 88%); "
                                         "Q = 29.8 (df 13, p = 0.005)")
    assert report.heterogeneity(res) == (
        f"τ² = {ref['tau2']:.2f} (95% CI {qp['tau2_lb']:.2f} to {qp['tau2_ub']:.2f}); I² = {ref['I2']:.0f}% "
        f"(95% CI 13% to 88%); Q = {ref['QE']:.1f} (df 13, p = {ref['QEp']:.3f})"
    )


def test_glmm_heterogeneity_is_one_model_with_its_likelihood_ratio_test() -> None:
    """The GLMM on dat.pritz1997: metafor rma.glmm gives tau2 0.5893, I2 67.79%, LRT 42.23 (df 13, p < 0.001);
    the profile-likelihood interval of tau2 (brute force in base R) 0.1172 to 2.3843, I² 30% to 89% through the
    typical within-study variance (tests/reference/glmm_heterogeneity_reference.json)."""
    glmm = json.loads((Path(__file__).parents[1] / "reference" / "glmm_heterogeneity_reference.json").read_text())
    case = glmm["cases"]["pritz1997"]
    res = metaprop(EVENTS, N, method="GLMM", ci="t")
    lo, hi = case["profile"]["lower"], case["profile"]["upper"]
    text = report.heterogeneity(res)
    assert text.startswith(f"τ² = {case['metafor']['tau2']:.2f} (95% CI {lo:.2f} to {hi:.2f}); "
                           f"I² = {case['metafor']['I2']:.0f}% (95% CI 30% to 89%); likelihood-ratio test "
                           f"{case['metafor']['QE_LRT']:.2f} (df 13, p < 0.001)")
    assert "Q =" not in text  # the Wald Q is not the GLMM's test shown


def test_with_fewer_studies_than_the_plan_needs_heterogeneity_cannot_be_estimated() -> None:
    """12/12, 26/31 and 4/5 (SYNTHETIC): ML tau² is 0 from three studies: not estimable, not absent."""
    res = metaprop([12, 26, 4], [12, 31, 5], method="GLMM", ci="t")
    assert res.tau2 == 0.0
    assert report.heterogeneity(res) == "cannot be estimated from three studies (at least five needed)"
    assert report.heterogeneity(res, 3).endswith(
        "; τ² is estimated at 0: no heterogeneity was detected in three studies, which does not show that there "
        "is none")
    assert "I² = 0%" not in report.heterogeneity(res) + report.i2_with_interval(res)


def test_heterogeneity_two_studies_hand_checked() -> None:
    """3/10 and 4/10 on the logit scale (by hand).

    y = logit(0.3) = -0.8473, v = 1/3 + 1/7 = 0.4762; y = logit(0.4) = -0.4055, v = 1/4 + 1/6 = 0.4167;
    common mean -0.6117; Q = 2.1 * 0.2356**2 + 2.4 * 0.2062**2 = 0.219 on 1 df, p = 0.640; Q < df so the
    REML tau2 is 0 and I2 is 0%, which is not shown with fewer than three studies.
    """
    res = metaprop([3, 4], [10, 10], measure="PLO", method="REML")
    assert report.heterogeneity(res) == "cannot be estimated from two studies (at least five needed)"
    assert report.heterogeneity(res, 2).startswith("τ² = 0.00 (95% CI 0.00 to ")
    assert report.heterogeneity(res, 2).endswith("; Q = 0.2 (df 1, p = 0.640); τ² is estimated at 0: no "
                                                 "heterogeneity was detected in two studies, which does not show "
                                                 "that there is none")


def test_heterogeneity_with_one_study() -> None:
    res = metaprop([3], [10])
    assert report.heterogeneity(res) == "heterogeneity does not apply to one study"


# ---------------------------------------------------------------- headline
def test_headline_without_studies() -> None:
    rows = pd.DataFrame({"study_id": [], "events": [], "total": []})
    synth = OutcomeSynthesis("o", "O", "secondary", rows, None, False)
    assert report.headline(synth) == "No study has reported this outcome yet."


def test_headline_single_study_uses_its_exact_interval() -> None:
    """Pritz study 1, 16/17: R's binom.test gives 0.7131 to 0.9985."""
    synth = _synth([16], [17], pooled=False)
    r_lower = REFERENCE["clopper_pearson"]["pritz1997"]["lower"][0]
    r_upper = REFERENCE["clopper_pearson"]["pritz1997"]["upper"][0]
    lower, upper = clopper_pearson([16], [17])
    assert math.isclose(lower[0], r_lower, rel_tol=1e-9)
    assert math.isclose(upper[0], r_upper, rel_tol=1e-9)
    expected = (
        f"One study: shown as its own proportion, 16/17 patients ({_pct(16 / 17)}; exact 95% CI "
        f"{_pct(lower[0])} to {_pct(upper[0])}); not pooled."
    )
    assert report.headline(synth) == expected
    assert report.headline(synth) == ("One study: shown as its own proportion, 16/17 patients (94%; exact 95% CI "
                                      "71% to 100%); not pooled.")


def test_headline_single_study_all_events_hand_checked() -> None:
    """12/12: the exact lower bound is 0.025 ** (1/12) = 0.7354; the upper bound is 1."""
    synth = _synth([12], [12], pooled=False)
    lower, upper = clopper_pearson([12], [12])
    assert math.isclose(lower[0], 0.025 ** (1 / 12), rel_tol=1e-12)
    assert upper[0] == 1.0
    assert report.headline(synth) == ("One study: shown as its own proportion, 12/12 patients (100%; exact 95% CI "
                                      "74% to 100%); not pooled.")


def test_headline_single_study_no_events_hand_checked() -> None:
    """0/5: lower bound 0, upper 1 - 0.025 ** (1/5) = 0.5218."""
    synth = _synth([0], [5], pooled=False)
    assert report.headline(synth) == ("One study: shown as its own proportion, 0/5 patients (0%; exact 95% CI "
                                      "0% to 52%); not pooled.")


def test_headline_pooled_uses_the_result_ci_and_pi() -> None:
    ref = _case("pritz1997-PLO-REML-z-t")
    synth = _synth(EVENTS, N, pooled=True, measure="PLO", method="REML", ci="z", pi="t")
    expected = (
        f"Pooled proportion (the median of the studies' true proportions) {_pct(ref['pred'])} (95% CI "
        f"{_pct(ref['pred_ci_lb'])} to {_pct(ref['pred_ci_ub'])}), "
        f"95% PI {_pct(ref['pred_pi_lb'])} to {_pct(ref['pred_pi_ub'])}, from 14 studies and {sum(N)} patients; "
        "I² = 57% (95% CI 13% to 88%)."
    )
    assert report.headline(synth) == expected
    assert sum(N) == 326


def test_headline_pooled_few_studies_says_heterogeneity_cannot_be_estimated() -> None:
    synth = _synth([3, 4], [10, 10], pooled=True)  # a plan that pools two studies (min_studies_to_pool: 2)
    assert report.headline(synth).endswith(
        "), from 2 studies and 20 patients; heterogeneity cannot be estimated from two studies (at least five "
        "needed), so no I² or prediction interval is given."
    )
    three = _synth([12, 26, 4], [12, 31, 5], pooled=True, method="GLMM", ci="t")
    assert "I² = 0%" not in report.headline(three) and "PI" not in report.headline(three)
    assert "heterogeneity cannot be estimated from three studies" in report.headline(three)


def test_headline_of_a_non_logit_measure_is_a_pooled_proportion() -> None:
    synth = _synth([3, 4, 6], [10, 10, 10], pooled=True, measure="PFT")
    assert report.headline(synth).startswith("Pooled proportion ")
    assert "median" not in report.headline(synth)


def test_headline_side_by_side_names_every_study_and_the_reason() -> None:
    """Studies not pooled: each with its exact interval, after the words a clinician needs."""
    synth = _synth([3, 4], [10, 10], pooled=False)
    lower, upper = clopper_pearson([3, 4], [10, 10])
    assert report.headline(synth) == (
        "Not pooled: SYNTHETIC reason. "
        f"synth0: 3/10 (30%; exact 95% CI {_pct(lower[0])} to {_pct(upper[0])}); "
        f"synth1: 4/10 (40%; exact 95% CI {_pct(lower[1])} to {_pct(upper[1])})."
    )
    with pytest.raises(ValueError, match="side by side have no single estimate"):
        report.shown_estimate(synth)


GRID = [
    ([0], [5]),
    ([5], [5]),
    ([0, 0], [5, 8]),
    ([4, 4], [4, 4]),
    ([0, 3, 10], [10, 10, 10]),
    ([1, 2, 3, 9], [3, 9, 4, 9]),
    (EVENTS, N),
]


@pytest.mark.parametrize(("events", "n"), GRID)
@pytest.mark.parametrize("method", ["REML", "DL", "EE", "PM"])
@pytest.mark.parametrize("measure", ["PLO", "PAS", "PFT"])
def test_text_never_prints_nan(events: list[int], n: list[int], method: str, measure: str) -> None:
    synth = _synth(events, n, pooled=len(n) >= 2, measure=measure, method=method)
    res = synth.result or metaprop(events, n, measure=measure, method=method)
    texts = [report.headline(synth), report.heterogeneity(res), report.estimate_with_ci(res),
             report.prediction_interval(res)]
    for text in texts:
        assert not re.search(r"\bnan\b|<na>|\binf\b", text, re.IGNORECASE), text


# ---------------------------------------------------------------- tables
def test_labelled_columns_titles_order_and_missing_cells() -> None:
    frame = pd.DataFrame(
        {
            "study_id": ["synth1", "synth2", "synth3"],
            "n": pd.array([4, pd.NA, 7], dtype="Int64"),
            "dose": [1.5, np.nan, None],
            "note": pd.array(["a", pd.NA, "c"], dtype="string"),
            "unused": [1, 2, 3],
        }
    )
    fields = {"study_id": {"title": "Study"}, "n": {"title": "Patients"}, "dose": {}}
    out = report.labelled_columns(frame, fields, ["n", "study_id", "dose", "note", "absent"])
    assert list(out.columns) == ["Patients", "Study", "dose", "note"]
    assert out["Patients"].tolist() == [4, "", 7]
    assert out["dose"].tolist() == [1.5, "", ""]
    assert out["note"].tolist() == ["a", "", "c"]
    assert out["Study"].tolist() == ["synth1", "synth2", "synth3"]
    # the input is not modified
    assert frame["n"].isna().sum() == 1


def test_heterogeneity_accepts_any_result_like_object() -> None:
    """Presentation only: a hand-made object with the result's attribute names is enough."""
    res = SimpleNamespace(k=2, tau2=0.125, i2=33.349, q=6.0004, q_df=1, q_pvalue=0.19915, method="REML",
                          tau2_ci=(0.0, 3.5), level=0.95)
    assert report.heterogeneity(res) == "cannot be estimated from two studies (at least five needed)"
    assert report.heterogeneity(res, 2) == "τ² = 0.12 (95% CI 0.00 to 3.50); Q = 6.0 (df 1, p = 0.199)"


@pytest.mark.parametrize(("x", "expected"), [
    (0.0, "0"), (1e-9, "<1"), (0.004, "<1"), (0.0049, "<1"), (0.0051, "1"), (0.014, "1"), (0.016, "2"),
    (0.5, "50"), (0.875, "88"), (0.9949, "99"), (0.9951, ">99"), (0.999999, ">99"), (1.0, "100"),
])
def test_per_100_rounding_boundaries(x: float, expected: str) -> None:
    assert report.per_100(x) == expected


def test_per_100_agrees_with_the_percentages_elsewhere_and_refuses_non_proportions() -> None:
    for x in np.linspace(0.01, 0.99, 199):
        assert report.per_100(x) == report.percent(x).rstrip("%")
    for bad in (-0.01, 1.01, float("nan"), None):
        with pytest.raises(ValueError):
            report.per_100(bad)  # type: ignore[arg-type]
    assert report.per_100_with_ci(0.8812, 0.5194, 0.9811) == "88 per 100 (52 to 98)"
    assert report.per_100_with_ci(1.0, 0.7354, 1.0) == "100 per 100 (74 to 100)"
    assert report.per_100_with_ci(0.0, 0.0, 0.0842) == "0 per 100 (0 to 8)"


# ------------------------------------------------------------------------------ competing risks


def test_incidence_sentence_names_the_competing_event_and_reads_the_curve_off() -> None:
    from analysis.engine.survival import aalen_johansen

    # SYNTHETIC: recoveries on days 10, 20, 40 and 70; deaths without recovery on days 15 and 50; one
    # patient censored on day 90. By hand: F(30) = 1/7 + (5/7)(1/5) = 2/7; F(60) = 2/7 + (4/7)(1/4) = 3/7.
    ci = aalen_johansen([10, 15, 20, 40, 50, 70, 90], [1, 2, 1, 1, 2, 1, 0])
    text = report.incidence_sentence(ci, "neutrophil recovery", "death", (30, 60, 100))
    lo30, hi30 = ci.interval_at(30)
    assert text.startswith("4 of 7 patients had neutrophil recovery and 2 had death first "
                           "(death as a competing event). Cumulative incidence of neutrophil recovery by day 30: "
                           f"29% (95% CI {report.interval(lo30, hi30)}); by day 60: 43% (95% CI ")
    assert "by day 100: not estimable (no patient observed that long)." in text
    assert text.endswith("Median time to neutrophil recovery (the day its cumulative incidence reaches 50%): "
                         f"70 days (95% CI {ci.median_ci_lower:g} days to not reached).")
    assert "effect" not in text and "Kaplan" not in text


def test_incidence_sentence_when_the_median_is_not_reached_or_the_band_undefined() -> None:
    from analysis.engine.survival import aalen_johansen

    ci = aalen_johansen([5, 8, 30], [2, 1, 0])
    text = report.incidence_sentence(ci, "recovery", "death", (6,))
    assert "by day 6: 0% (95% CI not defined there)" in text
    assert text.endswith("Median time to recovery: not reached (its cumulative incidence stays below 50%).")


def test_a_harm_reads_as_a_proportion_with_the_harm_and_no_words_of_effect() -> None:
    """SYNTHETIC acute GVHD counts: the headline speaks of a proportion, never of a response or an effect."""
    rows = pd.DataFrame({"study_id": ["synth0", "synth1", "synth2"], "events": [1, 0, 2], "total": [14, 41, 9]})
    res = metaprop([1, 0, 2], [14, 41, 9], labels=list(rows["study_id"]), method="GLMM", ci="t")
    synth = OutcomeSynthesis("agvhd", "Acute graft-versus-host disease", "secondary", rows, res, "pooled", "")
    texts = [report.headline(synth), report.pooled_words(res), report.heterogeneity(res)]
    single = _synth([0], [5], pooled=False)
    texts.append(report.headline(single))
    for text in texts:
        assert not re.search(r"respon|effect|too inconsistent", text, re.IGNORECASE), text
    assert report.headline(synth).startswith("Pooled proportion (the median of the studies' true proportions) ")
