"""The investigators' commands for patient-level data: a template, and the publishable aggregate.

``python -m analysis ipd-template``
    writes an empty CSV with every column of the IPD resource (``data/datapackage.yaml``) and,
    beside it, a data dictionary in Markdown: what each column holds, its type and allowed values,
    which outcome or study field it feeds.
``python -m analysis ipd-summary STUDY_ID [--out FILE] [--study-out FILE]``
    validates ``data/private/<STUDY_ID>.csv`` and turns it into what the public review may hold:
    outcome rows in the shape of the outcome table (events, total, ``confidence = ipd``, a
    derivation naming the file's SHA-256, its number of patients and the date), study-level fields
    (patients boosted, subgroup values, medians) and, printed, medians with ranges and the time to
    each event: for an outcome with a competing event (the plan's ``time_to_event.competing``, e.g.
    recovery with death as a competing event) the Aalen-Johansen cumulative incidence at the days of
    ``time_to_event.time_points`` and the median time where the incidence reaches 50 %; otherwise the
    Kaplan-Meier median. Never a patient code or a patient-level value: only
    counts, medians, ranges and values shared by the cohort.

Everything is read from the data package: which resource holds IPD (the pattern resource with
``x-aggregate``), which columns feed which outcome (``x-outcome``), what the aggregate rows carry
(``x-aggregate.set``) and which study fields come from which column (``x-study``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from analysis.engine.survival import aalen_johansen, kaplan_meier
from analysis.evidence.datapackage import Package, Resource, read_descriptor
from analysis.evidence.ipd import (
    StudyField,
    aggregate_binary,
    aggregate_records,
    binary_outcomes,
    competing_time_to_event,
    describe_numbers,
    study_fields,
    time_to_event,
    untimed,
)
from analysis.evidence.loading import (
    EvidenceError,
    ipd_resource,
    ipd_time_to_event,
    load_ipd,
    time_to_event_plan,
)
from analysis.evidence.project import ProjectRootError, default_path
from analysis.evidence.readers import load_yaml

__all__ = ["IpdSummary", "IpdSummaryError", "dictionary_markdown", "summarise_ipd", "write_template"]


class IpdSummaryError(ValueError):
    """The IPD file cannot be summarised; the message says why (never with a patient value)."""


@dataclass(frozen=True)
class IpdSummary:
    """What a study's patient-level file gives the public review.

    Attributes
    ----------
    study_id : str
    patients : int
        Rows of the file (patients boosted).
    sha256 : str
        SHA-256 of the file's bytes, so the aggregate can be traced to one version of the file.
    outcome_rows : pandas.DataFrame
        Rows in the columns of the outcome table, one per outcome the file records.
    study : tuple of StudyField
        Study-level values (the count of patients first).
    numbers : dict
        Column -> median, min, max and n of its recorded values (numeric columns).
    times : list of dict
        Per time-to-event outcome: ``method`` (``"kaplan-meier"`` or ``"aalen-johansen"``), events, n,
        the median and its 95 % CI (days); with a competing event also ``competing_outcome``, the
        number of competing events and ``at``: the cumulative incidence with its 95 % CI at each
        day of the plan's ``time_to_event.time_points``.
    """

    study_id: str
    patients: int
    sha256: str
    outcome_rows: pd.DataFrame
    study: tuple[StudyField, ...]
    numbers: Mapping[str, Mapping[str, float]]
    times: tuple[Mapping[str, Any], ...]


def summarise_ipd(data_dir: str | Path, study_id: str, today: dt.date | None = None) -> IpdSummary:
    """Validate a study's IPD file and aggregate it (see the module docstring).

    Raises
    ------
    IpdSummaryError
        When the file is absent or has errors (listed as the validator lists them).
    """
    data_dir = Path(data_dir)
    package = read_descriptor(data_dir / "datapackage.yaml")
    resource = ipd_resource(package)
    plan = resource.properties["x-aggregate"]
    path = data_dir / str(resource.pattern).format(**{str(plan["key"]): study_id})
    try:
        patients = load_ipd(data_dir, study_id)
    except EvidenceError as exc:
        lines = "\n".join(f"  {p}" for p in exc.problems) or "  (no details)"
        raise IpdSummaryError(f"{path} cannot be summarised:\n{lines}") from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    date = (today or dt.date.today()).isoformat()
    counts = aggregate_binary(patients, binary_outcomes(resource.schema.fields))
    rows = _outcome_rows(package, plan, study_id, counts, len(patients), path.name, digest, date)
    study = study_fields(patients, resource.schema.fields, count_field=plan.get("study-count"))
    numbers = {
        f.name: described for f in resource.schema.fields
        if f.type in ("integer", "number") and not f.enum and f.name in patients
        and (described := describe_numbers(patients[f.name])) is not None
    }
    plan_path = data_dir / "analysis_plan.yaml"
    competing, points = time_to_event_plan(load_yaml(plan_path) if plan_path.is_file() else None)
    specs = ipd_time_to_event(package, resource.name, competing)
    by_outcome = {spec.outcome: spec for spec in specs}
    times = tuple(_time_summary(patients, spec, by_outcome.get(spec.competing or ""), points) for spec in specs)
    return IpdSummary(study_id, len(patients), digest, rows, study, numbers, times)


def _outcome_rows(package: Package, plan: Mapping[str, Any], study_id: str, counts: pd.DataFrame,
                  n: int, filename: str, digest: str, date: str) -> pd.DataFrame:
    columns = list(package.resource(str(plan["into"])).schema.names)
    derivation = (f"aggregated by python -m analysis ipd-summary on {date} from {filename} "
                  f"({n} patients; SHA-256 {digest})")
    rows = [{**dict.fromkeys(columns, ""), **record, "derivation": derivation, "extracted_on": date}
            for record in aggregate_records(plan, study_id, counts)]
    return pd.DataFrame(rows, columns=columns)


def _time_summary(patients: pd.DataFrame, spec: Any, competing: Any, points: tuple[float, ...]) -> dict[str, Any]:
    if competing is not None:
        return _incidence_summary(patients, spec, competing, points)
    time, event = time_to_event(patients, spec, without_time="omit")
    off = untimed(patients, spec)
    if time.size == 0:
        return {"outcome": spec.outcome, "method": "kaplan-meier", "n": 0, "events": 0, "untimed": off}
    km = kaplan_meier(time, event)
    return {"outcome": spec.outcome, "method": "kaplan-meier", "n": km.n, "events": km.events, "median": km.median,
            "median_ci_lower": km.median_ci_lower, "median_ci_upper": km.median_ci_upper, "untimed": off}


def _incidence_summary(patients: pd.DataFrame, spec: Any, competing: Any, points: tuple[float, ...]) -> dict[str, Any]:
    """Aalen-Johansen summary of one outcome with a competing event (aggregates only)."""
    time, status = competing_time_to_event(patients, spec, competing, without_time="omit")
    base = {"outcome": spec.outcome, "method": "aalen-johansen", "competing_outcome": competing.outcome,
            "untimed": untimed(patients, spec, competing)}
    if time.size == 0:
        return {**base, "n": 0, "events": 0, "competing": 0, "at": []}
    ci = aalen_johansen(time, status)
    at = [{"day": day, "incidence": ci.at(day), "lower": ci.interval_at(day)[0], "upper": ci.interval_at(day)[1],
           "followed": ci.estimable_at(day)} for day in points]
    return {**base, "n": ci.n, "events": ci.events, "competing": ci.competing, "median": ci.median,
            "median_ci_lower": ci.median_ci_lower, "median_ci_upper": ci.median_ci_upper, "at": at}


def published_outcomes(data_dir: str | Path, study_id: str) -> set[str]:
    """Outcomes the (public) outcome table already holds for the study."""
    data_dir = Path(data_dir)
    package = read_descriptor(data_dir / "datapackage.yaml")
    plan = ipd_resource(package).properties["x-aggregate"]
    target = package.resource(str(plan["into"]))
    path = data_dir / str(target.path)
    if not path.exists():
        return set()
    with path.open(encoding="utf-8", newline="") as handle:
        return {row.get(str(plan["outcome"]), "") for row in csv.DictReader(handle)
                if row.get(str(plan["key"])) == study_id}


# ------------------------------------------------------------------------------ writing


def write_outcome_rows(summary: IpdSummary, out: TextIO) -> None:
    """The outcome rows as CSV with the outcome table's header."""
    summary.outcome_rows.to_csv(out, index=False, lineterminator="\n")


