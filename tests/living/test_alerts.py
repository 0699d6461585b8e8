"""Whether the answer changed (:mod:`analysis.living.alerts`).

The payloads are SYNTHETIC, shaped like a review's results (``outcomes`` records with ``evidence_set``,
``subgroup``, ``role``, ``pooled``, ``display``, ``certainty`` and ``result``); each rule is checked on a pair of
versions written so that it must fire, and on one where it must not.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from analysis.living.alerts import CHANGED, FIRST, UNCHANGED, AlertRules, Rule, evaluate

ROOT = Path(__file__).resolve().parents[2]

RULES = AlertRules.from_plan({"alerts": {"evidence_set": "review", "rules": [
    {"id": "primary_certainty", "when": "certainty_changes", "outcomes": "primary"},
    {"id": "primary_lower_bound", "when": "lower_bound_crosses", "outcomes": "primary", "threshold": 0.5},
    {"id": "estimate_moves", "when": "estimate_moves", "outcomes": "all", "points": 0.10},
    {"id": "pooled_gained_or_lost", "when": "pooled_changes", "outcomes": "all"},
]}})


def _record(outcome: str, estimate: float | None, lower: float | None = None, upper: float | None = None, *,
            role: str = "secondary", pooled: bool = True, certainty: str | None = "low",
            evidence_set: str = "review", subgroup: str = "all") -> dict[str, Any]:
    record: dict[str, Any] = {"evidence_set": evidence_set, "subgroup": subgroup, "outcome": outcome,
                              "label": f"Synthetic {outcome}", "role": role, "pooled": pooled,
                              "display": "pooled" if pooled else ("single" if estimate is not None else "side_by_side"),
                              "certainty": certainty}
    if estimate is not None:
        record["result"] = {"estimate": estimate, "ci_lower": lower, "ci_upper": upper}
    return record


OLD = {"outcomes": [  # SYNTHETIC
    _record("resp", 0.88, 0.52, 0.98, role="primary", certainty="very low"),
    _record("harm", 0.20, 0.10, 0.35),
    _record("other", None, pooled=False),
    _record("resp", 0.95, 0.40, 1.0, role="primary", subgroup="source=auto"),
    _record("resp", 0.70, 0.60, 0.80, role="primary", evidence_set="context"),
]}


def _with(outcome: str, **fields: Any) -> dict[str, Any]:
    new = copy.deepcopy(OLD)
    record = next(r for r in new["outcomes"] if r["outcome"] == outcome and r["subgroup"] == "all"
                  and r["evidence_set"] == "review")
    for key, value in fields.items():
        if key in ("estimate", "ci_lower", "ci_upper"):
            record.setdefault("result", {})[key] = value
        else:
            record[key] = value
    return new


def test_nothing_fires_when_nothing_moved_enough() -> None:
    new = _with("resp", estimate=0.86, ci_lower=0.51)
    answer = evaluate(RULES, OLD, new, "26.0.0")
    assert answer.changed is False and answer.fired == () and answer.headline() == UNCHANGED
    assert answer.sentence() == (
        "No change to the answer since 26.0.0 (no decision rule of the plan fired). Synthetic resp: 88% (95% CI "
        "52% to 98%) → 86% (95% CI 51% to 98%).")


def test_certainty_of_the_primary() -> None:
    answer = evaluate(RULES, OLD, _with("resp", certainty="low"), "26.0.0")
    assert answer.fired == ("primary_certainty",)
    assert answer.sentence() == ("The answer changed since 26.0.0: the certainty of the evidence on synthetic resp "
                                 "changed from very low to low.")
    assert evaluate(RULES, OLD, _with("harm", certainty="moderate"), "26.0.0").changed is False  # not the primary


@pytest.mark.parametrize(("lower", "fires"), [(0.49, True), (0.50, False), (0.55, False), (0.499999, True)])
def test_lower_bound_crossing_the_threshold(lower: float, fires: bool) -> None:
    answer = evaluate(RULES, OLD, _with("resp", ci_lower=lower), "26.0.0")
    assert ("primary_lower_bound" in answer.fired) is fires
    back = evaluate(RULES, _with("resp", ci_lower=lower), OLD, "26.0.0")  # and back up
    assert ("primary_lower_bound" in back.fired) is fires
    if fires:
        assert "the lower bound of the 95% CI of synthetic resp fell below 50% (52% → 49%)" in answer.sentence() \
            or "fell below 50% (52% → 50%)" in answer.sentence()


@pytest.mark.parametrize(("estimate", "fires"), [(0.30, True), (0.29999, False), (0.10, True), (0.11, False)])
def test_a_pooled_estimate_moving_ten_points(estimate: float, fires: bool) -> None:
    answer = evaluate(RULES, OLD, _with("harm", estimate=estimate), "26.0.0")
    assert ("estimate_moves" in answer.fired) is fires


def test_gaining_or_losing_a_pooled_estimate() -> None:
    lost = evaluate(RULES, OLD, _with("harm", pooled=False, display="side_by_side", result=None), "26.0.0")
    assert lost.fired == ("pooled_gained_or_lost",)
    assert lost.alerts[0].sentence == ("Synthetic harm lost its pooled estimate: 20% (95% CI 10% to 35%) before, "
                                       "not pooled now")
    gained = evaluate(RULES, _with("harm", pooled=False, display="side_by_side", result=None), OLD, "26.0.0")
    assert gained.fired == ("pooled_gained_or_lost",) and "gained a pooled estimate" in gained.sentence()
    new = copy.deepcopy(OLD)
    new["outcomes"].append(_record("fresh", 0.5, 0.3, 0.7))
    assert evaluate(RULES, OLD, new, "26.0.0").alerts[0].sentence.startswith("Synthetic fresh gained a pooled")


def test_subgroups_and_other_evidence_sets_are_not_compared() -> None:
    new = copy.deepcopy(OLD)
    new["outcomes"][3]["result"]["estimate"] = 0.10  # a subgroup
    new["outcomes"][4]["result"]["estimate"] = 0.10  # the context set
    assert evaluate(RULES, OLD, new, "26.0.0").changed is False


def test_first_version_and_no_rules() -> None:
    first = evaluate(RULES, None, OLD, None)
    assert first.changed is None and first.headline() == FIRST
    none = evaluate(None, OLD, _with("resp", estimate=0.1), "26.0.0")
    assert none.changed is None and none.headline() == "No decision rules in the plan"


def test_several_rules_fire_in_the_plan_order_and_round_trip() -> None:
    answer = evaluate(RULES, OLD, _with("resp", estimate=0.70, ci_lower=0.45, certainty="low"), "26.0.0")
    assert answer.fired == ("primary_certainty", "primary_lower_bound", "estimate_moves")
    assert answer.headline() == CHANGED
    record = answer.to_dict()
    assert record["changed"] is True and record["fired"] == list(answer.fired)
    assert record["rules"][1] == {"id": "primary_lower_bound", "when": "lower_bound_crosses", "outcomes": "primary",
                                  "threshold": 0.5}


@pytest.mark.parametrize(("section", "message"), [
    ({"rules": [{"id": "a", "when": "sometimes"}]}, r"rules\[0\] \(a\): when 'sometimes' is not one of"),
    ({"rules": [{"id": "a", "when": "estimate_moves"}]}, r"points must be a proportion between 0 and 1, got None"),
    ({"rules": [{"id": "a", "when": "estimate_moves", "points": 10}]}, r"points must be a proportion"),
    ({"rules": [{"id": "a", "when": "pooled_changes", "threshold": 0.5}]}, r"unknown key\(s\) threshold"),
    ({"rules": [{"id": "a", "when": "pooled_changes", "outcomes": "some"}]}, r"outcomes 'some' is not one of"),
    ({"rules": [{"id": "a", "when": "pooled_changes"}] * 2}, r"ids repeat"),
    ({"rules": []}, r"alerts\.rules is empty"),
    ({"rules": [], "extra": 1}, r"unknown key\(s\) extra"),
])
def test_bad_rules_are_named(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AlertRules.from_plan({"alerts": section})


def test_rules_in_words() -> None:
    assert RULES.describe() == (
        "The answer counts as changed when the certainty of the evidence on the primary outcome changes; the lower "
        "bound of the 95% confidence interval of the primary outcome crosses 50%; a pooled estimate moves by 10 "
        "percentage points or more; or an outcome gains or loses a pooled estimate (plan section alerts).")
    assert Rule("x", "estimate_moves", "primary", points=0.05).describe() == (
        "the pooled estimate of the primary outcome moves by 5 percentage points or more")


def test_the_review_plan_has_the_four_rules() -> None:
    raw = yaml.safe_load((ROOT / "data" / "analysis_plan.yaml").read_text(encoding="utf-8"))
    rules = AlertRules.from_plan(raw)
    assert rules is not None and rules.evidence_set in raw["evidence_sets"]
    assert [r.when for r in rules.rules] == ["certainty_changes", "lower_bound_crosses", "estimate_moves",
                                             "pooled_changes"]


def test_a_credible_interval_is_named_as_such() -> None:
    # SYNTHETIC: the new version's primary is Bayesian (result.ci "credible"), the old one's was not
    new = _with("resp", estimate=0.86, ci_lower=0.49)
    next(r for r in new["outcomes"] if r["outcome"] == "resp" and r["subgroup"] == "all"
         and r["evidence_set"] == "review")["result"]["ci"] = "credible"
    answer = evaluate(RULES, OLD, new, "26.0.0")
    assert answer.primary_move == "Synthetic resp: 88% (95% CI 52% to 98%) → 86% (95% CrI 49% to 98%)"
    assert "the lower bound of the 95% CrI of synthetic resp fell below 50% (52% → 49%)" in answer.sentence()
