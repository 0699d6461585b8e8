"""Rules for few or conflicting studies (SYNTHETIC counts; I² interval against metafor 3.8-1)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import beta

from analysis.engine.metaprop import metaprop
from analysis.evidence.fewstudies import DISPLAYS, FewStudyRules, exact_studies, i2_interval
from analysis.evidence.pipeline import (
    Plan,
    sensitivity_methods,
    sensitivity_subsets,
    split_excluded,
    synthesis_of,
)

PRIMARY = {"measure": "PLO", "method": "REML", "ci": "hksj_adhoc", "pi": "t", "level": 0.95}


def _rows(events: list[int], totals: list[int], designs: list[str] | None = None) -> pd.DataFrame:
    k = len(events)
    return pd.DataFrame({"study_id": [f"synth{i}" for i in range(k)], "events": events, "total": totals,
                         "design": designs or ["case_series"] * k, "confidence": ["verified_fulltext"] * k})


def _plan(**changes: object) -> Plan:
    raw = {"evidence_sets": {"review": {}}, "primary": PRIMARY,
           "sensitivity": {"methods": [{"label": "DL", "method": "DL", "ci": "z"}]}, **changes}
    return Plan.from_dict(raw)


def _synth(events: list[int], totals: list[int], plan: Plan | None = None, outcome: str = "x"):
    return synthesis_of(outcome, {"label": "X"}, _rows(events, totals), plan or _plan())


# ------------------------------------------------------------------ k = 0, 1, 2, 3
def test_no_study() -> None:
    s = _synth([], [])
    assert (s.display, s.result, s.k) == ("none", None, 0)
    assert s.to_dict()["k"] == 0 and "result" not in s.to_dict()


def test_one_study_is_its_own_exact_proportion_without_a_model() -> None:
    s = _synth([12], [12])
    assert (s.display, s.result, s.pooled) == ("single", None, False)
    study = s.studies.iloc[0]
    assert (study["proportion"], study["ci_upper"]) == (1.0, 1.0)  # no continuity correction: 12/12 is 100%
    assert math.isclose(study["ci_lower"], beta.ppf(0.025, 12, 1), rel_tol=1e-12)  # 0.735 (exact)
    rec = s.to_dict()["result"]
    assert (rec["estimate"], rec["ci_upper"], rec["method"]) == (1.0, 1.0, "single study")


def test_two_studies_side_by_side() -> None:
    s = _synth([12, 26], [12, 31])
    assert (s.display, s.result) == ("side_by_side", None)
    assert "fewer than the 3" in s.reason
    assert [r["events"] for r in s.to_dict()["study_results"]] == [12, 26]


def test_three_agreeing_studies_are_pooled() -> None:
    s = _synth([12, 26, 4], [12, 31, 5])
    assert s.display == "pooled"
    direct = metaprop([12, 26, 4], [12, 31, 5], **PRIMARY)
    assert math.isclose(s.result.estimate, direct.estimate, rel_tol=1e-12)


def test_min_studies_to_pool_two_pools_two() -> None:
    assert _synth([12, 26], [12, 31], _plan(min_studies_to_pool=2)).display == "pooled"


# ------------------------------------------------------------------ conflict and uninformative intervals
def test_non_overlapping_exact_intervals_conflict() -> None:
    s = _synth([20, 19, 1], [20, 20, 20])  # 100% and 95% against 5%
    assert s.display == "side_by_side"
    assert "synth2" in s.reason and "do not overlap" in s.reason


def test_do_not_pool_is_a_clinical_judgement_with_its_reason() -> None:
    plan = _plan(few_studies={"do_not_pool": {"x": "different products"}})
    s = _synth([5, 4, 6], [10, 10, 10], plan)
    assert (s.display, s.reason) == ("side_by_side", "not pooled by the plan: different products")
    assert _synth([5, 4, 6], [10, 10, 10], plan, outcome="y").display == "pooled"


def test_i2_lower_bound_above_the_threshold_conflicts() -> None:
    events, totals = [12, 7, 9, 30, 3], [15, 11, 10, 40, 20]
    no_overlap_rule = {"conflict": {"nonoverlapping_study_cis": False, "i2_lower_above": 40}}
    s = _synth(events, totals, _plan(few_studies=no_overlap_rule))
    assert s.display == "side_by_side" and "lower confidence bound of I² is 45%" in s.reason
    relaxed = {"conflict": {"nonoverlapping_study_cis": False, "i2_lower_above": 50}}
    assert _synth(events, totals, _plan(few_studies=relaxed)).display == "pooled"


def test_i2_interval_matches_metafor() -> None:
    """metafor 3.8-1: confint(rma(escalc('PLO', xi, ni), method='REML')) I^2 bounds 45.36636, 98.00246."""
    res = metaprop([12, 7, 9, 30, 3], [15, 11, 10, 40, 20], method="REML", ci="z")
    lo, hi = i2_interval(res)
    assert math.isclose(res.i2, 81.7657294798, abs_tol=1e-5)
    assert math.isclose(lo, 45.3663587487, abs_tol=1e-3)
    assert math.isclose(hi, 98.0024560732, abs_tol=1e-3)
    assert lo <= res.i2 <= hi


def test_uninformative_pooled_interval_is_not_a_headline() -> None:
    plan = _plan(min_studies_to_pool=2, few_studies={"conflict": {"nonoverlapping_study_cis": False,
                                                                   "i2_lower_above": None}})
    s = _synth([5, 0], [5, 3], plan)  # 5/5 and 0/3: the pooled CI runs from 0% to 100%
    fit = metaprop([5, 0], [5, 3], **PRIMARY)
    assert fit.ci_lower < 0.005 and fit.ci_upper > 0.995
    assert s.display == "side_by_side" and "carries no information" in s.reason
    off = _plan(min_studies_to_pool=2, few_studies={"uninformative": None,
                                                    "conflict": {"nonoverlapping_study_cis": False}})
    assert _synth([5, 0], [5, 3], off).display == "pooled"


# ------------------------------------------------------------------ case reports
def test_case_reports_leave_the_primary_analysis_and_come_back_in_a_sensitivity_analysis() -> None:
    plan = _plan(primary_excludes={"design": ["case_report"]})
    rows = _rows([12, 26, 4, 1], [12, 31, 5, 1], ["case_series", "case_series", "case_series", "case_report"])
    kept, excluded = split_excluded(rows, plan)
    assert kept["events"].tolist() == [12, 26, 4] and excluded["events"].tolist() == [1]
    table = sensitivity_subsets(kept, plan, excluded)
    assert table["k"].tolist() == [3, 4]
    assert table["analysis"].iloc[1].startswith("Including the studies the primary analysis leaves out (design: case report)")
    both = metaprop([12, 26, 4, 1], [12, 31, 5, 1], **PRIMARY)
    assert math.isclose(table["estimate"].iloc[1], both.estimate, rel_tol=1e-12)


def test_sensitivity_of_a_single_study_has_no_model_rows() -> None:
    plan = _plan()
    methods = sensitivity_methods(_rows([12], [12]), plan)
    assert len(methods) == 1 and methods["estimate"].iloc[0] == 1.0 and methods["ci_upper"].iloc[0] == 1.0
    assert "no model" in methods["notes"].iloc[0]
    two = sensitivity_methods(_rows([12, 5], [12, 5]), plan)
    assert len(two) == 1 and "estimate" not in two.columns


# ------------------------------------------------------------------ plan errors
@pytest.mark.parametrize(("section", "message"), [
    ({"typo": 1}, "few_studies: unknown key"),
    ({"conflict": {"i2": 3}}, "few_studies.conflict: unknown key"),
    ({"uninformative": {"lower": 0.9, "upper": 0.1}}, "need 0 <= lower < upper <= 1"),
    ({"do_not_pool": {"x": " "}}, "map each outcome id to the reason"),
    ({"min_studies_prediction": 2}, "min_studies_prediction must be a whole number >= 3"),
])
def test_bad_rules_are_named(section: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FewStudyRules.from_plan({"few_studies": section})


# ------------------------------------------------------------------ properties
counts = st.lists(st.tuples(st.integers(0, 40), st.integers(1, 40)), min_size=0, max_size=7).map(
    lambda pairs: [(min(x, n), n) for x, n in pairs])


@settings(max_examples=60, deadline=None)
@given(counts)
def test_display_properties(pairs: list) -> None:
    """Whatever the counts: one study is never modelled, fewer than three are never pooled, and a pooled
    headline never runs from 0% to 100%; every study keeps its exact interval."""
    events, totals = [x for x, _ in pairs], [n for _, n in pairs]
    s = _synth(events, totals)
    assert s.display in DISPLAYS
    assert (s.result is not None) == (s.display == "pooled")
    if s.k <= 1:
        assert s.display == ("none" if s.k == 0 else "single")
    if s.k == 2:
        assert s.display == "side_by_side"
    if s.pooled:
        assert s.k >= 3
        assert not (s.result.ci_lower < 0.005 and s.result.ci_upper > 0.995)
    table = exact_studies(_rows(events, totals))
    for row in table.itertuples():
        assert row.ci_lower <= row.proportion <= row.ci_upper
    record = s.to_dict()
    if s.display == "single":
        assert record["result"]["estimate"] == events[0] / totals[0]


def test_the_plan_s_minima_for_heterogeneity_and_the_prediction_interval_reach_the_headline() -> None:
    from analysis.book import report

    events, totals = [12, 7, 9], [15, 11, 10]
    default = report.headline(_synth(events, totals))  # the default plan: heterogeneity from five studies
    assert "PI" not in default and "I² = " not in default
    assert "heterogeneity cannot be estimated from three studies (at least five needed)" in default
    loose = _plan(few_studies={"min_studies_heterogeneity": 3})
    text = report.headline(_synth(events, totals, loose))
    assert "95% PI" in text and "I² = " in text
    older = _plan(few_studies={"min_studies_i2": 3})  # a plan written before 2026-12-07
    assert report.headline(_synth(events, totals, older)) == text
    strict = _plan(few_studies={"min_studies_heterogeneity": 3, "min_studies_prediction": 4})
    text = report.headline(_synth(events, totals, strict))
    assert "no prediction interval: fewer than four studies" in text and "I² = " in text


def test_heterogeneity_threshold_is_named_once() -> None:
    with pytest.raises(ValueError, match="give min_studies_heterogeneity only"):
        FewStudyRules.from_plan({"few_studies": {"min_studies_heterogeneity": 5, "min_studies_i2": 3}})
    with pytest.raises(ValueError, match=r"few_studies\.min_studies_heterogeneity must be a whole number >= 2"):
        FewStudyRules.from_plan({"few_studies": {"min_studies_heterogeneity": 1}})
    rules = FewStudyRules.from_plan({"few_studies": {"min_studies_heterogeneity": 5, "min_studies_prediction": 3}})
    assert [rules.heterogeneity_estimable(k) for k in (3, 4, 5)] == [False, False, True]
    assert [rules.prediction_shown(k) for k in (3, 5)] == [False, True]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["strict", "loose", "any"]), st.integers(0, 20), st.integers(1, 20),
                          st.sampled_from(["case_series", "case_report"])), min_size=0, max_size=12))
def test_synthesise_with_hierarchy_and_case_reports(records: list) -> None:
    """SYNTHETIC studies, each with a design and some candidate rows: the composite outcome holds one row per
    study that has a candidate, case reports only among the excluded rows, and the display follows k."""
    from analysis.evidence.pipeline import synthesise

    studies, outcomes = [], []
    for i, (outcome, x, n, design) in enumerate(records):
        sid = f"synth{i // 2}"  # two candidate rows per study at most
        if not studies or studies[-1]["study_id"] != sid:
            studies.append({"study_id": sid, "status": "included", "design": design})
        if not any(o["study_id"] == sid and o["outcome"] == outcome for o in outcomes):
            outcomes.append({"study_id": sid, "outcome": outcome, "events": min(x, n), "total": n,
                             "confidence": "verified_fulltext"})
    study_table = pd.DataFrame(studies, columns=["study_id", "status", "design"])
    outcome_table = pd.DataFrame(outcomes, columns=["study_id", "outcome", "events", "total", "confidence"])
    vocabulary = {"primary": {"label": "P", "role": "primary"}, "strict": {}, "loose": {}, "any": {}}
    plan = _plan(evidence_sets={"review": {"where": {"status": "included"}}},
                 outcome_hierarchy={"primary": {"prefer": ["strict", "loose", "any"]}},
                 primary_excludes={"design": ["case_report"]})
    synth = synthesise(study_table, outcome_table, vocabulary, plan)["primary"]
    with_rows = set(outcome_table["study_id"])
    reports = set(study_table.loc[study_table["design"] == "case_report", "study_id"])
    assert set(synth.rows["study_id"]) == with_rows - reports
    assert set(synth.excluded["study_id"]) == with_rows & reports
    assert synth.rows["study_id"].is_unique
    for _, row in synth.rows.iterrows():  # the preferred outcome of the study was chosen
        mine = outcome_table.loc[outcome_table["study_id"] == row["study_id"], "outcome"].tolist()
        assert row["selected_from"] == next(o for o in ["strict", "loose", "any"] if o in mine)
    expected = {0: "none", 1: "single", 2: "side_by_side"}.get(synth.k)
    if expected:
        assert synth.display == expected
    assert (synth.result is None) == (not synth.pooled)


def test_one_study_reads_as_its_own_proportion() -> None:
    s = _synth([12], [12])
    assert s.display == "single"
    assert s.reason == "one study: shown as its own proportion with its exact confidence interval"
    assert "inconsistent" not in s.reason