def write_study_fields(summary: IpdSummary, out: TextIO) -> None:
    """Study-level values as CSV: field, value, derivation."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["study_id", "field", "value", "derivation"])
    for item in summary.study:
        writer.writerow([summary.study_id, item.field, "" if item.value is None else _plain(item.value),
                         item.derivation])


def report_text(summary: IpdSummary) -> str:
    """A plain-text report of the aggregate, for the investigators to review before publishing."""
    lines = [f"Aggregate of {summary.study_id}: {summary.patients} patients (file SHA-256 {summary.sha256})",
             "", "Outcome rows (events / patients with the outcome recorded):"]
    for row in summary.outcome_rows.itertuples(index=False):
        lines.append(f"  {row.outcome}: {row.events} / {row.total}")
    lines += ["", "Study-level fields:"]
    lines += [f"  {s.field}: {'not recorded' if s.value is None else _plain(s.value)}  ({s.derivation})"
              for s in summary.study]
    lines += ["", "Medians (range) of the recorded values:"]
    lines += [f"  {name}: {_plain(d['median'])} ({_plain(d['min'])} to {_plain(d['max'])}), n = {d['n']}"
              for name, d in summary.numbers.items()]
    lines += ["", "Time to event (patients without any event censored at last follow-up):"]
    lines += [_time_line(item) for item in summary.times]
    return "\n".join(lines) + "\n"


def _time_line(item: Mapping[str, Any]) -> str:
    """One outcome's time-to-event summary in words."""
    off = f"; {item['untimed']} recorded without the day needed, left off the curve" if item["untimed"] else ""
    if not item["n"]:
        return f"  {item['outcome']}: no patient recorded with its day{off}"
    median = ("not reached" if pd.isna(item["median"]) else
              f"{_plain(item['median'])} days (95% CI {_limit(item['median_ci_lower'])} to "
              f"{_limit(item['median_ci_upper'])})")
    if item["method"] == "kaplan-meier":
        return f"  {item['outcome']}: {item['events']} events in {item['n']} patients (Kaplan-Meier); median {median}{off}"
    other = item["competing_outcome"]
    by_day = "; ".join(_incidence_at(point) for point in item["at"])
    return (f"  {item['outcome']}: {item['events']} events in {item['n']} patients, {item['competing']} with "
            f"{other} first ({other} as a competing event; Aalen-Johansen cumulative incidence)"
            + (f"; {by_day}" if by_day else "") + f"; median (incidence reaching 50%) {median}{off}")


