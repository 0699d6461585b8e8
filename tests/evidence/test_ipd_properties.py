"""Property-based tests of the patient-level path, over random valid SYNTHETIC IPD files.

Every file drawn here is invented (codes ``SYNTH-…``) and valid by the data package's rules: any
number of patients from 1, any optional column left out or left empty, ties, censoring after the
last event, nobody or everybody with the event. For each file:

- the validator finds no error;
- the loader's aggregated counts equal a direct count of the file;
- every cumulative incidence with a competing event (recovery, death competing) is a valid step
  function within [0, 1] that never exceeds 1 - Kaplan-Meier with deaths censored, whose events and
  competing events equal the file's, and which the plot accepts;
- every Kaplan-Meier curve is a valid step function whose band contains it where defined, whose
  events equal the file's and whose patients plus those left off it (no day to place them) equal
  the outcome's total, and which the plot and its alt text accept;
- ``ipd-summary`` gives the same counts and never writes a patient code or a patient's value
  other than counts, medians and ranges;
- the GETH-TC page's code (``Review.show_ipd``) runs and shows the counts.
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.engine.survival import aalen_johansen, kaplan_meier
from analysis.evidence.datapackage import read_descriptor
from analysis.evidence.ipd import competing_time_to_event, time_to_event, untimed
from analysis.evidence.ipdcmd import (
    report_text,
    summarise_ipd,
    write_outcome_rows,
    write_study_fields,
)
from analysis.evidence.loading import ipd_time_to_event, load_evidence, load_ipd
from analysis.evidence.validate import check_evidence
from tests.evidence_helpers import review_copy

ROOT = Path(__file__).resolve().parents[2]
STUDY = "molinosquintana2025"
RESOURCE = read_descriptor(ROOT / "data" / "datapackage.yaml").resource("ipd")
COLUMNS = list(RESOURCE.schema.names)
BINARY = {f.name: (f.properties["x-outcome"], f.properties.get("x-event-value", 1))
          for f in RESOURCE.schema.fields if "x-outcome" in f.properties}
ENUMS = {f.name: list(f.enum) for f in RESOURCE.schema.fields if f.enum and f.type == "string"}

maybe = st.booleans()


@st.composite
def patient(draw: Any, index: int) -> dict[str, Any]:
    """One valid SYNTHETIC patient: every optional cell may be empty."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS, "")
    row["patient_id"] = f"SYNTH-{index:04d}"
    follow = draw(st.one_of(st.none(), st.integers(0, 900)))
    cap = follow if follow is not None else 900
    for flag, days in (("neutrophil_recovery", "days_to_neutrophil_recovery"),
                       ("platelet_recovery", "days_to_platelet_recovery")):
        value = draw(st.sampled_from([None, 0, 1]))
        if value is not None:
            row[flag] = value
        if value == 1:
            row[days] = draw(st.integers(0, min(cap, 120)))  # small range: ties are common
    if follow is not None:
        row["followup_days"] = follow
    alive = draw(st.sampled_from([None, 0, 1] if follow is not None else [None, 1]))  # a death needs its day
    if alive is not None:
        row["alive"] = alive
    if alive == 0 and draw(maybe):
        row["death_cause"] = draw(st.sampled_from(ENUMS["death_cause"]))
    agvhd = draw(st.sampled_from([None, 0, 1]))
    if agvhd is not None:
        row["agvhd"] = agvhd
        if agvhd == 1 and draw(maybe):
            row["agvhd_grade"] = draw(st.integers(1, 4))
    for name in ("rbc_transfusion_independence", "platelet_transfusion_independence", "cgvhd", "infection"):
        row[name] = draw(st.sampled_from(["", 0, 1]))
    for name in ("disease", "car_t_product", "car_t_target", "cd34_selected", "donor"):
        row[name] = draw(st.sampled_from(["", *ENUMS[name]]))
    row["age_years"] = draw(st.sampled_from(["", 4, 17, 18, 45, 71]))
    row["days_car_t_to_boost"] = draw(st.one_of(st.just(""), st.integers(0, 200)))
    row["cd34_dose"] = draw(st.one_of(st.just(""), st.sampled_from([0.5, 2.25, 3.0, 5.1])))
    row["icaht_grade"] = draw(st.sampled_from(["", 1, 2, 3, 4]))
    return row


