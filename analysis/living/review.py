"""One living review as a whole: its evidence, plan, syntheses, certainty, version and results.

:class:`LivingReview` is what the book's chapters (:class:`analysis.book.bookkit.Review`, which
adds the display), ``python -m analysis diff`` and the release tool share: a project folder
(``data/``, ``references.bib``, ``VERSION``, ``results/``) read once, and every number computed
from it once. It holds no statistics (the plan executor, :mod:`analysis.evidence.pipeline`, calls
the engine) and shows nothing. Nothing in it knows a clinical topic: outcome ids, subgroups and
evidence sets come from the data package and the analysis plan.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.engine import __version__
from analysis.evidence.bibliography import citation_labels, parse_bibliography
from analysis.evidence.grade import certainty_table
from analysis.evidence.loading import load_evidence
from analysis.evidence.pipeline import (
    OutcomeSynthesis,
    Plan,
    select_studies,
    synthesis_of,
    synthesise,
)
from analysis.evidence.readers import load_yaml
from analysis.living.buildcache import cached
from analysis.living.prisma import flow_versions
from analysis.living.snapshot import (
    DEV,
    Snapshot,
    data_digests,
    make_snapshot,
    previous_snapshot,
    private_data_present,
    read_snapshot,
)
from analysis.living.version import data_date, read_version

__all__ = ["LivingReview", "json_safe", "study_labels"]


class LivingReview:
    """One living review: its evidence, plan and syntheses, its version and its results snapshot.

    Parameters
    ----------
    root : Path
        The project folder (holding ``data/``, ``references.bib``, ``VERSION`` and ``results/``).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.evidence = load_evidence(self.data_dir)
        self.plan_raw = load_yaml(self.data_dir / "analysis_plan.yaml")
        self.plan = Plan.from_dict(self.plan_raw)
        self.studies = self.evidence["studies"]
        self.outcomes = self.evidence["outcomes"]
        self.vocabulary = _vocabulary(self.evidence["outcome_definitions"])
        self.labels = study_labels(root / "references.bib", self.studies)
        self.outcomes = self.outcomes.assign(label=self.outcomes["study_id"].map(self.labels))

    # ----------------------------------------------------------------- basic facts
    @functools.cached_property
    def version(self) -> str:
        """The version being built: ``YY.MINOR.PATCH`` for a release, ``"dev"`` otherwise.

        A versioned-site build says which in ``REVIEW_BUILD_VERSION``. Otherwise the file
        ``VERSION`` names the latest release, or the first one before any release. The tree is that
        release only when its released snapshot ``results/<version>.json`` exists and the tree's data
        are byte-identical to the snapshot's; without a snapshot (nothing released yet) or with
        changed data it is a development version, and never shows a release number as if released.
        """
        if os.environ.get("REVIEW_BUILD_VERSION"):
            return os.environ["REVIEW_BUILD_VERSION"]
        named = read_version(self.root)
        snapshot = self.root / "results" / f"{named}.json"
        if not snapshot.exists() or dict(read_snapshot(snapshot).data_files) != data_digests(self.root):
            return "dev"
        return named

    @property
    def version_text(self) -> str:
        """The version as shown to readers.

        A release shows its number; a development build says that it is one: "development version
        (after release 26.0.0)" when that release's snapshot exists, "development version (26.0.0 not
        yet released)" when the version named in ``VERSION`` has no released snapshot yet.
        """
        if self.version != "dev":
            return self.version
        named = read_version(self.root)
        if (self.root / "results" / f"{named}.json").exists():
            return f"development version (after release {named})"
        return f"development version ({named} not yet released)"

    @functools.cached_property
    def flow_versions(self) -> list[dict[str, Any]]:
        """The PRISMA flow of every version, oldest first, counted from the screening record."""
        sets = {str(s.get("label") or key): dict(s.get("where") or {})
                for key, s in self.plan.evidence_sets.items()}
        return flow_versions(self.evidence.records("search_flow"), self.screening_rows,
                             _plain_rows(self.studies), self.source_names, self.source_kinds,
                             hits=self._rows_of("search_hits"), searches=self._rows_of("searches"),
                             reports=self._rows_of("reports"), study_sets=sets,
                             reason_labels=self.code_labels("screening").get("reason_code", {}))

    def _rows_of(self, name: str) -> list[dict[str, Any]]:
        """The rows of a table of the evidence base as plain rows; none when the table is absent."""
        return _plain_rows(self.evidence[name]) if name in self.evidence else []

    @functools.cached_property
    def screening_rows(self) -> list[dict[str, Any]]:
        """The screening record as plain rows (empty cells as ``""``)."""
        if "screening" not in self.evidence:
            return []
        return _plain_rows(self.evidence["screening"])

    @functools.cached_property
    def search_strategy(self) -> dict[str, Any]:
        """The search strategy (``data/search_strategy.yaml``; empty when there is none)."""
        path = self.data_dir / "search_strategy.yaml"
        return dict(load_yaml(path) or {}) if path.exists() else {}

    @property
    def source_names(self) -> dict[str, str]:
        """Source id -> name, in the order of the strategy (searched sources, then other ones)."""
        items = [*(self.search_strategy.get("sources") or []),
                 *(self.search_strategy.get("other_sources") or [])]
        return {str(s["id"]): str(s.get("name") or s["id"]) for s in items if isinstance(s, dict) and s.get("id")}

    @property
    def source_kinds(self) -> dict[str, str]:
        """Source id -> kind (``database``, ``register``, ``other``) from the strategy."""
        items = [*(self.search_strategy.get("sources") or []),
                 *(self.search_strategy.get("other_sources") or [])]
        return {str(s["id"]): str(s.get("kind") or "database") for s in items if isinstance(s, dict) and s.get("id")}

    @property
    def last_search(self) -> str:
        """Date of the latest search in the search log (ISO), or ``""`` when the log is empty."""
        dates = self.evidence["searches"]["search_date"].dropna()
        return str(max(pd.Timestamp(d).date() for d in dates)) if len(dates) else ""

    @property
    def data_date(self) -> str:
        """Date of the latest search (ISO)."""
        return data_date({"versions": self.flow_versions}).isoformat()

    def synthesis(self, evidence_set: str = "review") -> dict[str, OutcomeSynthesis]:
        """Primary analysis of every outcome for an evidence set (cached)."""
        return self._synthesis(evidence_set)

    @functools.cache  # noqa: B019 - one Review per kernel, cached for its lifetime
    def _synthesis(self, evidence_set: str) -> dict[str, OutcomeSynthesis]:
        # each outcome computed once per build for every chapter and the snapshot, and kept for the next build
        # (analysis.living.buildcache): after one count changed, only the outcomes reading it are fitted again
        return synthesise(self.studies, self.outcomes, self.vocabulary, self.plan, evidence_set, one=cached)

    @property
    def primary_outcome(self) -> str:
        """Id of the primary outcome (the first with role ``primary``)."""
        return next(k for k, v in self.vocabulary.items() if v.get("role") == "primary")

    def focus_outcomes(self) -> list[str]:
        """The primary outcome and every other outcome the plan's few-study rules pool."""
        synth = self.synthesis()
        pooled = [k for k, s in synth.items() if s.pooled and k != self.primary_outcome]
        return [self.primary_outcome, *pooled]

    # ----------------------------------------------------------------- robustness panel
    def optional_table(self, name: str) -> pd.DataFrame:
        """A table of the data package, or ``data/<name>.csv`` read as text when the package does not declare it;
        an empty frame when neither exists (tables other parts of the review may not have yet)."""
        if name in self.evidence.names:
            return self.evidence[name]
        path = self.data_dir / f"{name}.csv"
        if not path.is_file():
            return pd.DataFrame()
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])

    @functools.cached_property
    def robustness_plan(self) -> Any:
        """The plan's ``robustness`` section (:class:`analysis.evidence.multiverse.RobustnessPlan`), or None."""
        from analysis.evidence.multiverse import RobustnessPlan

        candidates = None
        if self.plan_raw.get("robustness", {}).get("methods") == "simulation_candidates":
            path = self.data_dir / "simulation_plan.yaml"
            if not path.is_file():
                raise ValueError("analysis plan: robustness.methods is simulation_candidates, but "
                                 f"{path.relative_to(self.root)} does not exist")
            candidates = list(load_yaml(path).get("candidates") or [])
        return RobustnessPlan.from_plan(self.plan_raw, self.plan, candidates)

    def robustness_specifications(self, outcome: str, evidence_set: str = "review") -> list[Any]:
        """Every specification of the robustness panel of one outcome (:func:`analysis.evidence.multiverse.specifications`)."""
        from analysis.evidence.multiverse import alternative_sets, overlap_sets, specifications

        rplan = self.robustness_plan
        if rplan is None:
            return []
        known = [str(s) for s in self.studies["study_id"]]
        extra = []
        if rplan.overlap_swaps:
            extra += overlap_sets(self.optional_table("overlap"), self.labels, known)
        if rplan.alternative_readings:
            extra += alternative_sets(self.optional_table("count_alternatives"), self.labels, known,
                                      list(self.vocabulary))
        selected = select_studies(self.studies, self.plan.evidence_sets[evidence_set].get("where", {}))
        return specifications(outcome, selected, self.set_studies(evidence_set), self.outcomes, self.plan, rplan,
                              self.vocabulary, extra, self.labels)

    def set_studies(self, evidence_set: str = "review") -> pd.DataFrame:
        """Studies of an evidence set (any status)."""
        where = dict(self.plan.evidence_sets[evidence_set].get("where", {}))
        where.pop("status", None)
        return select_studies(self.studies, where)


    def fields(self, table: str) -> dict[str, dict[str, Any]]:
        """Table Schema fields of a table, by name."""
        resource = self.evidence.package.resource(table)
        return {
            f.name: {"title": f.title or f.name, "description": f.description, "enum": f.enum}
            for f in resource.schema.fields
        }

    # ----------------------------------------------------------------- certainty
    def certainty(self) -> pd.DataFrame:
        """GRADE certainty per outcome from the judgements in ``grade.csv`` (indexed by outcome)."""
        spec = self.plan_raw.get("certainty", {})
        try:
            judgements = self.evidence["grade"]
        except KeyError:
            judgements = pd.DataFrame(columns=["outcome", "domain", "rating", "reason"])
        k = {o: s.k for o, s in self.synthesis().items()}
        return certainty_table(judgements, k, start=spec.get("start", "low"), levels=spec.get("levels"))

    # ----------------------------------------------------------------- versions
    def snapshot_payload(self) -> dict[str, Any]:
        """JSON-safe results of this tree: studies, and per outcome (and subgroup) the pooled numbers.

        Computed once per review (a page asks for it several times: the answer, the changes, the history);
        each call returns a copy, which the caller may change.
        """
        return copy.deepcopy(self._snapshot_payload)

    @functools.cached_property
    def _snapshot_payload(self) -> dict[str, Any]:
        cert = self.certainty()
        outcomes = []
        for evidence_set in self.plan.evidence_sets:
            for outcome, synth in self.synthesis(evidence_set).items():
                record = synth.to_dict()
                record.update(evidence_set=evidence_set, subgroup="all")
                if evidence_set == "review":
                    record["certainty"] = str(cert.loc[outcome, "certainty"])
                outcomes.append(json_safe(record))
                outcomes.extend(self._subgroup_records(synth, evidence_set))
        studies = [json_safe(r) for r in self.studies.to_dict(orient="records")]
        return {"studies": studies, "outcomes": outcomes, "evidence": self._evidence_section()}

    def _evidence_section(self) -> dict[str, Any]:
        """Counts, judgements, amendments and labels that :func:`~analysis.living.whatchanged.evidence_log` compares."""
        from analysis.living.whatchanged import evidence_section

        def records(name: str) -> list[dict[str, Any]]:
            try:
                return [json_safe(r) for r in self.evidence[name].astype(object).to_dict(orient="records")]
            except KeyError:
                return []

        counts = [json_safe(r) for r in self.outcomes.drop(columns=["label"]).astype(object).to_dict(orient="records")]
        return evidence_section(
            counts=counts, risk_of_bias=records("risk_of_bias"), certainty=records("grade"),
            amendments=records("protocol_amendments"), study_labels=self.labels,
            outcome_labels={k: str(v.get("label", k)) for k, v in self.vocabulary.items()},
            code_labels=self.code_labels(), field_titles=self.field_titles(),
        )

    @functools.cached_property
    def datapackage(self) -> dict[str, Any]:
        """The data package descriptor (``data/datapackage.yaml``), read once, like the data it describes.

        Callers read it; they must not change it.
        """
        return load_yaml(self.data_dir / "datapackage.yaml") or {}

    def code_labels(self, table: str | None = None) -> dict[str, dict[str, str]]:
        """Words for coded values (the ``x-labels`` of enum fields in the data package), per field name.

        With ``table``, only that table's fields; without, every table's (the first table naming a
        field wins).
        """
        out: dict[str, dict[str, str]] = {}
        for resource in self.datapackage.get("resources", []):
            if table is not None and resource.get("name") != table:
                continue
            for f in resource.get("schema", {}).get("fields", []):
                if isinstance(f.get("x-labels"), dict):
                    out.setdefault(str(f["name"]), {str(k): str(v) for k, v in f["x-labels"].items()})
        return out

    def field_titles(self, table: str | None = None) -> dict[str, str]:
        """The title of each field of the data package (its ``title``), per field name.

        With ``table``, only that table's fields; without, every table's (the first table naming a
        field wins). Fields without a title are left out.
        """
        out: dict[str, str] = {}
        for resource in self.datapackage.get("resources", []):
            if table is not None and resource.get("name") != table:
                continue
            for f in resource.get("schema", {}).get("fields", []):
                if f.get("title"):
                    out.setdefault(str(f["name"]), str(f["title"]))
        return out

    def release_trigger(self) -> str | None:
        """The trigger recorded by the release of this version (``results/<version>.json``), or None for dev."""
        path = self.root / "results" / f"{self.version}.json"
        if self.version == DEV or not path.is_file():
            return None
        return read_snapshot(path).trigger

    def _subgroup_records(self, synth: OutcomeSynthesis, evidence_set: str) -> list[dict[str, Any]]:
        """Per subgroup level, the same few-study rules as the whole outcome (a single study: exact CI)."""
        records = []
        if not synth.pooled:
            return records
        for spec in self.plan.subgroups:
            for level in spec.get("levels", []):
                rows = synth.rows.loc[synth.rows[spec["column"]] == level].reset_index(drop=True)
                if rows.empty:
                    continue
                sub = cached(synthesis_of, synth.outcome, {"label": synth.label, "role": synth.role}, rows, self.plan)
                record = sub.to_dict()
                record.update(evidence_set=evidence_set, subgroup=f"{spec['id']}={level}")
                records.append(json_safe(record))
        return records

    def current_snapshot(self) -> Snapshot:
        """This tree's results wrapped as a snapshot (version from VERSION, or dev), with its answer."""
        latest = self.flow_versions[-1]
        return make_snapshot(
            self.snapshot_payload(), version=self.version, date=dt.date.fromisoformat(self.data_date),
            trigger=self.release_trigger() or str(latest.get("trigger", "")), package_version=__version__,
            data_files=data_digests(self.root), private_data_used=private_data_present(self.root),
            answer=self.answer().to_dict(),
        )

    # ----------------------------------------------------------------- has the answer changed?
    def alert_rules(self) -> Any:
        """The plan's decision rules of when the answer changed (:class:`analysis.living.alerts.AlertRules`), or None."""
        from analysis.living.alerts import AlertRules

        return AlertRules.from_plan(self.plan_raw)

    def answer(self) -> Any:
        """Whether the answer changed since the previous release (:class:`analysis.living.alerts.Answer`)."""
        from analysis.living.alerts import evaluate

        previous = self.previous_snapshot()
        return evaluate(self.alert_rules(), previous.results if previous else None, self.snapshot_payload(),
                        previous.version if previous else None)

    def previous_snapshot(self) -> Snapshot | None:
        """The latest released snapshot older than this version (None for the first version)."""
        return previous_snapshot(self.root / "results", self.version)


# --------------------------------------------------------------------- helpers
def _vocabulary(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {str(r["id"]): {k: r[k] for k in frame.columns} for _, r in frame.iterrows()}


def study_labels(bib: Path, studies: pd.DataFrame) -> dict[str, str]:
    """study_id -> the citation label of its BibTeX entry (:func:`~analysis.evidence.bibliography.citation_labels`).

    "Surname year", with a letter for same-author same-year works ("Rejeski 2023a"); "Venue year
    (authors not yet identified)" for an entry without a real author list; the study id only when the
    entry is missing or has no year.
    """
    cited = citation_labels(parse_bibliography(bib).entries)
    return {str(r["study_id"]): cited.get(str(r["bibkey"]), str(r["study_id"])) for _, r in studies.iterrows()}



def json_safe(value: Any) -> Any:
    """Plain JSON types: missing values become None, numpy/pandas scalars become Python ones."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _plain_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a table as dicts, missing cells as ``""`` (dates stay dates)."""
    return [{k: ("" if (v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT) else v)
             for k, v in row.items()} for row in table.to_dict("records")]
