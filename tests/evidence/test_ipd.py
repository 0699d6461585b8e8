"""IPD aggregation and time-to-event arrays, driven by the descriptor (SYNTHETIC patients)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.engine.survival import aalen_johansen, kaplan_meier
from analysis.evidence.datapackage import read_descriptor
from analysis.evidence.ipd import (
    BinaryOutcome,
    TimeToEvent,
    aggregate_binary,
    aggregate_records,
    binary_outcomes,
    competing_time_to_event,
    study_fields,
    time_to_event,
    time_to_event_specs,
    untimed,
)
from tests.evidence_helpers import ROOT, SYNTHETIC_IPD


def _patients() -> pd.DataFrame:
    return pd.read_csv(SYNTHETIC_IPD, dtype={"patient_id": "string"}).convert_dtypes()


def test_descriptor_declares_which_column_feeds_which_outcome() -> None:
    resource = read_descriptor(ROOT / "data" / "datapackage.yaml").resource("ipd")
    declared = {
        o.column: (o.outcome, o.event_value) for o in binary_outcomes(resource.schema.fields)
    }
    assert declared == {
        "neutrophil_recovery": ("neutrophil_recovery", 1),
        "platelet_recovery": ("platelet_recovery", 1),
        "agvhd": ("agvhd", 1),
        "alive": ("death", 0),
        "rbc_transfusion_independence": ("rbc_transfusion_independence", 1),
        "platelet_transfusion_independence": ("platelet_transfusion_independence", 1),
        "cgvhd": ("cgvhd", 1),
        "infection": ("infection", 1),
    }


def test_event_value_zero_counts_zeros() -> None:
    frame = pd.DataFrame({"alive": pd.array([1, 0, 0, 1, 1], dtype="Int64")})
    counts = aggregate_binary(frame, [BinaryOutcome("alive", "death", 0)])
    assert counts.to_dict("records") == [{"outcome": "death", "events": 2, "total": 5}]


def test_unrecorded_values_leave_the_denominator() -> None:
    frame = pd.DataFrame({"x": pd.array([1, None, 0, 1], dtype="Int64")})
    counts = aggregate_binary(frame, [BinaryOutcome("x", "o")])
    assert counts.to_dict("records") == [{"outcome": "o", "events": 2, "total": 3}]


def test_outcome_with_nothing_recorded_gives_no_row() -> None:
    frame = pd.DataFrame({"x": pd.array([None, None], dtype="Int64")})
    assert aggregate_binary(frame, [BinaryOutcome("x", "o")]).empty


def test_absent_optional_column_is_not_recorded() -> None:
    counts = aggregate_binary(pd.DataFrame({"x": pd.array([1], dtype="Int64")}),
                              [BinaryOutcome("agvhd", "agvhd"), BinaryOutcome("x", "o")])
    assert counts.to_dict("records") == [{"outcome": "o", "events": 1, "total": 1}]


def test_synthetic_file_aggregates_to_hand_counts() -> None:
    resource = read_descriptor(ROOT / "data" / "datapackage.yaml").resource("ipd")
    counts = aggregate_binary(_patients(), binary_outcomes(resource.schema.fields))
    assert {r.outcome: (r.events, r.total) for r in counts.itertuples()} == {
        "neutrophil_recovery": (7, 8),
        "platelet_recovery": (5, 8),
        "agvhd": (2, 8),
        "death": (2, 8),
    }


def test_time_to_event_uses_event_time_or_censoring_time() -> None:
    spec = TimeToEvent(
        "neutrophil_recovery", "neutrophil_recovery", "days_to_neutrophil_recovery", "followup_days"
    )
    time, event = time_to_event(_patients(), spec)
    assert time.tolist() == [12, 15, 9, 20, 60, 14, 25, 18]  # patient 5 censored at day 60
    assert event.tolist() == [1, 1, 1, 1, 0, 1, 1, 1]


def test_death_from_alive_column() -> None:
    resource = read_descriptor(ROOT / "data" / "datapackage.yaml").resource("ipd")
    specs = time_to_event_specs(
        resource.properties["x-time-to-event"], binary_outcomes(resource.schema.fields)
    )
    death = next(s for s in specs if s.outcome == "death")
    time, event = time_to_event(_patients(), death)
    assert event.tolist() == [0, 0, 0, 1, 1, 0, 0, 0]
    assert time.tolist() == [400, 380, 365, 210, 60, 300, 290, 250]


def test_median_time_to_recovery_of_the_synthetic_cohort() -> None:
    # By hand: recoveries at days 9, 12, 14, 15 (S = 7/8, 6/8, 5/8, 4/8 = 0.5 exactly), next event at
    # day 18, so the median is (15 + 18) / 2 = 16.5 as survfit reports it.
    spec = TimeToEvent(
        "neutrophil_recovery", "neutrophil_recovery", "days_to_neutrophil_recovery", "followup_days"
    )
    km = kaplan_meier(*time_to_event(_patients(), spec))
    assert km.median == 16.5
    assert km.cumulative_incidence[-1] == pytest.approx(7 / 8)


def test_missing_event_time_is_reported_by_row_not_identifier() -> None:
    patients = _patients()
    patients.loc[2, "days_to_neutrophil_recovery"] = pd.NA
    spec = TimeToEvent(
        "neutrophil_recovery", "neutrophil_recovery", "days_to_neutrophil_recovery", "followup_days"
    )
    with pytest.raises(ValueError, match="days_to_neutrophil_recovery is empty in row 3") as info:
        time_to_event(patients, spec)
    assert "SYNTH" not in str(info.value)


def test_unrecorded_indicator_leaves_the_curve_and_absent_time_column_is_an_error() -> None:
    patients = _patients()
    patients.loc[0, "alive"] = pd.NA
    time, event = time_to_event(patients, TimeToEvent("death", "alive", "followup_days", "followup_days", 0))
    assert time.tolist() == [380, 365, 210, 60, 300, 290, 250]  # patient 1 left out, as from the count
    assert event.tolist() == [0, 0, 1, 1, 0, 0, 0]
    absent = time_to_event(patients, TimeToEvent("x", "not_a_column", "followup_days", "followup_days"))
    assert absent[0].size == 0 and absent[1].size == 0
    dead_without_day = TimeToEvent("death", "alive", "nope", "followup_days", 0)  # no such column
    with pytest.raises(ValueError, match=r"nope is empty in row 4 \(death: needed for the event\)"):
        time_to_event(patients, dead_without_day)
    time, event = time_to_event(patients, dead_without_day, without_time="omit")
    assert event.tolist() == [0, 0, 0, 0, 0] and untimed(patients, dead_without_day) == 2
    assert np.all(
        np.isfinite(
            time_to_event(
                _patients(), TimeToEvent("d", "alive", "followup_days", "followup_days", 0)
            )[0]
        )
    )


def test_aggregate_records_follow_the_plan() -> None:
    plan = {"key": "sid", "outcome": "what", "events": "e", "total": "n", "set": {"confidence": "ipd"}}
    counts = pd.DataFrame({"outcome": ["death"], "events": [2], "total": [9]})
    assert aggregate_records(plan, "s1", counts) == [
        {"sid": "s1", "what": "death", "e": 2, "n": 9, "confidence": "ipd"}]


def test_study_fields_put_the_patient_count_first() -> None:
    resource = read_descriptor(ROOT / "data" / "datapackage.yaml").resource("ipd")
    fields = study_fields(_patients(), resource.schema.fields, count_field="n_boosted")
    assert (fields[0].field, fields[0].value) == ("n_boosted", 8)


# ------------------------------------------------------------------------------ competing event

NEUTROPHILS = TimeToEvent("neutrophil_recovery", "neutrophil_recovery", "days_to_neutrophil_recovery",
                          "followup_days", competing="death")
DEATH = TimeToEvent("death", "alive", "followup_days", "followup_days", 0)


def test_the_plan_makes_death_compete_with_recovery() -> None:
    from analysis.evidence.loading import ipd_time_to_event, time_to_event_plan
    from analysis.evidence.readers import load_yaml

    competing, points = time_to_event_plan(load_yaml(ROOT / "data" / "analysis_plan.yaml"))
    assert (competing, points) == ({"neutrophil_recovery": "death", "platelet_recovery": "death"}, (30.0, 60.0))
    package = read_descriptor(ROOT / "data" / "datapackage.yaml")
    specs = {s.outcome: s for s in ipd_time_to_event(package, competing=competing)}
    assert specs["neutrophil_recovery"].competing == "death"
    assert specs["platelet_recovery"].competing == "death"
    assert specs["death"].competing is None  # overall survival stays Kaplan-Meier
    assert all(s.competing is None for s in ipd_time_to_event(package))  # the descriptor alone: none
    with pytest.raises(ValueError, match="names outcome\\(s\\) relapse that no x-time-to-event declaration"):
        ipd_time_to_event(package, competing={"relapse": "death"})


@pytest.mark.parametrize(("section", "message"), [
    ({"competing": ["death"]}, "time_to_event.competing must map outcome ids to outcome ids"),
    ({"time_points": [30, -1]}, "time_points must be a list of non-negative numbers"),
    ({"landmarks": [30]}, "unknown key\\(s\\) landmarks"),
])
def test_a_bad_time_to_event_section_is_named(section: dict, message: str) -> None:
    from analysis.evidence.loading import time_to_event_plan

    with pytest.raises(ValueError, match=message):
        time_to_event_plan({"time_to_event": section})
    assert time_to_event_plan({}) == ({}, ())


def test_a_competing_outcome_must_be_declared() -> None:
    declarations = [{"outcome": "a", "event": "x", "time": "t", "censor_time": "f", "competing": "b"}]
    with pytest.raises(ValueError, match="a: competing outcome 'b' must be another declared outcome"):
        time_to_event_specs(declarations, [])
    with pytest.raises(ValueError, match="competing outcome 'a'"):
        time_to_event_specs([{**declarations[0], "competing": "a"}], [])


def test_death_before_recovery_is_a_competing_event() -> None:
    # SYNTHETIC file: patient 5 did not recover and died on day 60 (alive = 0): status 2, not censored
    time, status = competing_time_to_event(_patients(), NEUTROPHILS, DEATH)
    assert time.tolist() == [12, 15, 9, 20, 60, 14, 25, 18]
    assert status.tolist() == [1, 1, 1, 1, 2, 1, 1, 1]
    ci = aalen_johansen(time, status)
    # by hand: 7 recoveries before the death on day 60, none after: F = 7/8, death before recovery 1/8
    assert ci.incidence[-1] == pytest.approx(7 / 8) and ci.competing_incidence[-1] == pytest.approx(1 / 8)
    platelets = TimeToEvent("platelet_recovery", "platelet_recovery", "days_to_platelet_recovery",
                            "followup_days", competing="death")
    time, status = competing_time_to_event(_patients(), platelets, DEATH)
    # recovered 1, 2, 4, 6, 7; patient 5 died without recovering; 3 and 8 alive without: censored
    assert status.tolist() == [1, 1, 0, 1, 2, 1, 1, 0]
    assert time.tolist() == [30, 41, 365, 55, 60, 33, 70, 250]


def test_competing_event_not_recorded_or_without_its_day() -> None:
    patients = _patients()
    patients.loc[4, "alive"] = pd.NA  # death not recorded: censored at the last follow-up
    time, status = competing_time_to_event(patients, NEUTROPHILS, DEATH)
    assert (time[4], status[4]) == (60, 0)
    patients = _patients()
    patients.loc[4, "followup_days"] = pd.NA  # died without the day: off the curve, or an error
    with pytest.raises(ValueError, match=r"followup_days is empty in row 5 \(neutrophil_recovery: needed for the "
                                         r"competing event \(death\)\)") as info:
        competing_time_to_event(patients, NEUTROPHILS, DEATH)
    assert "SYNTH" not in str(info.value)
    time, status = competing_time_to_event(patients, NEUTROPHILS, DEATH, without_time="omit")
    assert len(time) == 7 and 2 not in status.tolist()
    assert untimed(patients, NEUTROPHILS, DEATH) == 1
    absent = competing_time_to_event(patients.drop(columns=["alive"]), NEUTROPHILS, DEATH, without_time="omit")
    assert absent[1].tolist() == [1, 1, 1, 1, 1, 1, 1]  # no death column: nobody died on record