@st.composite
def ipd_file(draw: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """A file: 1 to 20 patients, and a random set of optional columns left out entirely."""
    n = draw(st.integers(1, 20))
    rows = [draw(patient(i + 1)) for i in range(n)]
    optional = [c for c in COLUMNS if c != "patient_id"]
    dropped = draw(st.sets(st.sampled_from(optional), max_size=len(optional)))
    for flag, days in (("neutrophil_recovery", "days_to_neutrophil_recovery"),
                       ("platelet_recovery", "days_to_platelet_recovery")):
        if flag in dropped or days in dropped:  # a recovery without its day, or a day without
            dropped |= {flag, days}             # its recovery, is not a valid file
    if "followup_days" in dropped:  # without follow-up, nobody can have died on a known day
        for row in rows:
            if row["alive"] == 0:
                row["alive"] = row["death_cause"] = ""
    columns = [c for c in COLUMNS if c not in dropped]
    return columns, [{c: r[c] for c in columns} for r in rows]


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the review (data without private files, bibliography, version) to write IPD into."""
    return review_copy(tmp_path_factory.mktemp("review"))


def _direct_counts(columns: list[str], rows: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    out = {}
    for column, (outcome, event_value) in BINARY.items():
        recorded = [r[column] for r in rows if column in columns and r[column] != ""]
        if recorded:
            out[outcome] = (sum(v == event_value for v in recorded), len(recorded))
    return out


def _write(project: Path, columns: list[str], rows: list[dict[str, Any]]) -> Path:
    path = project / "data" / "private" / f"{STUDY}.csv"
    path.write_text(_csv(columns, rows), encoding="utf-8")
    return path


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.slow  # Hypothesis draws dozens of patient files (about a minute)
@SETTINGS
@given(drawn=ipd_file())
def test_valid_files_validate_aggregate_and_summarise(project: Path, drawn: Any) -> None:
    columns, rows = drawn
    _write(project, columns, rows)
    data = project / "data"
    _, problems = check_evidence(data)
    errors = [str(p) for p in problems if p.severity == "error"]
    assert errors == []

    evidence = load_evidence(data)
    assert STUDY in evidence.ipd_studies
    table = evidence["outcomes"]
    mine = table.loc[(table["study_id"] == STUDY) & (table["confidence"] == "ipd")]
    got = {r.outcome: (int(r.events), int(r.total)) for r in mine.itertuples()}
    assert got == _direct_counts(columns, rows)

    summary = summarise_ipd(data, STUDY)
    assert {r.outcome: (int(r.events), int(r.total)) for r in summary.outcome_rows.itertuples()} == got
    assert summary.patients == len(rows)
    text = report_text(summary)
    for write in (write_outcome_rows, write_study_fields):
        buffer = io.StringIO()
        write(summary, buffer)
        text += buffer.getvalue()
    assert "SYNTH-" not in text


@pytest.mark.slow  # Hypothesis draws dozens of patient files (about a minute)
@SETTINGS
@given(drawn=ipd_file())
def test_every_curve_is_valid_and_drawable(project: Path, drawn: Any) -> None:
    from analysis.book.plots import km_plot_alt_text
    from analysis.book.plots.survival import _arrays

    columns, rows = drawn
    _write(project, columns, rows)
    patients = load_ipd(project / "data", STUDY)
    counts = _direct_counts(columns, rows)
    for spec in ipd_time_to_event(read_descriptor(project / "data" / "datapackage.yaml")):
        time, event = time_to_event(patients, spec, without_time="omit")
        off = untimed(patients, spec)  # recorded, but without the day needed: counted, not on the curve
        if time.size == 0:
            assert spec.outcome not in counts or counts[spec.outcome][1] == off
            continue
        km = kaplan_meier(time, event)
        events, total = counts[spec.outcome]
        assert (km.events, km.n + off) == (events, total)  # every event has its day (validated)
        assert np.all(np.diff(km.survival) <= 1e-15) and np.all((km.survival >= 0) & (km.survival <= 1))
        defined = np.isfinite(km.ci_lower) & np.isfinite(km.ci_upper)
        assert np.all(km.ci_lower[defined] <= km.survival[defined] + 1e-12)
        assert np.all(km.survival[defined] <= km.ci_upper[defined] + 1e-12)
        assert math.isnan(km.median) or km.median in set(km.time) or km.median > 0
        args = (np.concatenate(([0.0], km.time)), np.concatenate(([0.0], 1 - km.survival)),
                np.concatenate(([0.0], 1 - km.ci_upper)), np.concatenate(([0.0], 1 - km.ci_lower)))
        _arrays(*args, time[event == 0])  # the plot's own checks accept it
        assert km_plot_alt_text(*args, censor_times=time[event == 0], median=km.median)


@SETTINGS
@given(drawn=ipd_file())
def test_every_competing_incidence_is_valid_and_drawable(project: Path, drawn: Any) -> None:
    from analysis.book.plots.survival import _arrays

    columns, rows = drawn
    _write(project, columns, rows)
    patients = load_ipd(project / "data", STUDY)
    specs = ipd_time_to_event(read_descriptor(project / "data" / "datapackage.yaml"))
    by_outcome = {s.outcome: s for s in specs}
    for spec in (s for s in specs if s.competing):
        death = by_outcome[spec.competing]
        time, status = competing_time_to_event(patients, spec, death, without_time="omit")
        if time.size == 0:
            continue
        ci = aalen_johansen(time, status)
        flag = next(c for c, (o, _) in BINARY.items() if o == spec.outcome)
        timed = [r for r in rows if flag in columns and r[flag] != ""]
        events = sum(r[flag] == 1 for r in timed)
        died_first = sum(r[flag] == 0 and r.get("alive") == 0 for r in timed)
        assert (ci.events, ci.competing) == (events, died_first)  # every death has its day (validated)
        assert ci.n + untimed(patients, spec, death) == len(timed)
        assert np.all(np.diff(ci.incidence) >= -1e-15) and np.all((ci.incidence >= 0) & (ci.incidence <= 1))
        naive = kaplan_meier(time, (status == 1).astype(int))
        assert np.all(ci.incidence <= 1 - naive.survival + 1e-12)
        _arrays(np.concatenate(([0.0], ci.time)), np.concatenate(([0.0], ci.incidence)),
                np.concatenate(([np.nan], ci.ci_lower)), np.concatenate(([np.nan], ci.ci_upper)), time[status == 0])


@pytest.mark.slow  # Hypothesis draws a dozen patient files and runs the page code on each
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=ipd_file())
def test_the_gethtc_page_code_runs_and_shows_the_counts(project: Path, drawn: Any, monkeypatch: Any) -> None:
    from analysis.book import bookkit

    columns, rows = drawn
    _write(project, columns, rows)
    shown: list[Any] = []
    monkeypatch.setattr(bookkit, "_display", lambda *objs: shown.extend(objs))
    monkeypatch.delenv("REVIEW_BUILD_VERSION", raising=False)
    review = bookkit.Review(project)
    review.show_ipd(STUDY)
    text = "\n".join(str(getattr(o, "data", o)) for o in shown)
    for outcome, (events, total) in _direct_counts(columns, rows).items():
        label = html.escape(str(review.vocabulary[outcome].get("label", outcome)))
        # the outcome in words, then its count opening on how it was obtained
        assert re.search(rf"<td>{re.escape(label)}</td>\s*<td><details class=\"provenance[^\"]*\"><summary>"
                         rf"{events}/{total}\D", text), outcome
    assert "SYNTH-" not in text
