"""The robustness panel (:mod:`analysis.evidence.multiverse`).

The study, outcome, overlap and alternative-reading tables of the first part are SYNTHETIC (ids ``synth...``),
built so that the rows of every specification can be written down by hand; every pooled number is compared
with :func:`analysis.metaprop` called directly on those rows. The last part runs the panel of the review's
real primary outcome and checks each of its numbers against ``metaprop`` run by hand on the same rows.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis import metaprop
from analysis.engine.simulation import ENGINE_SETTINGS
from analysis.evidence.fewstudies import exact_studies, judge
from analysis.evidence.multiverse import (
    PANEL_COLUMNS,
    RobustnessPlan,
    alternative_sets,
    overlap_sets,
    run_panel,
    short_labels,
    specifications,
)
from analysis.evidence.pipeline import Plan

ROOT = Path(__file__).resolve().parents[2]

# SYNTHETIC studies of one evidence set: five series, one single-patient report, one indirect population, one
# study outside the primary (status other) that an overlap swap may bring in.
STUDIES = pd.DataFrame({
    "study_id": ["synthsa", "synthsb", "synthsc", "synthsd", "synthcr", "synthin", "synthov"],
    "status": ["included"] * 6 + ["awaiting_data"],
    "evidence": ["post"] * 7,
    "design": ["case_series"] * 4 + ["case_report", "case_series", "case_series"],
    "population": ["direct"] * 5 + ["indirect", "direct"],
    "publication_date": ["2020-01-01", "2020-02-01", "2021-01-01", "2022-01-01", "2022-06-01", "2023-01-01",
                         "2024-01-01"],
})
# SYNTHETIC counts: "resp" is selected by a hierarchy (strict first, then loose); "harm" is recorded directly.
OUTCOMES = pd.DataFrame.from_records([
    ("synthsa", "strict", 18, 20), ("synthsa", "loose", 19, 20),
    ("synthsb", "loose", 25, 30),
    ("synthsc", "strict", 9, 12),
    ("synthsd", "loose", 40, 44),
    ("synthcr", "strict", 1, 1),
    ("synthin", "loose", 6, 10),
    ("synthov", "loose", 10, 15),
    ("synthsa", "harm", 2, 20), ("synthsb", "harm", 3, 30), ("synthsd", "harm", 5, 44),
    ("synthin", "harm", 1, 10),
], columns=["study_id", "outcome", "events", "total"])
OUTCOMES["label"] = OUTCOMES["study_id"].str.replace("synth", "Synth ")
VOCABULARY = {o: {"label": o.capitalize(), "role": "secondary"} for o in ("resp", "strict", "loose", "harm")}
LABELS = dict(zip(STUDIES["study_id"], STUDIES["study_id"].str.replace("synth", "Synth "), strict=True))

CANDIDATES = ["GLMM-t", "REML-HKSJ-adhoc", "DL-z"]
RAW: dict[str, Any] = {
    "evidence_sets": {"review": {"label": "synthetic", "where": {"status": "included", "evidence": "post"}}},
    "primary": {"measure": "PLO", "method": "GLMM", "ci": "t", "pi": "t", "level": 0.95},
    "outcome_hierarchy": {"resp": {"prefer": ["strict", "loose"]}},
    "primary_excludes": {"design": ["case_report"]},
    "robustness": {
        "methods": "simulation_candidates",
        "inclusion_sets": [
            {"id": "primary", "label": "The plan's studies"},
            {"id": "without_indirect", "label": "Without indirect populations", "drop_where": {"population": ["indirect"]}},
            {"id": "without_sc", "label": "Without synth sc", "drop_studies": {"synthsc": "a SYNTHETIC reason"}},
            {"id": "with_case_reports", "label": "With single-patient reports", "restore_excluded": True},
        ],
        "overlap_swaps": True,
        "alternative_readings": True,
        "outcome_definitions": ["hierarchy", "strict"],
    },
}
# SYNTHETIC judgements and readings.
OVERLAP = pd.DataFrame({"study_a": ["synthsd", "synthsa"], "study_b": ["synthov", "synthsb"],
                        "overlap": ["likely", "unlikely"], "primary_keeps": ["synthsd", "synthsa"],
                        "swap_in": ["synthov", ""], "reason": ["same centre", "different countries"]})
ALTERNATIVES = pd.DataFrame({"study_id": ["synthsc"], "outcome": ["strict"], "reading": ["seven_of_twelve"],
                             "label": ["seven of twelve"], "events": ["7"], "total": ["12"],
                             "reason": ["SYNTHETIC"], "quote": ["SYNTHETIC"], "source": ["SYNTHETIC"]})


def _panel(outcome: str, raw: dict[str, Any] | None = None, **kw: Any) -> tuple[list, pd.DataFrame, Plan]:
    raw = raw or RAW
    plan = Plan.from_dict(raw)
    rplan = RobustnessPlan.from_plan(raw, plan, CANDIDATES)
    known = list(STUDIES["study_id"])
    extra = [*overlap_sets(kw.get("overlap", OVERLAP), LABELS, known),
             *alternative_sets(kw.get("alternatives", ALTERNATIVES), LABELS, known, list(VOCABULARY))]
    selected = STUDIES.loc[STUDIES["status"] == "included"]
    specs = specifications(outcome, selected, STUDIES, OUTCOMES, plan, rplan, VOCABULARY, extra)
    return specs, run_panel(specs, plan), plan


def _rows(spec: Any) -> list[tuple[str, int, int]]:
    return sorted(zip(spec.rows["study_id"], spec.rows["events"].astype(int), spec.rows["total"].astype(int),
                      strict=True))


def test_dimensions_multiply_and_the_plan_analysis_is_there_once() -> None:
    specs, panel, _ = _panel("resp")
    sets = {s.inclusion.id for s in specs}
    assert sets == {"primary", "without_indirect", "without_sc", "with_case_reports", "swap:synthsd:synthov",
                    "reading:synthsc:strict:seven_of_twelve"}
    assert len(specs) == len(CANDIDATES) * len(sets) * 2 == len(panel)
    assert list(panel.columns) == list(PANEL_COLUMNS)
    (plan_row,) = panel.loc[panel["plan"]].to_dict("records")
    assert (plan_row["method"], plan_row["inclusion"], plan_row["definition"]) == ("GLMM-t", "primary", "hierarchy")


def test_rows_of_each_inclusion_set_and_definition_written_by_hand() -> None:
    specs, _, _ = _panel("resp")
    rows = {(s.inclusion.id, s.definition.id): _rows(s) for s in specs if s.method.id == "GLMM-t"}
    plan_rows = [("synthin", 6, 10), ("synthsa", 18, 20), ("synthsb", 25, 30), ("synthsc", 9, 12),
                 ("synthsd", 40, 44)]
    assert rows[("primary", "hierarchy")] == plan_rows
    assert rows[("without_indirect", "hierarchy")] == [r for r in plan_rows if r[0] != "synthin"]
    assert rows[("without_sc", "hierarchy")] == [r for r in plan_rows if r[0] != "synthsc"]
    assert rows[("with_case_reports", "hierarchy")] == sorted([*plan_rows, ("synthcr", 1, 1)])
    assert rows[("swap:synthsd:synthov", "hierarchy")] == sorted(
        [*(r for r in plan_rows if r[0] != "synthsd"), ("synthov", 10, 15)])
    assert rows[("reading:synthsc:strict:seven_of_twelve", "hierarchy")] == [
        ("synthsc", 7, 12) if r[0] == "synthsc" else r for r in plan_rows]
    # strict definition: only the studies that report the strictest level
    assert rows[("primary", "strict")] == [("synthsa", 18, 20), ("synthsc", 9, 12)]
    assert rows[("with_case_reports", "strict")] == [("synthcr", 1, 1), ("synthsa", 18, 20), ("synthsc", 9, 12)]
    assert rows[("swap:synthsd:synthov", "strict")] == rows[("primary", "strict")]  # synthsd is not there


def test_every_pooled_number_is_metaprop_on_the_same_rows() -> None:
    specs, panel, _ = _panel("resp")
    checked = 0
    for spec, row in zip(specs, panel.to_dict("records"), strict=True):
        if row["display"] != "pooled":
            assert math.isnan(row["estimate"]) and math.isnan(row["ci_lower"]) and math.isnan(row["ci_upper"])
            continue
        res = metaprop(spec.rows["events"].to_numpy(int), spec.rows["total"].to_numpy(int), pi="t", level=0.95,
                       **ENGINE_SETTINGS[row["method"]])
        assert (row["estimate"], row["ci_lower"], row["ci_upper"]) == (res.estimate, res.ci_lower, res.ci_upper)
        assert row["k"] == res.k and row["n"] == res.total_n
        checked += 1
    assert checked >= 12


def test_specifications_the_few_study_rules_do_not_pool_have_no_estimate_and_say_why() -> None:
    specs, panel, plan = _panel("resp")
    for spec, row in zip(specs, panel.to_dict("records"), strict=True):
        studies = exact_studies(spec.rows)
        fit = None
        if len(spec.rows) >= plan.few_studies.min_studies_to_pool:
            fit = metaprop(spec.rows["events"].to_numpy(int), spec.rows["total"].to_numpy(int), pi="t",
                           **ENGINE_SETTINGS[row["method"]])
        assert (row["display"], row["reason"]) == judge("resp", studies, fit, plan.few_studies)
    strict = panel.loc[(panel["definition"] == "strict") & (panel["inclusion"] == "primary")]
    assert set(strict["display"]) == {"side_by_side"} and strict["estimate"].isna().all()


def test_a_set_that_changes_nothing_for_an_outcome_is_left_out() -> None:
    specs, panel, _ = _panel("harm")  # no case report, no reading, synthsc absent: those sets change nothing
    assert {s.inclusion.id for s in specs} == {"primary", "without_indirect", "swap:synthsd:synthov"}
    assert {s.definition.id for s in specs} == {"as_recorded"}
    assert len(panel) == 3 * len(CANDIDATES)


def test_without_the_hierarchy_strict_definition_is_not_offered() -> None:
    raw = {**RAW, "robustness": {**RAW["robustness"], "outcome_definitions": ["hierarchy"]}}
    specs, _, _ = _panel("resp", raw)
    assert {s.definition.id for s in specs} == {"hierarchy"}


def test_sensitivity_methods_and_the_primary_added_when_missing() -> None:
    raw = {**RAW, "sensitivity": {"methods": [{"label": "SYNTHETIC DL", "measure": "PLO", "method": "DL",
                                               "ci": "z", "pi": "t"}]},
           "robustness": {**RAW["robustness"], "methods": "sensitivity_methods"}}
    plan = Plan.from_dict(raw)
    rplan = RobustnessPlan.from_plan(raw, plan)
    assert [m.id for m in rplan.methods] == ["primary", "m1"]  # the plan's own method is always there
    assert rplan.methods[0].options == {"measure": "PLO", "method": "GLMM", "ci": "t", "pi": "t", "level": 0.95}
    assert rplan.methods[1].options["method"] == "DL"


def test_cache_is_asked_once_and_gives_the_same_panel() -> None:
    specs, panel, plan = _panel("resp")
    store: dict[Any, Any] = {}
    calls = []

    def cache(inputs: Any, compute: Any) -> Any:
        calls.append(inputs)
        if inputs not in store:
            store[inputs] = compute()
        return store[inputs]

    first = run_panel(specs, plan, cache=cache)
    second = run_panel(specs, plan, cache=cache)
    pd.testing.assert_frame_equal(first, panel)
    pd.testing.assert_frame_equal(second, panel)
    assert len(calls) == 2 and len(store) == 1


def test_short_labels_of_the_figure() -> None:
    specs, _, _ = _panel("resp")
    short = short_labels(specs)
    assert short[("method", "GLMM-t")] == "GLMM-t"
    assert short[("inclusion", "swap:synthsd:synthov")] == "Synth ov for Synth sd"
    assert short[("inclusion", "reading:synthsc:strict:seven_of_twelve")] == "Synth sc as 7/12"
    assert short[("definition", "strict")] == "Strict only"


# ------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(("change", "message"), [
    ({"study_id": "synthnone"}, r"count_alternatives\.csv: line 2: study_id 'synthnone' is not a study"),
    ({"outcome": "nothing"}, r"line 2: outcome 'nothing' is not an outcome id"),
    ({"events": "seven"}, r"line 2: events: 'seven' is not a whole number of patients"),
    ({"events": "13"}, r"line 2: events 13 and total 12: need 0 <= events <= total"),
    ({"reading": ""}, r"line 2: reading is empty"),
])
def test_bad_alternative_readings_name_file_line_and_field(change: dict[str, str], message: str) -> None:
    table = ALTERNATIVES.assign(**change)
    with pytest.raises(ValueError, match=message):
        alternative_sets(table, LABELS, list(STUDIES["study_id"]), list(VOCABULARY))


def test_a_reading_recorded_twice_is_refused() -> None:
    with pytest.raises(ValueError, match=r"line 3: reading 'seven_of_twelve' of synthsc, strict is recorded twice"):
        alternative_sets(pd.concat([ALTERNATIVES] * 2, ignore_index=True), LABELS, list(STUDIES["study_id"]),
                         list(VOCABULARY))


def test_bad_overlap_rows_are_named() -> None:
    bad = OVERLAP.assign(swap_in=["synthsa", ""])
    with pytest.raises(ValueError, match=r"overlap\.csv: line 2: swap_in 'synthsa' is neither study_a nor study_b"):
        overlap_sets(bad, LABELS, list(STUDIES["study_id"]))
    with pytest.raises(ValueError, match=r"overlap\.csv: column\(s\) swap_in missing"):
        overlap_sets(OVERLAP.drop(columns="swap_in"), LABELS, list(STUDIES["study_id"]))


def test_empty_or_missing_tables_add_no_set() -> None:
    assert overlap_sets(pd.DataFrame(), LABELS, []) == []
    assert alternative_sets(pd.DataFrame(columns=list(ALTERNATIVES.columns)), LABELS, [], []) == []


@pytest.mark.parametrize(("section", "message"), [
    ({"methods": "simulation_candidates", "inclusion_sets": [{"id": "a", "label": "A"}], "extra": 1},
     r"robustness: unknown key\(s\) extra"),
    ({"methods": "simulation_candidates", "inclusion_sets": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]},
     r"exactly one set without a change"),
    ({"methods": "simulation_candidates", "inclusion_sets": [
        {"id": "a", "label": "A"}, {"id": "b", "label": "B", "drop_studies": {"x": "r"}, "restore_excluded": True}]},
     r"inclusion_sets\[1\] \(b\): one change per set"),
    ({"methods": "everything", "inclusion_sets": [{"id": "a", "label": "A"}]}, r"robustness\.methods: 'everything'"),
    ({"methods": "simulation_candidates", "inclusion_sets": [{"id": "a", "label": "A"}],
      "outcome_definitions": ["strict"]}, r"outcome_definitions"),
    ({"methods": "simulation_candidates", "inclusion_sets": [{"id": "a", "label": "A"}], "overlap_swaps": "yes"},
     r"overlap_swaps must be true or false"),
])
def test_bad_robustness_sections_are_named(section: dict[str, Any], message: str) -> None:
    raw = {**RAW, "robustness": section}
    with pytest.raises(ValueError, match=message):
        RobustnessPlan.from_plan(raw, Plan.from_dict(raw), CANDIDATES)


def test_unknown_candidate_method_is_named() -> None:
    with pytest.raises(ValueError, match=r"candidate\(s\) NOT-A-METHOD have no engine settings"):
        RobustnessPlan.from_plan(RAW, Plan.from_dict(RAW), ["GLMM-t", "NOT-A-METHOD"])


def test_a_plan_without_the_section_has_no_panel() -> None:
    raw = {k: v for k, v in RAW.items() if k != "robustness"}
    assert RobustnessPlan.from_plan(raw, Plan.from_dict(raw), CANDIDATES) is None


# ------------------------------------------------------------------------------------------ the review


@pytest.fixture(scope="module")
def review() -> Any:
    from analysis.living.review import LivingReview

    return LivingReview(ROOT)


def test_the_review_panel_equals_metaprop_by_hand_on_the_same_rows(review: Any) -> None:
    """Every pooled specification of the real primary outcome, refitted by hand from the synthesis' rows."""
    outcome = review.primary_outcome
    synth = review.synthesis()[outcome]
    specs = review.robustness_specifications(outcome)
    panel = run_panel(specs, review.plan)
    by_hand = {"primary": synth.rows, "with_case_reports": pd.concat([synth.rows, synth.excluded])}
    for set_ in review.robustness_plan.inclusion_sets:
        if set_.drop_studies:
            by_hand[set_.id] = synth.rows.loc[~synth.rows["study_id"].isin(list(set_.drop_studies))]
    checked = 0
    for spec, row in zip(specs, panel.to_dict("records"), strict=True):
        if row["definition"] != "hierarchy" or row["inclusion"] not in by_hand:
            continue
        rows = by_hand[row["inclusion"]]
        assert sorted(rows["study_id"]) == sorted(spec.rows["study_id"])
        if row["display"] != "pooled":
            assert len(rows) < review.plan.min_studies_to_pool or row["reason"]
            continue
        res = metaprop(rows["events"].to_numpy(int), rows["total"].to_numpy(int), pi="t", level=0.95,
                       **ENGINE_SETTINGS[row["method"]])
        np.testing.assert_allclose([row["estimate"], row["ci_lower"], row["ci_upper"]],
                                   [res.estimate, res.ci_lower, res.ci_upper], rtol=1e-12, atol=1e-14)
        checked += 1
    assert checked >= len(review.robustness_plan.methods)
    (plan_row,) = panel.loc[panel["plan"]].to_dict("records")
    if synth.pooled:
        assert (plan_row["estimate"], plan_row["ci_lower"], plan_row["ci_upper"]) == (
            synth.result.estimate, synth.result.ci_lower, synth.result.ci_upper)
    else:
        assert plan_row["display"] == synth.display


def test_the_review_plan_names_the_simulation_candidates_and_every_kind_of_set(review: Any) -> None:
    rplan = review.robustness_plan
    import yaml

    candidates = yaml.safe_load((ROOT / "data" / "simulation_plan.yaml").read_text(encoding="utf-8"))["candidates"]
    assert [m.id for m in rplan.methods] == candidates
    assert rplan.overlap_swaps and rplan.alternative_readings
    assert {s.id for s in rplan.inclusion_sets} >= {"primary", "without_indirect", "with_case_reports"}
    assert rplan.definitions == ("hierarchy", "strict")
