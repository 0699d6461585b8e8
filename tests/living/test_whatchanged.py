"""Tests of the change log between two versions (analysis.living.whatchanged).

Payloads here are synthetic (made up for the tests; not evidence): two studies, two outcomes.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.living.whatchanged import (
    NO_CHANGE,
    MovedResult,
    Thresholds,
    evidence_log,
    evidence_section,
    results_moved,
    subgroup_words,
    verdict,
)


def result(outcome: str, k: int, n: int, events: int, estimate: float | None, lo: float | None = None,
           hi: float | None = None, *, display: str = "pooled", studies: tuple[str, ...] = ("a", "b"),
           subgroup: str = "all", certainty: str | None = "low", evidence_set: str = "review",
           study_results: list[dict] | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "outcome": outcome, "label": outcome.capitalize(), "k": k, "n": n, "events": events,
        "pooled": display == "pooled", "display": display, "studies": list(studies),
        "evidence_set": evidence_set, "subgroup": subgroup,
    }
    if estimate is not None:
        record["result"] = {"estimate": estimate, "ci_lower": lo, "ci_upper": hi}
    if certainty is not None:
        record["certainty"] = certainty
    if study_results is not None:
        record["study_results"] = study_results
    return record


def payload() -> dict[str, Any]:
    """A synthetic two-study payload with its evidence section."""
    studies = [
        {"study_id": "a", "status": "included", "evidence": "direct", "n_boosted": 5},
        {"study_id": "b", "status": "included", "evidence": "direct", "n_boosted": 3},
    ]
    return {
        "studies": studies,
        "outcomes": [
            result("response", 2, 8, 5, 0.5592, 0.2, 0.85),
            result("gvhd", 1, 5, 4, 0.8, 0.28, 0.99, display="single", studies=("a",)),
        ],
        "evidence": evidence_section(
            counts=[
                {"study_id": "a", "outcome": "response", "events": 4, "total": 5, "confidence": "verified",
                 "source": "https://example.org/a (abstract)"},
                {"study_id": "b", "outcome": "response", "events": 1, "total": 3, "confidence": "verified",
                 "source": "PubMed 1"},
                {"study_id": "a", "outcome": "gvhd", "events": 4, "total": 5, "confidence": "derived",
                 "source": "https://example.org/a"},
            ],
            risk_of_bias=[{"study_id": "a", "tool": "jbi", "item": "Q1", "judgement": "unclear"}],
            certainty=[{"outcome": "response", "domain": "imprecision", "rating": "serious"}],
            amendments=[{"date": "2026-01-01", "section": "primary.ci", "change": "HKSJ",
                         "after_results_seen": False}],
            study_labels={"a": "Li 2023", "b": "Roe 2024"},
            outcome_labels={"response": "Response", "gvhd": "Acute GVHD"},
            code_labels={"status": {"included": "Included", "excluded": "Excluded"},
                         "judgement": {"yes": "Yes", "unclear": "Unclear"}},
        ),
    }


def count_of(p: dict, study: str, outcome: str) -> dict:
    return next(c for c in p["evidence"]["counts"] if c["study_id"] == study and c["outcome"] == outcome)


# ------------------------------------------------------------------ evidence log


def test_nothing_changed_gives_an_empty_log_and_no_moved_result() -> None:
    old, new = payload(), payload()
    assert evidence_log(old, new) == {}
    assert results_moved(old, new) == []
    assert verdict([]) == "No result moved, so no conclusion changed."
    assert NO_CHANGE == "No change to the evidence or the results."


def test_count_corrected_names_study_outcome_old_and_new_count_and_source() -> None:
    old, new = payload(), payload()
    count_of(old, "a", "gvhd")["events"] = 5
    count_of(new, "a", "gvhd")["source"] = "PubMed 37477866 (Results)"
    log = evidence_log(old, new)
    assert log == {"Outcome counts": [
        "Li 2023, acute GVHD: corrected from 5/5 to 4/5 (source: PubMed 37477866 (Results))."]}


def test_count_added_and_removed() -> None:
    old, new = payload(), payload()
    new["evidence"]["counts"].append({"study_id": "b", "outcome": "gvhd", "events": 0, "total": 3,
                                      "source": "PubMed 1"})
    new["evidence"]["counts"] = [c for c in new["evidence"]["counts"]
                                 if (c["study_id"], c["outcome"]) != ("b", "response")]
    assert evidence_log(old, new)["Outcome counts"] == [
        "Roe 2024, acute GVHD: new count 0/3 (source: PubMed 1).",
        "Roe 2024, response: count removed (was 1/3).",
    ]


def test_confidence_upgraded_without_a_new_count() -> None:
    old, new = payload(), payload()
    count_of(new, "a", "gvhd")["confidence"] = "verified"
    (sentence,) = evidence_log(old, new)["Outcome counts"]
    assert sentence == "Li 2023, acute GVHD: 4/5 now verified (was derived) (source: https://example.org/a)."


def test_study_added() -> None:
    old, new = payload(), payload()
    new["studies"].append({"study_id": "c", "status": "included", "evidence": "direct"})
    new["evidence"]["labels"]["studies"]["c"] = "Doe 2025"
    assert evidence_log(old, new)["Studies"] == ["Doe 2025: added (included; direct)."]


def test_study_excluded_gives_old_and_new_status_and_reason() -> None:
    old, new = payload(), payload()
    new["studies"][1].update(status="excluded", exclusion_reason="overlapping cohort")
    assert evidence_log(old, new)["Studies"] == [
        "Roe 2024: status changed from included to excluded (reason: overlapping cohort)."]


def test_study_removed_and_details_updated() -> None:
    old, new = payload(), payload()
    new["studies"] = [new["studies"][0]]
    new["studies"][0]["n_boosted"] = 6
    assert evidence_log(old, new)["Studies"] == [
        "Li 2023: details updated (n boosted).",
        "Roe 2024: removed from the review (was included; direct).",
    ]


def test_fields_are_named_by_their_titles_when_the_payload_carries_them() -> None:
    old, new = payload(), payload()
    new["studies"][0]["n_boosted"] = 6
    new["studies"][1].update(status="excluded", exclusion_reason="overlapping cohort")
    for side in (old, new):
        side["evidence"]["labels"]["fields"] = {"n_boosted": "Patients boosted", "status": "Status in the review"}
    assert evidence_log(old, new)["Studies"] == [
        "Li 2023: details updated (patients boosted).",
        "Roe 2024: status in the review changed from included to excluded (reason: overlapping cohort).",
    ]


def test_risk_of_bias_judgement_changed_and_item_added() -> None:
    old, new = payload(), payload()
    new["evidence"]["risk_of_bias"][0]["judgement"] = "yes"
    new["evidence"]["risk_of_bias"] += [{"study_id": "b", "tool": "jbi", "item": q, "judgement": "yes"}
                                        for q in ("Q1", "Q2")]
    assert evidence_log(old, new)["Risk of bias"] == [
        "Li 2023, risk of bias (jbi, item Q1): judgement changed from unclear to yes.",
        "Roe 2024: risk of bias assessed with jbi (2 new items).",
    ]


def test_certainty_judgement_changed() -> None:
    old, new = payload(), payload()
    new["evidence"]["certainty"][0]["rating"] = "very_serious"
    assert evidence_log(old, new)["Certainty of the evidence"] == [
        "Response, imprecision: concern changed from serious to very serious."]


def test_protocol_amendment_of_this_version_with_its_timing() -> None:
    old, new = payload(), payload()
    new["evidence"]["amendments"].append({"date": "2026-03-02", "section": "subgroups", "change": "Age added.",
                                          "after_results_seen": True})
    assert evidence_log(old, new)["Analysis plan"] == [
        "Amendment of 2026-03-02 to subgroups: Age added. Made after results had been seen."]


def test_older_payload_without_evidence_section_is_said_not_compared() -> None:
    old, new = payload(), payload()
    del old["evidence"]
    assert list(evidence_log(old, new)) == ["Not compared"]
    del new["evidence"]
    assert evidence_log(old, new) == {}


# ------------------------------------------------------------------ results that moved


def test_corrected_count_moves_the_result_and_says_why() -> None:
    old, new = payload(), payload()
    count_of(old, "a", "response")["events"] = 5
    old["outcomes"][0] = result("response", 2, 8, 6, 0.6412, 0.25, 0.9)
    (moved,) = results_moved(old, new)
    assert moved.before == "64% (95% CI 25% to 90%); 2 studies, 8 patients"
    assert moved.after == "56% (95% CI 20% to 85%); 2 studies, 8 patients"
    assert moved.why == ("Li 2023: count corrected from 5/5 to 4/5",)
    assert moved.sentence() == (
        "Response: 64% (95% CI 25% to 90%); 2 studies, 8 patients → 56% (95% CI 20% to 85%); 2 studies, "
        "8 patients. Why: Li 2023: count corrected from 5/5 to 4/5.")
    assert not moved.conclusion_changed  # 8.2 points < 10
    assert verdict([moved]).startswith("Results moved, but no conclusion changed")


def test_single_study_is_shown_as_its_own_proportion() -> None:
    old, new = payload(), payload()
    old["outcomes"][1] = result("gvhd", 1, 5, 5, 1.0, 0.48, 1.0, display="single", studies=("a",))
    count_of(old, "a", "gvhd")["events"] = 5
    (moved,) = results_moved(old, new)
    assert moved.before == "100% (95% CI 48% to 100%); single study; 1 study, 5 patients"
    assert moved.after == "80% (95% CI 28% to 99%); single study; 1 study, 5 patients"
    assert moved.conclusion_changed  # 20 points


def test_side_by_side_lists_each_study_and_moves_with_its_counts() -> None:
    side = [{"label": "Li 2023", "events": 5, "n": 5}, {"label": "Roe 2024", "events": 0, "n": 3}]
    old, new = payload(), payload()
    old["outcomes"][1] = result("gvhd", 2, 8, 5, None, display="side_by_side", studies=("a", "b"),
                                study_results=side)
    side_new = [dict(side[0], events=4), side[1]]
    new["outcomes"][1] = result("gvhd", 2, 8, 4, None, display="side_by_side", studies=("a", "b"),
                                study_results=side_new)
    (moved,) = results_moved(old, new)
    assert moved.before == "shown side by side, not pooled (2 studies, 8 patients): Li 2023 5/5, Roe 2024 0/3"
    assert moved.after.endswith("Li 2023 4/5, Roe 2024 0/3")
    assert "None" not in moved.sentence() and "nan" not in moved.sentence()


@pytest.mark.parametrize(("shift", "moves"), [(0.0, False), (0.0099, False), (0.01, True), (0.2, True)])
def test_threshold_boundary_of_moved(shift: float, moves: bool) -> None:
    old, new = payload(), payload()
    new["outcomes"][0]["result"]["estimate"] += shift
    assert bool(results_moved(old, new)) is moves


def test_certainty_change_is_called_out_and_changes_the_conclusion() -> None:
    old, new = payload(), payload()
    new["outcomes"][0]["certainty"] = "very low"
    (moved,) = results_moved(old, new)
    assert moved.certainty == ("low", "very low")
    assert "certainty low → very low" in moved.sentence()
    assert moved.conclusion_changed
    assert verdict([moved]) == "Conclusions to re-read: Response."


def test_added_study_is_the_reason() -> None:
    old, new = payload(), payload()
    new["outcomes"][0] = result("response", 3, 11, 7, 0.6, 0.3, 0.85, studies=("a", "b", "c"))
    new["evidence"]["labels"]["studies"]["c"] = "Doe 2025"
    (moved,) = results_moved(old, new)
    assert moved.why == ("Doe 2025 added",)


def test_result_new_in_this_version() -> None:
    old, new = payload(), payload()
    old["outcomes"] = old["outcomes"][:1]
    (moved,) = results_moved(old, new)
    assert moved.before == "not in this version" and moved.outcome == "gvhd"


def test_subgroup_words_and_thresholds() -> None:
    assert subgroup_words("all") == "all studies"
    assert subgroup_words("scb_source=allogeneic", {"scb_source": {"allogeneic": "Allogeneic"}}) == \
        "scb source: allogeneic"
    assert subgroup_words("scb_source=allogeneic", {"scb_source": {"allogeneic": "Allogeneic"}},
                          {"scb_source": "Source of the boost"}) == "Source of the boost: allogeneic"
    assert subgroup_words("cd34_selected=yes", {"cd34_selected": {"yes": "Yes"}},
                          {"cd34_selected": "CD34+ selection"}) == "CD34+ selection: yes"
    assert Thresholds.from_dict({"estimate": 0.02}) == Thresholds(0.02, 0.10)
    assert "2 percentage points" in Thresholds(0.02).describe()
    assert "1 percentage point," in Thresholds().describe()
    for bad in ({"estimate": 0}, {"estimate": "x"}, {"conclusion": 1.5}, {"other": 0.1}, {"estimate": True}):
        with pytest.raises(ValueError, match="changes thresholds"):
            Thresholds.from_dict(bad)


# ------------------------------------------------------------------ properties

counts = st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["x", "y"]),
                            st.integers(0, 20), st.integers(1, 20)), max_size=6,
                  unique_by=lambda t: (t[0], t[1]))


def _with_counts(rows: list[tuple]) -> dict:
    p = payload()
    p["evidence"]["counts"] = [{"study_id": s, "outcome": o, "events": min(e, n), "total": n}
                               for s, o, e, n in rows]
    return p


@settings(max_examples=60, deadline=None)
@given(counts, counts)
def test_every_count_change_is_reported_exactly_once(before: list, after: list) -> None:
    old, new = _with_counts(before), _with_counts(after)
    assert evidence_log(old, old) == {}
    sentences = evidence_log(old, new).get("Outcome counts", [])
    b = {(s, o): (min(e, n), n) for s, o, e, n in before}
    a = {(s, o): (min(e, n), n) for s, o, e, n in after}
    changed = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
    assert len(sentences) == len(changed)
    assert all("None" not in s for s in sentences)


@settings(max_examples=40, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1))
def test_moved_is_symmetric_and_follows_the_threshold(x: float, y: float) -> None:
    old, new = payload(), payload()
    old["outcomes"][0]["result"].update(estimate=x, ci_lower=0.2, ci_upper=0.85)
    new["outcomes"][0]["result"].update(estimate=y, ci_lower=0.2, ci_upper=0.85)
    forward, backward = results_moved(old, new), results_moved(new, old)
    assert bool(forward) == bool(backward) == (abs(x - y) >= 0.01 - 1e-12)
    assert isinstance(copy.deepcopy(forward), list)
    assert all(isinstance(m, MovedResult) for m in forward)