def _incidence_at(point: Mapping[str, Any]) -> str:
    """``"by day 30: 40% (95% CI 18% to 88%)"``; the limits may be undefined (no band there)."""
    where = f"by day {_plain(point['day'])}: "
    if not point["followed"]:
        return where + "not estimable (no patient observed that long)"
    band = (f" (95% CI {100 * point['lower']:.0f}% to {100 * point['upper']:.0f}%)"
            if not (pd.isna(point["lower"]) or pd.isna(point["upper"])) else " (95% CI not defined)")
    return where + f"{100 * point['incidence']:.0f}%" + band


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _limit(value: float) -> str:
    return "not reached" if pd.isna(value) else f"{value:g}"


# ------------------------------------------------------------------------------ template


def dictionary_markdown(resource: Resource) -> str:
    """The IPD resource's data dictionary: one row per column, in Markdown."""
    lines = [f"# {resource.title or resource.name}: data dictionary", "",
             " ".join(resource.description.split()), "",
             "An empty cell means \"not recorded\": that patient leaves the denominator of that outcome only.",
             "", "| column | title | type | allowed values | feeds | meaning |", "|---|---|---|---|---|---|"]
    for f in resource.schema.fields:
        allowed = ", ".join(str(v) for v in f.enum) if f.enum else _range(f)
        feeds = []
        if "x-outcome" in f.properties:
            feeds.append(f"outcome {f.properties['x-outcome']}")
        feeds += [f"study field {e['field']}" for e in f.properties.get("x-study") or []]
        required = " (required)" if f.required else ""
        meaning = " ".join(f.description.split()).replace("|", "/")
        lines.append(f"| `{f.name}`{required} | {f.title} | {f.type} | {allowed} | {'; '.join(feeds)} | {meaning} |")
    return "\n".join(lines) + "\n"


