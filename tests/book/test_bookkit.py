"""What the chapters call (:mod:`analysis.book.bookkit`), without a Jupyter kernel.

The :class:`Review` runs on a temporary copy of the review's real ``data/`` (without private patient
files), ``references.bib``, ``VERSION``, ``CITATION.cff`` and ``_config.yml``. Expected values are
recomputed here from the raw files with the ``csv`` and ``yaml`` modules and direct engine calls,
so the tests follow the evidence as it grows instead of pinning today's numbers.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
from html import escape as html_escape
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from analysis import metaprop
from analysis.book import bookkit
from analysis.book.bookkit import Review, find_root
from analysis.evidence.grade import rate
from analysis.evidence.pipeline import engine_options
from tests.provenance_parse import count_details, quote_of

ROOT = Path(__file__).resolve().parents[2]


def _copy_review(dest: Path) -> Path:
    shutil.copytree(ROOT / "data", dest / "data", ignore=shutil.ignore_patterns("private"))
    for name in ("references.bib", "VERSION", "CITATION.cff", "_config.yml"):
        shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy_review(tmp_path_factory.mktemp("review"))


@pytest.fixture(scope="module")
def rv(root: Path) -> Review:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("REVIEW_BUILD_VERSION", raising=False)  # set by versioned-site builds only
        review = Review(root)
        assert review.version  # cached while the variable is unset
    return review


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


PLAN = _yaml(ROOT / "data" / "analysis_plan.yaml")
VOCABULARY = [o["id"] for o in _yaml(ROOT / "data" / "outcomes.yaml")["outcomes"]]


def _expected_rows(root: Path, evidence_set: str, outcome: str) -> list[dict[str, str]]:
    """Rows of one outcome for the studies of an evidence set, dated ones first by date, then by id."""
    where = PLAN["evidence_sets"][evidence_set]["where"]
    studies = {
        s["study_id"]: s
        for s in _csv(root / "data" / "studies.csv")
        if all(s[c] in (v if isinstance(v, list) else [v]) for c, v in where.items())
    }
    excluded = PLAN.get("primary_excludes", {})
    studies = {k: v for k, v in studies.items() if not any(v.get(c) in vals for c, vals in excluded.items())}
    every = [r for r in _csv(root / "data" / "outcomes.csv") if r["study_id"] in studies]
    levels = PLAN.get("outcome_hierarchy", {}).get(outcome, {}).get("prefer")
    if levels is None:
        rows = [r for r in every if r["outcome"] == outcome]
    else:  # the plan's order of preference: first level with a row, larger denominator among equals
        rank = {o: i for i, level in enumerate(levels) for o in (level if isinstance(level, list) else [level])}
        best: dict[str, dict[str, str]] = {}
        for r in every:
            if r["outcome"] not in rank or not r["events"] or not r["total"]:
                continue
            old = best.get(r["study_id"])
            if old is None or (rank[r["outcome"]], -int(r["total"])) < (rank[old["outcome"]], -int(old["total"])):
                best[r["study_id"]] = r
        rows = list(best.values())

    def key(row: dict[str, str]) -> tuple[int, str, str]:
        date = studies[row["study_id"]]["publication_date"]
        return (0 if date else 1, date, row["study_id"])

    return sorted(rows, key=key)


# ---------------------------------------------------------------- find_root
def test_find_root_from_nested_folders(root: Path) -> None:
    nested = root / "book" / "deep" / "er"
    nested.mkdir(parents=True)
    assert find_root(nested) == root.resolve()
    assert find_root(root) == root.resolve()
    assert find_root(root / "data" / "studies.csv") == root.resolve()


def test_find_root_names_the_start_when_there_is_none(tmp_path: Path) -> None:
    if any((p / "_config.yml").exists() for p in (tmp_path, *tmp_path.parents)):
        pytest.skip("a _config.yml exists above the temporary folder")
    with pytest.raises(FileNotFoundError, match=r"no _config\.yml at or above") as info:
        find_root(tmp_path)
    assert str(tmp_path.resolve()) in str(info.value)


def test_find_root_of_this_repository() -> None:
    assert find_root(ROOT / "book") == ROOT


# ---------------------------------------------------------------- labels

def test_review_labels_end_with_the_bibtex_year(rv: Review, root: Path) -> None:
    from analysis.evidence.bibliography import parse_bibliography

    years = {e.key: e.fields.get("year", "") for e in parse_bibliography(root / "references.bib").entries}
    studies = _csv(root / "data" / "studies.csv")
    assert set(rv.labels) == {s["study_id"] for s in studies}
    for study in studies:
        label = rv.labels[study["study_id"]]
        assert label != study["study_id"], "a study label is never the raw study id"
        year = years[study["bibkey"]]
        assert re.search(rf" {year}[a-z]?( \(authors not yet identified\))?$", label), (study["study_id"], label)
    assert len(set(rv.labels.values())) == len(rv.labels), "two studies share a label"


# ---------------------------------------------------------------- basic facts
def test_version_and_data_date(rv: Review, root: Path) -> None:
    named = (root / "VERSION").read_text(encoding="utf-8").strip()
    released = (root / "results" / f"{named}.json").exists()
    assert rv.version == (named if released else "dev")
    flow = _yaml(root / "data" / "search_flow.yaml")
    assert rv.data_date == max(str(v["search_date"]) for v in flow["versions"])


def test_version_from_the_build_environment(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEW_BUILD_VERSION", "99.2.1")
    review = Review(root)
    assert review.version == review.version_text == "99.2.1"


def test_version_release_or_dev_against_the_released_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No snapshot: a development version (not yet released), in the version line and the citation.
    A snapshot of identical data: the release in VERSION. Changed data after it: dev again."""
    from analysis.living.snapshot import write_snapshot

    monkeypatch.delenv("REVIEW_BUILD_VERSION", raising=False)
    root = _copy_review(tmp_path)
    released = (root / "VERSION").read_text(encoding="utf-8").strip()
    shutil.rmtree(root / "results", ignore_errors=True)
    first = Review(root)
    assert first.version == "dev"
    assert first.version_text == f"development version ({released} not yet released)"
    assert "not yet released" in first.citation() and f"version {released}" not in first.citation()
    monkeypatch.setenv("REVIEW_BUILD_VERSION", released)  # the release tool's build of that version
    snapshot = Review(root).current_snapshot()
    monkeypatch.delenv("REVIEW_BUILD_VERSION")
    (root / "results").mkdir()
    write_snapshot(root / "results" / f"{released}.json", snapshot)
    release = Review(root)
    assert release.version == release.version_text == released
    assert f"version {released};" in release.citation()
    with (root / "data" / "outcomes.yaml").open("a", encoding="utf-8") as handle:
        handle.write("# SYNTHETIC edit after the release\n")
    dev = Review(root)
    assert dev.version == "dev"
    assert dev.version_text == f"development version (after release {released})"
    assert f"(after release {released})" in dev.citation()