def _range(f: Any) -> str:
    parts = [f"{w} {v:g}" for v, w in ((f.minimum, "at least"), (f.maximum, "at most")) if v is not None]
    return ", ".join(parts)


def write_template(data_dir: str | Path, out: str | Path) -> tuple[Path, Path]:
    """Write the empty IPD CSV (header only) and its data dictionary (``.md`` beside it).

    Returns
    -------
    tuple of Path
        The CSV and the dictionary.
    """
    resource = ipd_resource(read_descriptor(Path(data_dir) / "datapackage.yaml"))
    csv_path = Path(out)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(resource.schema.names)
    csv_path.write_text(buffer.getvalue(), encoding="utf-8")
    md_path = csv_path.with_suffix(".md")
    md_path.write_text(dictionary_markdown(resource), encoding="utf-8")
    return csv_path, md_path


# ------------------------------------------------------------------------------ command line


def template_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m analysis ipd-template``."""
    parser.add_argument("--data-dir", default=None, type=Path,
                        help="data package folder (default: data, in the repository root)")
    parser.add_argument("--out", default="ipd-template.csv",
                        help="CSV to write (default: ipd-template.csv); the dictionary goes beside it (.md)")


def template_run(args: argparse.Namespace) -> int:
    """``python -m analysis ipd-template``."""
    try:
        args.data_dir = args.data_dir or default_path("data")
        csv_path, md_path = write_template(args.data_dir, args.out)
    except (OSError, ValueError, ProjectRootError) as exc:
        print(f"ipd-template: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {csv_path} (header only: one row per patient goes below it) and its data dictionary "
          f"{md_path}.\nSave the filled file as {args.data_dir}/private/<study_id>.csv; it is never committed.")
    return 0


def summary_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m analysis ipd-summary``."""
    parser.add_argument("study_id", help="the study whose file data/private/<study_id>.csv is summarised")
    parser.add_argument("--data-dir", default=None, type=Path,
                        help="data package folder (default: data, in the repository root)")
    parser.add_argument("--out", default=None,
                        help="write the outcome rows (CSV, the outcome table's columns) to this file")
    parser.add_argument("--study-out", default=None,
                        help="write the study-level fields (CSV: study_id, field, value, derivation) to this file")


def summary_run(args: argparse.Namespace) -> int:
    """``python -m analysis ipd-summary``: print the report; write the rows where asked."""
    try:
        args.data_dir = args.data_dir or default_path("data")
        summary = summarise_ipd(args.data_dir, args.study_id)
    except (IpdSummaryError, ValueError, ProjectRootError) as exc:
        print(f"ipd-summary: {exc}", file=sys.stderr)
        return 1
    for target, write in ((args.out, write_outcome_rows), (args.study_out, write_study_fields)):
        if target:
            with Path(target).open("w", encoding="utf-8", newline="") as handle:
                write(summary, handle)
    sys.stdout.write(report_text(summary))
    existing = published_outcomes(args.data_dir, args.study_id) & set(summary.outcome_rows["outcome"])
    if existing:
        print(f"\nThe outcome table already has rows of {args.study_id} for {', '.join(sorted(existing))}: "
              "replace those rows with these (one row per study and outcome), do not add them twice.")
    if args.out:
        print(f"\nOutcome rows written to {args.out}: review them, then add them to data/outcomes.csv "
              "in a pull request (never the patient file).")
    return 0