def test_dev_citation_reads_well(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEW_BUILD_VERSION", "dev")
    text = Review(_copy_review(tmp_path)).citation()
    assert "version development version" not in text
    assert ") (" not in text


def test_primary_outcome_is_the_vocabulary_primary(rv: Review) -> None:
    outcomes = _yaml(ROOT / "data" / "outcomes.yaml")["outcomes"]
    assert rv.primary_outcome == next(o["id"] for o in outcomes if o["role"] == "primary")


# ---------------------------------------------------------------- synthesis
@pytest.mark.parametrize("evidence_set", list(PLAN["evidence_sets"]))
def test_synthesis_matches_the_files(rv: Review, root: Path, evidence_set: str) -> None:
    synth = rv.synthesis(evidence_set)
    assert list(synth) == VOCABULARY
    minimum = PLAN["min_studies_to_pool"]
    for outcome, s in synth.items():
        rows = _expected_rows(root, evidence_set, outcome)
        assert s.rows["study_id"].tolist() == [r["study_id"] for r in rows], outcome
        assert s.k == len(rows)
        assert s.total_n == sum(int(r["total"]) for r in rows)
        if len(rows) < minimum:
            assert not s.pooled
            assert s.display == ("none" if not rows else "single" if len(rows) == 1 else "side_by_side")
        if not s.pooled:  # no model: each study's own proportion with its exact interval
            assert s.result is None
            assert s.studies["events"].tolist() == [int(r["events"]) for r in rows]
            continue
        direct = metaprop([int(r["events"]) for r in rows], [int(r["total"]) for r in rows],
                          **engine_options(PLAN["primary"]))
        for name in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2"):
            assert math.isclose(getattr(s.result, name), getattr(direct, name), rel_tol=1e-12, abs_tol=1e-15)
        assert s.result.studies["label"].tolist() == [rv.labels[r["study_id"]] for r in rows]


def test_synthesis_is_computed_once(rv: Review) -> None:
    assert rv.synthesis() is rv.synthesis("review")


def test_focus_outcomes(rv: Review, root: Path) -> None:
    poolable = [o for o in VOCABULARY if rv.synthesis()[o].pooled]
    assert all(len(_expected_rows(root, "review", o)) >= PLAN["min_studies_to_pool"] for o in poolable)
    primary = rv.primary_outcome
    assert rv.focus_outcomes() == [primary, *[o for o in poolable if o != primary]]


# ---------------------------------------------------------------- certainty
def test_certainty_from_grade_csv(rv: Review, root: Path) -> None:
    spec = PLAN["certainty"]
    judgements = _csv(root / "data" / "grade.csv")
    table = rv.certainty()
    assert list(table.index) == VOCABULARY
    for outcome in VOCABULARY:
        k = len(_expected_rows(root, "review", outcome))
        mine = [j["rating"] for j in judgements if j["outcome"] == outcome]
        if k == 0:
            assert table.loc[outcome, "certainty"] == "no evidence"
        else:
            assert table.loc[outcome, "certainty"] == rate(spec["start"], mine, spec["levels"])
            if not mine:
                assert table.loc[outcome, "reasons"] == "not yet assessed; shown at the starting level"
        assert table.loc[outcome, "certainty"] in {*spec["levels"], "no evidence"}


# ---------------------------------------------------------------- snapshot payload
def test_snapshot_payload_is_strict_json(rv: Review, root: Path) -> None:
    payload = rv.snapshot_payload()
    text = json.dumps(payload, allow_nan=False)  # raises on NaN or on a non-JSON type
    assert "NaN" not in text
    back = json.loads(text)
    assert [s["study_id"] for s in back["studies"]] == [s["study_id"] for s in _csv(root / "data" / "studies.csv")]
    overall = {(o["evidence_set"], o["outcome"]): o for o in back["outcomes"] if o["subgroup"] == "all"}
    assert set(overall) == {(e, o) for e in PLAN["evidence_sets"] for o in VOCABULARY}
    certainty = rv.certainty()
    for (evidence_set, outcome), record in overall.items():
        rows = _expected_rows(root, evidence_set, outcome)
        assert record["k"] == len(rows)
        assert record["studies"] == [r["study_id"] for r in rows]
        synth = rv.synthesis(evidence_set)[outcome]
        assert ("result" in record) == (synth.pooled or len(rows) == 1)
        if len(rows) == 1:  # a single study is its own proportion with its exact interval, never a model
            assert record["result"]["method"] == "single study"
            assert record["result"]["estimate"] == int(rows[0]["events"]) / int(rows[0]["total"])
        if evidence_set == "review":
            assert record["certainty"] == certainty.loc[outcome, "certainty"]


def test_snapshot_subgroup_records(rv: Review) -> None:
    payload = rv.snapshot_payload()
    for record in payload["outcomes"]:
        if record["subgroup"] == "all":
            continue
        group, level = record["subgroup"].split("=", 1)
        spec = next(s for s in PLAN["subgroups"] if s["id"] == group)
        rows = rv.synthesis(record["evidence_set"])[record["outcome"]].rows
        chosen = rows.loc[rows[spec["column"]] == level]
        assert record["k"] == len(chosen) > 0
        assert record["n"] == int(chosen["total"].sum())
        if len(chosen) < PLAN["min_studies_to_pool"]:
            assert not record["pooled"]
        if len(chosen) == 1:
            assert record["result"]["estimate"] == chosen["events"].iloc[0] / chosen["total"].iloc[0]
            assert record["result"]["method"] == "single study"
        elif not record["pooled"]:
            assert "result" not in record
        else:
            direct = metaprop(chosen["events"].to_numpy(int), chosen["total"].to_numpy(int),
                              **engine_options(PLAN["primary"]))
            assert math.isclose(record["result"]["estimate"], direct.estimate, rel_tol=1e-12)


# ---------------------------------------------------------------- citation
def test_citation(rv: Review, root: Path) -> None:
    cff = _yaml(root / "CITATION.cff")
    flow = _yaml(root / "data" / "search_flow.yaml")
    date = max(str(v["search_date"]) for v in flow["versions"])
    version = (root / "VERSION").read_text(encoding="utf-8").strip()
    names = ", ".join(a.get("name") or a["family-names"] for a in cff["authors"])
    released = (root / "results" / f"{version}.json").exists()
    shown = f"version {version}" if released else f"development version ({version} not yet released)"
    expected = f"{names}. {cff['title']}. Living systematic review, {shown}; data searched up to {date}."
    if cff.get("doi"):
        expected += f" doi:{cff['doi']}"
    assert rv.citation() == expected


def test_citation_with_doi_and_person_authors(tmp_path: Path) -> None:
    root = _copy_review(tmp_path)
    cff = _yaml(root / "CITATION.cff")
    cff["authors"] = [{"family-names": "Synthetic", "given-names": "A."}, {"name": "SYNTHETIC Consortium"}]
    cff["doi"] = "10.0000/synthetic.1"
    (root / "CITATION.cff").write_text(yaml.safe_dump(cff, allow_unicode=True), encoding="utf-8")
    (root / "VERSION").write_text("99.1.2\n", encoding="utf-8")
    text = Review(root).citation()
    assert text.startswith(f"Synthetic, SYNTHETIC Consortium. {cff['title']}. Living systematic review, development version (99.1.2 not yet released);")
    assert text.endswith(" doi:10.0000/synthetic.1")


# ---------------------------------------------------------------- glued values (home and methods pages)
@pytest.fixture
def glued(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Capture what the chapters would glue (no kernel, no myst_nb)."""
    from analysis.book import bookkit

    values: dict[str, Any] = {}
    monkeypatch.setattr(bookkit, "_glue", values.__setitem__)
    return values


def test_key_findings_match_the_files(rv: Review, root: Path, glued: dict[str, Any]) -> None:
    from analysis.book import report

    rv.glue_key_findings()
    where = {k: v for k, v in PLAN["evidence_sets"]["review"]["where"].items() if k != "status"}
    studies = [s for s in _csv(root / "data" / "studies.csv") if all(s[c] == v for c, v in where.items())]
    included = [s for s in studies if s["status"] == "included"]
    size = PLAN["presentation"]["size_column"]
    assert glued["n_included"] == str(len(included))
    assert glued["n_patients"] == str(sum(int(s[size]) for s in included if s[size]))
    assert glued["n_awaiting"] == str(sum(s["status"] == "awaiting_data" for s in studies))
    named = (root / "VERSION").read_text(encoding="utf-8").strip()
    released = (root / "results" / f"{named}.json").exists()
    assert glued["version"] == (named if released else f"development version ({named} not yet released)")
    assert glued["version_line"] == (f"Version {named}" if released else f"Development version ({named} not yet released)")
    assert glued["data_date"] == rv.data_date
    sentences = rv.key_sentences()
    assert 1 <= len(sentences) <= 3
    assert glued["key_findings"] == " ".join(sentences)
    primary = rv.synthesis()[rv.primary_outcome]
    if primary.pooled:
        assert report.estimate_with_ci(primary.result) in sentences[0]
        assert "the median of the studies' true proportions" in sentences[0]
    unpooled = [s for o, s in rv.synthesis().items() if o != rv.primary_outcome and s.k and not s.pooled]
    if unpooled:
        assert "Not pooled: " in glued["key_findings"]
    for synth in unpooled:  # one study reads as its own proportion, others give the plan's reason
        words = "one study: shown as its own proportion" if synth.display == "single" else synth.reason
        assert f"{synth.label[0].lower() + synth.label[1:]} ({words})" in glued["key_findings"]
    assert "too inconsistent" not in glued["key_findings"] and "true response" not in glued["key_findings"]
    assert "None has a comparator" in glued["key_findings"]  # a proportion after the boost is not its effect
    assert "**" not in glued["key_findings"]
    assert glued["primary_certainty"] == rv.certainty().loc[rv.primary_outcome, "certainty"]
    assert glued["citation"] == rv.citation()
    for name, value in glued.items():
        assert isinstance(value, str) and value, name
        assert not re.search(r"\bnan\b|<NA>", value, re.IGNORECASE), (name, value)


def test_methods_glue(rv: Review, glued: dict[str, Any]) -> None:
    rv.glue_methods()
    assert glued["min_pool"] == str(PLAN["min_studies_to_pool"])
    pooled = [s for s in rv.synthesis().values() if s.pooled]
    if pooled:
        assert glued["primary_methods"].endswith(pooled[0].result.methods_text())
        assert f"({pooled[0].label.lower()})" in glued["primary_methods"]
    else:
        assert "no outcome has enough studies to pool yet" in glued["primary_methods"]


def test_sensitivity_tables_show_no_nan(rv: Review) -> None:
    from analysis.book.bookkit import _interval_table
    from analysis.evidence.pipeline import sensitivity_methods, sensitivity_subsets

    for outcome in rv.focus_outcomes():
        rows = rv.synthesis()[outcome].rows
        if rows.empty:
            continue
        excluded = rv.synthesis()[outcome].excluded
        for frame in (sensitivity_methods(rows, rv.plan), sensitivity_subsets(rows, rv.plan, excluded)):
            table = _interval_table(frame).drop(columns=["Notes"])  # engine notes may explain a NaN in words
            text = table.astype(str).to_string()
            assert not re.search(r"\bnan\b|<NA>", text, re.IGNORECASE), (outcome, text)


# ---------------------------------------------------------------- few-study rules on the pages
def test_cumulative_steps_follow_the_few_study_rules(rv: Review) -> None:
    """SYNTHETIC three studies: step 1 is the first study alone (exact CI), step 2 (two studies) is dropped."""
    from analysis.book.bookkit import _cumulative_by_the_rules
    from analysis.engine.sensitivity import cumulative

    rows = pd.DataFrame({"label": ["A", "B", "C"], "events": [12, 5, 26], "total": [12, 5, 31]})
    df = cumulative(rows["events"], rows["total"], labels=rows["label"].to_list(),
                    **engine_options(PLAN["primary"])).rename(columns={"added": "label"})
    kept, dropped = _cumulative_by_the_rules(df, rows, rv.plan)
    assert dropped == ["B"]
    assert kept["label"].tolist() == ["A", "C"]
    assert (kept.loc[0, "estimate"], kept.loc[0, "ci_upper"]) == (1.0, 1.0)  # 12/12, no continuity correction
    assert math.isclose(kept.loc[0, "ci_lower"], 0.025 ** (1 / 12), rel_tol=1e-12)
    assert math.isclose(kept.loc[1, "estimate"], df.loc[2, "estimate"], rel_tol=1e-15)


def test_methods_words_come_from_the_plan(rv: Review, glued: dict[str, Any]) -> None:
    rv.glue_methods()
    rules = glued["few_study_rules"]
    assert f"With fewer than {PLAN['min_studies_to_pool']} studies" in rules
    assert "k - 1 degrees of freedom" in rules and "k - 2" in rules
    for outcome, spec in PLAN.get("outcome_hierarchy", {}).items():
        assert str(rv.vocabulary[outcome]["label"]).lower() in glued["hierarchy_text"].lower()
        for level in spec["prefer"]:
            for o in level if isinstance(level, list) else [level]:
                assert str(rv.vocabulary[o]["label"]).lower() in glued["hierarchy_text"].lower(), o


def test_protocol_amendments_are_shown_with_their_dates(rv: Review, root: Path) -> None:
    html = rv.protocol_amendments().data
    for row in _csv(root / "data" / "protocol_amendments.csv"):
        assert row["date"] in html and row["section"] in html
    assert "After results were seen" in html


# ---------------------------------------------------------------- codes as words, study cards, extraction
_CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")  # snake_case codes such as awaiting_data, post_car_t


def _shown(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    out: list[str] = []
    monkeypatch.setattr(bookkit, "_display", lambda *objs: out.extend(getattr(o, "data", str(o)) for o in objs))
    return out


def test_in_words_uses_the_packages_labels_and_never_leaves_codes(rv: Review) -> None:
    words = rv.in_words(rv.studies, "studies")
    labels = rv.code_labels("studies")
    for name, mapping in labels.items():
        for code, value in zip(rv.studies[name], words[name], strict=True):
            if isinstance(code, str):
                assert value == mapping.get(code, code.replace("_", " "))
    assert not words["study_id"].isin(rv.studies["study_id"]).any()
    coded = ["status", "evidence", "design", "scb_source", "donor_type", "age_group"]
    assert not any(_CODE.fullmatch(str(v)) for v in words[coded].to_numpy().ravel())


def test_study_card_shows_no_ids_codes_or_curation_notes(rv: Review, monkeypatch: pytest.MonkeyPatch) -> None:
    provisional = rv.studies.loc[rv.studies["curation_note"].notna()]
    assert not provisional.empty
    for study_id in [*provisional["study_id"], rv.outcomes["study_id"].iloc[0]]:
        out = _shown(monkeypatch)
        rv.study_card(study_id)
        html = "".join(out)
        assert rv.labels[study_id] in html
        assert f">{study_id}<" not in html
        assert "PROVISIONAL" not in html and "rename" not in html
        for code in ("awaiting_data", "post_car_t", "pgf_context", "case_series", "transplant_donor",
                     "verified_abstract", "haematological_recovery", "retrospective_cohort"):
            assert code not in html, (study_id, code)


def test_extraction_note_counts_single_extracted_rows(rv: Review) -> None:
    rows = rv.outcomes.head(3).copy()
    rows["checked_by"] = [None, "SYNTHETIC checker", ""]
    assert rv.extraction_note(rows).startswith(f"{bookkit.SINGLE_MARK} Single extraction: 2 of 3 counts")
    assert f"{bookkit.DOUBLE_MARK} Double extraction: 1 of 3 counts shown here were extracted twice" in \
        rv.extraction_note(rows)
    rows["checked_by"] = "SYNTHETIC checker"
    assert rv.extraction_note(rows).startswith(f"{bookkit.DOUBLE_MARK} Double extraction: all 3 counts shown here")
    assert bookkit.SINGLE_MARK not in rv.extraction_note(rows)
    assert rv.extraction_note(rows.iloc[0:0]) == "No count is shown here."
    without = rv.outcomes.head(2).drop(columns=["checked_by"])
    assert rv.extraction_note(without).startswith(f"{bookkit.SINGLE_MARK} Single extraction: 2 of 2 counts")
    marked = rv.count_rows(rv.outcomes)[bookkit.COUNT_COLUMN]
    summaries = marked.str.extract(r"<summary>(.*?)</summary>", expand=False)
    unchecked = ~rv.outcomes["checked_by"].map(bookkit._checked)
    assert (summaries.str.contains(bookkit.SINGLE_MARK) == unchecked.to_numpy()).all()
    assert (summaries.str.contains(bookkit.DOUBLE_MARK) == ~unchecked.to_numpy()).all()
    counts = [f"{e}/{n}" for e, n in zip(rv.outcomes["events"], rv.outcomes["total"], strict=True)]
    assert [s.startswith(c) for s, c in zip(summaries, counts, strict=True)] == [True] * len(counts)


def test_included_table_keeps_key_columns_and_puts_the_rest_in_details(rv: Review) -> None:
    tables = PLAN["presentation"]["tables"]
    html = rv.included_table("review").data
    head, _, details = html.partition("<details")
    titles = {name: spec["title"] for name, spec in rv.fields("studies").items()}
    for name in tables["included_details"]:
        assert f"<th>{titles[name]}</th>" not in head
        assert f"<th>{titles[name]}</th>" in details
    assert "<th>Patients boosted</th>" in head or f"<th>{titles['n_boosted']}</th>" in head


def test_codes_in_text_become_words(rv: Review) -> None:
    assert rv.codes_in_text("Excluding designs: case_report") == "Excluding designs: case report"
    assert rv.codes_in_text("Excluding designs: case_report, retrospective_cohort") == (
        "Excluding designs: case report, retrospective cohort")
    assert rv.codes_in_text("SYNTHETIC unknown_code stays readable") == "SYNTHETIC unknown code stays readable"
    assert rv.codes_in_text("no codes here") == "no codes here"


def test_indirect_anchor_row_names_the_meta_analysis_by_its_label(rv: Review) -> None:
    anchor = rv._published_pooled()
    if anchor.empty:
        pytest.skip("no published pooled estimate in the data")
    row = bookkit._anchor_row("SYNTHETIC outcome", anchor.iloc[0], rv.labels)
    assert rv.labels[anchor.iloc[0]["bibkey"]] in row["Evidence"]
    assert f"({anchor.iloc[0]['bibkey']};" not in row["Evidence"]


def test_whole_numbers_drop_the_decimal_point_only_when_every_value_is_whole() -> None:
    frame = pd.DataFrame({"days": [69.0, None, 43.0], "dose": [3.4, 6.6, None], "name": ["a", "b", "c"]})
    out = bookkit._whole_numbers(frame)
    assert out["days"].tolist()[0] == 69 and str(out["days"].dtype) == "Int64" and pd.isna(out["days"][1])
    assert out["dose"].tolist()[:2] == [3.4, 6.6]
    assert out["name"].tolist() == ["a", "b", "c"]
    assert bookkit._whole_numbers(pd.DataFrame({"x": [float("nan")]}))["x"].isna().all()


def test_data_dictionary_names_the_words_shown_for_codes(rv: Review) -> None:
    field = next(f for f in rv.evidence.package.resource("studies").schema.fields if f.name == "status")
    rules = bookkit._field_row(field)["Rules"]
    for code, word in rv.code_labels("studies")["status"].items():
        assert f"{code} (shown as {word!r})" in rules


def test_changes_page_names_the_version_in_a_sentence(rv: Review, root: Path, glued: dict[str, Any]) -> None:
    rv.glue_changes()
    named = (root / "VERSION").read_text(encoding="utf-8").strip()
    released = (root / "results" / f"{named}.json").exists()
    expected = f"version {named}" if released else f"development version ({named} not yet released)"
    assert glued["changes_version"] == expected
    assert glued["changes_previous"] == "none (this is the first version)" or glued["changes_previous"] != named


def test_changes_page_shows_the_release_own_trigger_not_a_search_entry(
        tmp_path: Path, glued: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from analysis.living.snapshot import data_digests, make_snapshot, write_snapshot

    project = _copy_review(tmp_path / "p")
    monkeypatch.delenv("REVIEW_BUILD_VERSION", raising=False)
    version = (project / "VERSION").read_text(encoding="utf-8").strip()
    review = Review(project)
    review.glue_changes()
    assert glued["changes_trigger"].startswith("not released yet")
    assert "1 percentage point" in glued["changes_thresholds"]
    snap = make_snapshot({"studies": [], "outcomes": []}, version=version, date=pd.Timestamp("2026-12-02").date(),
                         trigger="correction of one count", package_version="0", data_files=data_digests(project),
                         private_data_used=False)
    write_snapshot(project / "results" / f"{version}.json", snap)
    review = Review(project)
    review.glue_changes()
    assert glued["changes_trigger"] == "correction of one count"
    assert review.current_snapshot().trigger == "correction of one count"


def test_changes_page_thresholds_come_from_the_plan(tmp_path: Path, glued: dict[str, Any]) -> None:
    project = _copy_review(tmp_path / "p")
    plan = project / "data" / "analysis_plan.yaml"
    plan.write_text(plan.read_text(encoding="utf-8") + "\nchanges: {estimate: 0.02, conclusion: 0.15}\n",
                    encoding="utf-8")
    Review(project).glue_changes()
    assert "at least 2 percentage points" in glued["changes_thresholds"]
    assert "at least 15 percentage points" in glued["changes_thresholds"]


def test_payload_evidence_section_holds_every_count_with_labels(rv: Review) -> None:
    section = rv.snapshot_payload()["evidence"]
    assert len(section["counts"]) == len(rv.outcomes)
    assert {(c["study_id"], c["outcome"]) for c in section["counts"]} == set(
        zip(rv.outcomes["study_id"], rv.outcomes["outcome"], strict=True))
    assert section["labels"]["studies"] == {str(k): str(v) for k, v in rv.labels.items()}
    assert len(section["risk_of_bias"]) == len(rv.evidence["risk_of_bias"])
    assert len(section["certainty"]) == len(rv.evidence["grade"])
    json.dumps(section, allow_nan=False)


# ---------------------------------------------------------------- provenance of every count shown
def test_every_selected_count_opens_on_its_own_quote_source_and_check(
    rv: Review, monkeypatch: pytest.MonkeyPatch
) -> None:
    from analysis.book.provenance import NO_QUOTE

    checked = 0
    for outcome, synth in rv.synthesis().items():
        if synth.k == 0:
            continue
        out = _shown(monkeypatch)
        rv.show_selection(synth)
        found = count_details("".join(out))
        assert len(found) == synth.k + len(synth.excluded), outcome
        for row, details in zip([*synth.rows.to_dict("records"), *synth.excluded.to_dict("records")], found,
                                strict=True):
            assert details["summary"].startswith(f"{row['events']}/{row['total']}"), outcome
            quote = quote_of(row)
            assert (quote or NO_QUOTE) in details["body"], (outcome, row["study_id"])
            urls = re.findall(r"https?://\S+", str(row.get("source") or ""))
            assert urls and urls[0].rstrip(").,;") in details["links"], (outcome, row["study_id"])
            assert ("†" in details["summary"]) == (not bookkit._checked(row.get("checked_by")))
            if isinstance(row.get("derivation"), str):
                assert row["derivation"] in details["body"]
            checked += 1
    assert checked >= len(rv.outcomes.loc[rv.outcomes["study_id"].isin(
        rv.set_studies().loc[lambda s: s["status"] == "included", "study_id"])]) - 1


def test_studies_table_gives_every_count_of_every_included_study(rv: Review) -> None:
    html = rv.included_table("review").data
    head = html.partition('<details class="study-details"')[0]
    found = count_details(head)
    included = rv.set_studies().loc[lambda s: s["status"] == "included", "study_id"]
    rows = rv.outcomes.loc[rv.outcomes["study_id"].isin(included)]
    assert len(found) == len(rows)
    for (_, row), details in zip(rows.iterrows(), found, strict=True):
        assert details["summary"].startswith(f"{row['events']}/{row['total']}")
        assert quote_of(row) in details["body"]
    assert f"<th>{bookkit.STUDY_COUNTS_COLUMN}</th>" in head


def test_study_card_counts_open_on_their_provenance(rv: Review, monkeypatch: pytest.MonkeyPatch) -> None:
    study = rv.outcomes["study_id"].iloc[0]
    out = _shown(monkeypatch)
    rv.study_card(study)
    found = count_details("".join(out))
    rows = rv.outcomes.loc[rv.outcomes["study_id"] == study]
    assert [re.split("[†✓]", d["summary"])[0] for d in found] == [f"{e}/{n}" for e, n in zip(rows["events"], rows["total"],
                                                                                         strict=True)]
    for (_, row), details in zip(rows.iterrows(), found, strict=True):
        assert quote_of(row) in details["body"]


# ---------------------------------------------------------------- summary of findings (GRADE format)
def test_summary_of_findings_in_grade_format(rv: Review) -> None:
    from analysis.evidence.grade import symbols

    html = rv.summary_of_findings().data
    cert = rv.certainty()
    grade = _csv(ROOT / "data" / "grade.csv")
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert len(rows) == len(rv.synthesis())
    for row, (outcome, synth) in zip(rows, rv.synthesis().items(), strict=True):
        level = cert.loc[outcome, "certainty"]
        judged = [g for g in grade if g["outcome"] == outcome]
        if synth.k and judged:
            assert f">{symbols(level)}</span> {level[0].upper() + level[1:]}" in row, outcome
            for g in judged:
                if g["rating"] != "not_serious":
                    assert html_escape(g["short_reason"]) in html  # its footnote
                assert html_escape(g["reason"]) in row  # the full reasoning, in the details view
        if synth.pooled:
            res = synth.result
            expected = (f"{round(100 * res.estimate)} per 100 ({round(100 * res.ci_lower)} to "
                        f"{round(100 * res.ci_upper)})")
            assert expected in row, outcome
        found = count_details(row)
        assert len(found) == synth.k
    footnotes = re.findall(r'<li id="sof-note-([a-z]+)">', html)
    assert footnotes == sorted(footnotes, key=lambda x: (len(x), x)) and len(set(footnotes)) == len(footnotes)
    shorts = {(g["domain"], g["short_reason"]) for g in grade if g["rating"] != "not_serious"
              and any(s.k for o, s in rv.synthesis().items() if o == g["outcome"])}
    assert len(footnotes) == len(shorts)


def test_unpooled_outcomes_are_shown_side_by_side_per_100(rv: Review) -> None:
    from analysis.evidence.pipeline import OutcomeSynthesis

    rows = pd.DataFrame({"study_id": ["s1", "s2"], "label": ["SYNTHETIC A", "SYNTHETIC B"], "events": [0, 5],
                         "total": [3, 5], "quote": ["none of 3", "all 5"], "source": ["p. 1", "p. 2"],
                         "confidence": ["verified_abstract"] * 2})
    synth = OutcomeSynthesis("agvhd", "Acute GVHD", "secondary", rows, None, display="side_by_side",
                             reason="SYNTHETIC conflict")
    row = rv.sof_row("agvhd", synth)
    assert row.effect == "SYNTHETIC A: 0 per 100 (0 to 71); SYNTHETIC B: 100 per 100 (48 to 100)"
    assert row.effect_note.startswith("Not pooled (SYNTHETIC conflict)")
    level = rv.certainty().loc["agvhd", "certainty"]
    if level != "very low":
        assert "between 0 and 100 of every 100 patients, depending on the study" in row.statement
    from analysis.evidence.grade import plain_statement

    assert plain_statement("low", synth.label, bookkit._absolute_effect(synth)[2]) == (
        "Acute GVHD may occur in between 0 and 100 of every 100 patients, depending on the study.")
    same = synth.__class__("x", "X", "secondary", rows.assign(events=[3, 5]), None, display="side_by_side",
                           reason="r")
    assert bookkit._absolute_effect(same)[2] == "about 100 of every 100 patients in each study"


def test_grade_wording_table_gives_every_level(rv: Review) -> None:
    html = rv.grade_wording().data
    for text in ("⊕⊕⊕⊕</span> High", "⊕⊕⊕◯</span> Moderate", "⊕⊕◯◯</span> Low", "⊕◯◯◯</span> Very low",
                 "The outcome occurs in about N", "probably occurs", "may occur", "The evidence is very uncertain"):
        assert text in html


def _shown_changes(project: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Text of what ``show_changes`` displays (markdown and HTML outputs joined)."""
    shown: list[str] = []
    monkeypatch.setattr(bookkit, "_display", lambda obj: shown.append(str(getattr(obj, "data", obj))))
    monkeypatch.delenv("REVIEW_BUILD_VERSION", raising=False)
    Review(project).show_changes()
    return "\n".join(shown)


def test_changes_page_with_nothing_changed_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from analysis.living.snapshot import data_digests, make_snapshot, write_snapshot

    project = _copy_review(tmp_path / "p")
    monkeypatch.delenv("REVIEW_BUILD_VERSION", raising=False)
    payload = Review(project).snapshot_payload()
    snap = make_snapshot(payload, version="25.9.0", date=pd.Timestamp("2025-12-01").date(), trigger="earlier",
                         package_version="0", data_files=data_digests(project), private_data_used=False)
    write_snapshot(project / "results" / "25.9.0.json", snap)
    assert _shown_changes(project, monkeypatch) == "No change to the evidence or the results."


def test_changes_page_names_a_corrected_count_and_the_result_it_moved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from analysis.living.snapshot import data_digests, make_snapshot, write_snapshot

    project = _copy_review(tmp_path / "p")
    monkeypatch.delenv("REVIEW_BUILD_VERSION", raising=False)
    review = Review(project)
    payload = review.snapshot_payload()
    count = next(c for c in payload["evidence"]["counts"] if c["total"] > c["events"] > 0)
    count["events"] += 1  # the earlier version had one event more (synthetic correction, test only)
    snap = make_snapshot(payload, version="25.9.0", date=pd.Timestamp("2025-12-01").date(), trigger="earlier",
                         package_version="0", data_files=data_digests(project), private_data_used=False)
    write_snapshot(project / "results" / "25.9.0.json", snap)
    text = _shown_changes(project, monkeypatch)
    study, outcome = review.labels[count["study_id"]], review.vocabulary[count["outcome"]]["label"]
    old, new = f"{count['events']}/{count['total']}", f"{count['events'] - 1}/{count['total']}"
    assert f"{study}, {outcome[0].lower() + outcome[1:]}: corrected from {old} to {new}" in text
    assert "None" not in text and "estimate_old" not in text


# ---------------------------------------------------------------- flow page


def test_flow_page_counts_each_sources_recorded_hits(rv: Review, root: Path) -> None:
    searches = {r["search_id"]: r for r in _csv(root / "data" / "searches.csv")}
    hits: dict[str, dict[str, int]] = {}
    per_search: dict[str, int] = {}
    for h in _csv(root / "data" / "search_hits.csv"):
        per_search[h["search_id"]] = per_search.get(h["search_id"], 0) + 1
    for sid, n in per_search.items():
        entry = hits.setdefault(searches[sid]["source_id"], {"searches": 0, "hits": 0})
        entry["searches"] += 1
        entry["hits"] += n
    text = rv.flow_searched_text()
    names = rv.source_names
    for source, entry in hits.items():
        assert f"{names[source]}: {entry['searches']} searches, {entry['hits']} results" in text
    assert f"the {sum(e['searches'] for e in hits.values())} searches whose results were recorded" in text


def test_flow_page_names_the_reruns_that_differ_from_their_log(rv: Review, root: Path) -> None:
    reruns = [r for r in _csv(root / "data" / "searches.csv") if r["rerun_of"]]
    text = rv.flow_reruns_text()
    assert f"of {len(reruns)} re-runs, {sum(r['rerun_result'] == 'as_logged' for r in reruns)} gave" in text
    table = rv.rerun_differences().data
    for r in reruns:
        assert (r["search_id"] in table) == (r["rerun_result"] != "as_logged"), r["search_id"]


def test_flow_page_reconciles_its_included_studies_with_the_home_page(rv: Review, root: Path) -> None:
    studies = {s["study_id"]: s for s in _csv(root / "data" / "studies.csv")}
    where = PLAN["evidence_sets"]["review"]["where"]
    home = [s for s in studies.values() if all(s[c] == v for c, v in where.items())]
    included = {r["study_id"] for r in _csv(root / "data" / "screening.csv")
                if r["decision"] == "include" and studies[r["study_id"]]["status"] == "included"}
    text = rv.flow_reconcile_text()
    assert text.startswith(f"The diagram counts {len(included)} included studies: {len(home)} in the evidence set")
    assert f"are the {len(home)} included studies the home page counts" in text
    assert f"All {len(home)} included studies" in " ".join(rv.key_sentences())


def test_flow_page_says_why_its_count_differs_from_the_home_page(tmp_path: Path) -> None:
    root = _copy_review(tmp_path)
    path = root / "data" / "screening.csv"
    rows = _csv(path)
    studies = {s["study_id"]: s for s in _csv(root / "data" / "studies.csv")}
    where = PLAN["evidence_sets"]["review"]["where"]
    late = next(s for s in studies.values() if all(s[c] == v for c, v in where.items()))["study_id"]
    for r in rows:  # every record of one included study found after the version's search
        if r["study_id"] == late:
            r["first_found"] = r["last_found"] = "2099-01-01"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    text = Review(root).flow_reconcile_text()
    home = sum(all(s[c] == v for c, v in where.items()) for s in studies.values())
    assert f"The home page counts {home} included studies of the review's own question, the diagram {home - 1}" in text


def test_one_change_table_lists_the_plan_then_each_single_change() -> None:
    """A SYNTHETIC panel: the plan's analysis, then the analyses that change one of its choices, in order."""
    nan = float("nan")
    rows = [  # method, inclusion, definition, plan, display, estimate, lower, upper
        ("m1", "all", "h", True, "pooled", 0.88, 0.52, 0.98),
        ("m2", "all", "h", False, "pooled", 0.85, 0.48, 0.97),
        ("m1", "fewer", "h", False, "side_by_side", nan, nan, nan),
        ("m2", "fewer", "h", False, "side_by_side", nan, nan, nan),  # two changes: not listed
        ("m1", "all", "s", False, "single", nan, nan, nan),
    ]
    panel = pd.DataFrame(rows, columns=["method", "inclusion", "definition", "plan", "display", "estimate",
                                        "ci_lower", "ci_upper"])
    panel = panel.assign(method_label=panel["method"].map({"m1": "GLMM-t", "m2": "Logit, REML"}),
                         inclusion_label=panel["inclusion"].map({"all": "All", "fewer": "Without Synth X"}),
                         definition_label=panel["definition"].map({"h": "Hierarchy", "s": "Strict only"}),
                         k=[3, 3, 2, 2, 1], n=[48, 48, 43, 43, 12],
                         reason=["", "", "2 studies, fewer than 3", "2 studies, fewer than 3", "one study"])
    table = pd.read_html(io.StringIO(Review.one_change_table(None, panel).data))[0]
    assert table["Analysis"].tolist() == ["The plan's analysis", "Studies: without Synth X",
                                          "Outcome definition: strict only", "Method: Logit, REML"]
    assert table["Estimate [95% CI or CrI]"].tolist() == ["88% [52% to 98%]", "not pooled: 2 studies, fewer than 3",
                                                   "not pooled: one study", "85% [48% to 97%]"]
    assert table["Studies"].tolist() == [3, 2, 1, 3]


def test_agreement_sentence_counts_each_table_and_the_one_sided_values() -> None:
    from analysis.evidence.agreement import Agreement

    # SYNTHETIC agreements: 9 of 12 = 75%, 2 of 3 = 67%, a table compared on nothing
    text = bookkit.agreement_sentence([Agreement("counts", 12, 9, 2), Agreement("items", 3, 2, 0),
                                       Agreement("ratings", 0, 0, 1)])
    assert text == ("Before their differences were resolved, the two independent extractions agreed on 9 of 12 counts "
                    "(75%), 2 of 3 items (67%) and no ratings (none was recorded by both). A further 3 values were "
                    "recorded by one reviewer only (2 counts, 1 ratings).")
    assert bookkit.agreement_sentence([]) == "No value has been extracted a second time yet."
    assert bookkit.agreement_sentence([Agreement("counts", 1, 1, 0)]).endswith("agreed on 1 of 1 counts (100%).")


def test_the_review_agreement_is_counted_from_its_log_and_second_tables(rv: Review) -> None:
    results = rv.extraction_agreements()
    log = rv.evidence["extraction_disagreements"]
    assert [a.label for a in results] == ["outcome counts", "risk-of-bias judgements", "GRADE judgements"]
    for a, table in zip(results, ("outcomes", "risk_of_bias", "grade"), strict=True):
        mine = log.loc[log["table"] == table]
        assert a.compared - a.agreed == int((mine["kind"] == "disagreement").sum())
        assert a.one_sided == int(mine["kind"].isin(["first_only", "second_only"]).sum())
    text = rv.agreement_text()
    for a in results:
        assert f"{a.agreed} of {a.compared} {a.label}" in text
    html = rv.disagreements_table().data
    assert html.count("<tr>") == len(log)
    for code in ("second_only", "not_a_count", "awaiting_data", "risk_of_bias"):
        assert f">{code}<" not in html


def test_prewarm_loads_the_review_once_for_every_chapter_folder(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from analysis.book import bookkit

    bookkit._review_at.cache_clear()
    try:
        assert bookkit.prewarm(str(root)) is True
        warmed = bookkit.review(str(root))
        chapter_folder = root / "book"
        chapter_folder.mkdir(exist_ok=True)
        monkeypatch.chdir(chapter_folder)  # where a chapter runs
        assert bookkit.review() is warmed
        assert bookkit._review_at.cache_info().currsize == 1
        import analysis.living.review as living_review

        def not_again(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("computed again")

        monkeypatch.setattr(living_review, "cached", not_again)
        for evidence_set in warmed.plan.evidence_sets:  # computed once, by the prewarm
            assert warmed.synthesis(evidence_set)
    finally:
        bookkit._review_at.cache_clear()


def test_prewarm_keeps_nothing_when_computing_the_review_warns(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    from analysis.book import bookkit

    def certainty(self: Review) -> None:
        warnings.warn("a chapter would have shown this", UserWarning, stacklevel=1)

    bookkit._review_at.cache_clear()
    monkeypatch.setattr(Review, "certainty", certainty)
    try:
        assert bookkit.prewarm(str(root)) is False
        assert bookkit._review_at.cache_info().currsize == 0
    finally:
        bookkit._review_at.cache_clear()


def test_prewarm_keeps_nothing_when_the_data_fail(tmp_path: Path) -> None:
    from analysis.book import bookkit

    broken = _copy_review(tmp_path)
    (broken / "data" / "outcomes.csv").write_text("study_id,outcome\nx,y\n", encoding="utf-8")
    assert bookkit.prewarm(str(broken)) is False
    assert bookkit._review_at.cache_info().currsize == 0
