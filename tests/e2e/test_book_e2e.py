"""The built book, end to end (issue 5): the real review built once in a temporary copy.

The copy holds what a clone of the project holds (every top-level item git tracks or would
track; :func:`tests.buildutil.copy_project` leaves ``data/private`` out) without
``book/_generated``, so every figure and download checked here was written by this build. It is built with the flags
of ``make book`` (``-W --keep-going``) and must exit 0.

Expected numbers are never typed here: they come from the evidence tables of the copy, from
``analysis.book.bookkit.Review(copy).synthesis()`` and from the formatting of ``analysis.book.report``,
the same public functions the chapters call, so a new study changes what the test expects.
"""

from __future__ import annotations

import csv
import html
import io
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from analysis.book import report
from tests.buildutil import ROOT, build, copy_project, toc_pages
from tests.provenance_parse import count_details, quote_of

pytestmark = [pytest.mark.build, pytest.mark.xdist_group("real_book")]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: A fitted model's numbers written by the build (another process) against those the test computes:
#: the pooled model (GLMM in the plan) is fitted by an iterative optimiser whose last digits depend on
#: the BLAS kernel and thread count, so agreement is asked to 1e-7 relative (1e-10 absolute near 0),
#: four orders of magnitude finer than the 0.1 percentage point the site shows, not to the last bit.
MODEL_REL, MODEL_ABS = 1e-7, 1e-10
#: Words that mean a missing value reached a reader's page.
NAN = re.compile(r"\b(?:nan|NaN|NAN)\b")
#: pandas' own missing-value markers.
PANDAS_MISSING = re.compile(r"<NA>|\bNaT\b")
#: Pages of reference documentation, where "NaN" is a documented value (of the API, or of the
#: reference files the validation page describes), not a missing value shown as a result.
DOCUMENTATION_PAGES = frozenset({"book/api", "book/validation"})
#: Pages that teach the API by showing its raw output (a DataFrame may show pandas' <NA> there).
TUTORIAL_PAGES = frozenset({"book/reuse"})


# ---- the copy and its build -------------------------------------------------------------------


def publishable_items(root: Path = ROOT) -> tuple[str, ...]:
    """Top-level files and folders of ``root`` that git tracks or would track: what a clone has."""
    listing = subprocess.run(
        ["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    tops = {name.split("/", 1)[0] for name in listing if name}
    return tuple(sorted(t for t in tops if (root / t).exists()))


def fresh_copy(dest: Path) -> Path:
    """A copy of what a clone of the project has, without private data or generated files."""
    project = copy_project(dest, publishable_items())
    shutil.rmtree(project / "book" / "_generated", ignore_errors=True)
    shutil.rmtree(project / "_build", ignore_errors=True)
    assert not any((project / "data" / "private").glob("*.csv")), "private data copied"
    return project


@dataclass(frozen=True)
class Built:
    """A built copy of the project."""

    root: Path
    returncode: int
    log: str

    @property
    def html_dir(self) -> Path:
        return self.root / "_build" / "html"

    def page(self, name: str) -> Page:
        return Page.read(self.html_dir / f"{name}.html")


_PROBLEM = re.compile(r"WARNING|ERROR|CRITICAL|SEVERE|Traceback|Error:")


def build_copy(project: Path) -> Built:
    """Build ``project`` as ``make book`` does; the log keeps every problem line and the tail."""
    done = build(project)
    return Built(project, done.returncode, build_log(done.stdout, done.stderr))


def build_log(stdout: str, stderr: str) -> str:
    """Every problem line of a build's output, then its last 40 lines."""
    lines = (stdout + "\n" + stderr).splitlines()
    problems = [line for line in lines if _PROBLEM.search(line) and "IPKernelApp" not in line]
    return "\n".join([*problems, "-" * 20, *lines[-40:]])


@pytest.fixture(scope="module")
def built(real_book: Any) -> Built:
    """The whole real review, built once for the test session (``real_book``, tests/e2e/conftest.py)."""
    return Built(real_book.root, real_book.returncode, build_log(real_book.stdout, real_book.stderr))


@pytest.fixture(scope="module")
def book(built: Built) -> Built:
    """The built review; tests that read pages are skipped with the log if the build failed."""
    if built.returncode != 0:
        pytest.fail(f"the book build failed (exit {built.returncode}):\n{built.log}")
    return built


@pytest.fixture(scope="module")
def review(book: Built) -> Any:
    """The review of the copy, as the chapters load it."""
    from analysis.book.bookkit import Review

    return Review(book.root)


# ---- reading pages --------------------------------------------------------------------------


class _Collector(HTMLParser):
    """Elements as (tag, attributes, position in the text) and the visible text of a fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


_SMART = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)


def squash(text: str) -> str:
    """Whitespace collapsed to single spaces, Sphinx's smart quotes and dashes made plain.

    Applied to the page and to the expected text alike, so ``'adhoc'`` matches ``\u2019adhoc\u2019``.
    """
    text = text.replace("\u2026", "...").replace("---", "-").replace("--", "-")
    return " ".join(text.translate(_SMART).split())


@dataclass(frozen=True)
class Page:
    """The main content of one built page."""

    path: Path
    source: str
    main: str
    text: str
    elements: tuple[tuple[str, dict[str, str]], ...] = field(repr=False)

    @classmethod
    def read(cls, path: Path) -> Page:
        source = path.read_text(encoding="utf-8")
        start, end = source.find("<main"), source.find("</main>")
        assert start >= 0 and end > start, f"{path}: no <main> element"
        return cls.parse(path, source, source[start:end])

    @classmethod
    def parse(cls, path: Path, source: str, fragment: str) -> Page:
        collector = _Collector()
        collector.feed(fragment)
        return cls(
            path, source, fragment, squash("".join(collector.text)), tuple(collector.elements)
        )

    def section(self, anchor: str, next_marker: str) -> Page:
        """The part of the page from the element ``id=anchor`` to the next ``next_marker``."""
        start = self.main.find(f'id="{anchor}"')
        assert start >= 0, f"{self.path.name}: no element #{anchor}"
        end = self.main.find(next_marker, start + len(anchor) + 5)
        fragment = self.main[start:] if end < 0 else self.main[start:end]
        return Page.parse(self.path, self.source, "<div " + fragment)

    def images(self) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.elements if tag == "img"]

    def links(self) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.elements if tag == "a" and "href" in attrs]

    def downloads(self) -> list[str]:
        return [a["href"] for a in self.links() if "download" in a.get("class", "").split()]

    def target(self, href: str) -> Path:
        """The built file a relative link points to."""
        return (self.path.parent / href.split("#", 1)[0]).resolve()


TOC_PAGES = toc_pages(ROOT / "_toc.yml")


def outcome_anchor(outcome: str) -> str:
    """HTML id of the label ``(res-<outcome>)=`` in results.md."""
    return "res-" + outcome.replace("_", "-")


def outcome_section(page: Page, outcome: str) -> Page:
    return page.section(outcome_anchor(outcome), '<span id="res-')


# ---- the build ------------------------------------------------------------------------------


def test_the_whole_book_builds_with_warnings_as_errors(built: Built) -> None:
    assert built.returncode == 0, built.log
    assert "build succeeded" in built.log


def test_every_page_of_the_toc_is_built(book: Built) -> None:
    missing = [p for p in TOC_PAGES if not (book.html_dir / f"{p}.html").is_file()]
    assert not missing, f"pages of _toc.yml missing from _build/html: {missing}"
    assert len(TOC_PAGES) == len(set(TOC_PAGES)) > 10


# ---- home page ------------------------------------------------------------------------------


def _latest_search_date(root: Path) -> str:
    flow = yaml.safe_load((root / "data" / "search_flow.yaml").read_text(encoding="utf-8"))
    return max(str(v["search_date"]) for v in flow["versions"])


def _review_studies(root: Path, review: Any) -> list[dict[str, str]]:
    """Rows of data/studies.csv in the review's evidence set (the plan's selection, read as text)."""
    where = dict(review.plan.evidence_sets["review"].get("where", {}))
    where.pop("status", None)
    with (root / "data" / "studies.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        r
        for r in rows
        if all(r[c] in (v if isinstance(v, list) else [v]) for c, v in where.items())
    ]


def test_home_page_names_the_review_its_version_and_date_of_data(book: Built, review: Any) -> None:
    page = book.page("book/index")
    h1 = re.search(r"<h1>(.*?)<", page.main, re.DOTALL)
    assert h1 and "living systematic review" in h1.group(1).lower()
    released = (book.root / "VERSION").read_text(encoding="utf-8").strip()
    shown = getattr(
        review, "version_text", released
    )  # a release, or "development version (after ...)"
    assert released in shown
    assert review.version_line in page.text
    if review.version == "dev":  # a development build never shows a release number as if released
        already = (book.root / "results" / f"{released}.json").exists()  # VERSION names the last release
        assert f"Version {released}, released" not in page.text
        assert (f"after release {released}" if already else "not yet released") in review.version_line + shown
        cite = page.section("how-to-cite-this-version", "<section").text
        assert "development version" in cite and f"version {released};" not in cite
    assert f"data searched up to {_latest_search_date(book.root)}" in page.text
    assert "living review (updated when new evidence appears)" in page.text


def test_home_page_key_findings_are_the_computed_numbers(book: Built, review: Any) -> None:
    """At most three plain sentences from the data, no bold, the summary figure; unpooled outcomes in words."""
    section = book.page("book/index").section("what-the-evidence-shows", "<section")
    sentences = review.key_sentences()
    assert 1 <= len(sentences) <= 3
    assert squash(" ".join(sentences)) in section.text
    assert "<strong>" not in section.main and "<b>" not in section.main
    primary = review.synthesis()[review.primary_outcome]
    if primary.pooled:
        assert squash(report.estimate_with_ci(primary.result)) in sentences[0]
        assert "the median of the studies' true proportions" in sentences[0]
    unpooled = [s for s in review.synthesis().values() if s.k and not s.pooled]
    if unpooled:
        assert "not pooled" in section.text.lower()
    assert "too inconsistent" not in section.text.lower()
    assert "they are what happened after it, not its effect" in section.text  # no comparator, said on the page
    figures = [i for i in section.images() if "summary-outcomes" in i.get("src", "")]
    assert len(figures) == 1
    for synth in review.synthesis().values():
        if synth.k:
            assert synth.label in figures[0]["alt"], synth.outcome


def test_no_headline_runs_from_0_to_100_percent_and_no_single_study_is_a_model(book: Built, review: Any) -> None:
    """Home sentences and figure, results headlines, summary of findings and results.csv: no headline interval
    from 0% to 100%; an outcome with one study is its own proportion with its exact interval everywhere."""
    home = book.page("book/index").section("what-the-evidence-shows", "<section")
    texts = [home.text, *(i.get("alt", "") for i in home.images())]
    results = book.page("book/results")
    for outcome in review.synthesis():
        texts.append(outcome_section(results, outcome).text.split("Details of methods")[0])
    texts.append(book.page("book/sof").text)
    for text in texts:
        assert not re.search(r"CI 0% to 100%|\(0% to 100%\)", text), text[:300]
    for row in _results_csv(book):
        if row["estimate"]:
            assert not (float(row["ci_lower"]) < 0.005 and float(row["ci_upper"]) > 0.995), row
    single = {o: s for o, s in review.synthesis().items() if s.display == "single"}
    assert single, "no single-study outcome in this version"
    rows = {r["outcome"]: r for r in _results_csv(book)}
    for outcome, synth in single.items():
        study = synth.studies.iloc[0]
        assert float(rows[outcome]["estimate"]) == pytest.approx(study["proportion"], rel=1e-12)
        assert rows[outcome]["method"] == "single study (not pooled)"
        text = outcome_section(results, outcome).text
        assert "Pooled proportion" not in text and "Random-effects" not in text, outcome
    payload = review.snapshot_payload()
    for record in payload["outcomes"]:
        if record["k"] == 1:
            assert record["result"]["method"] == "single study", record["outcome"]
            assert record["result"]["estimate"] == record["study_results"][0]["proportion"]
        elif not record["pooled"]:
            assert "result" not in record or record["result"] is None, record["outcome"]


# ---- results page ---------------------------------------------------------------------------


def test_results_page_shows_the_engine_numbers_of_every_outcome(book: Built, review: Any) -> None:
    page = book.page("book/results")
    problems = []
    for outcome, synth in review.synthesis().items():
        section = outcome_section(page, outcome)
        figures = [i for i in section.images() if f"forest-review-{outcome}." in i.get("src", "")]
        if synth.k == 0:
            if "No study has reported this outcome yet." not in section.text or section.images():
                problems.append(f"{outcome}: no data, but the section says otherwise")
            continue
        expected = [report.headline(synth)]
        own = section.text.split("How robust is this answer?")[0]  # the panel below shows unpooled analyses too
        if synth.pooled:
            expected += [
                "Pooled proportion (the median of the studies' true proportions)",
                report.heterogeneity(synth.result),
                synth.result.methods_text(),
            ]
            if "not pooled" in own:
                problems.append(f"{outcome}: pooled outcome says 'not pooled'")
        else:
            expected += ["not pooled"]
            if "Pooled proportion" in section.text or "Heterogeneity" in section.text:
                problems.append(f"{outcome}: an outcome the plan does not pool shows a model")
        problems += [
            f"{outcome}: missing {squash(e)!r}" for e in expected if squash(e) not in section.text
        ]
        panels = [i for i in section.images() if f"robustness-{outcome}." in i.get("src", "")]
        focus = outcome in review.focus_outcomes()
        if len(figures) != 1 or len(panels) != int(focus) or len(section.images()) != 1 + int(focus):
            problems.append(f"{outcome}: {len(section.images())} images, expected one forest plot"
                            + (" and one robustness panel" if focus else ""))
    assert not problems, "\n".join(problems)


def test_results_page_shows_the_robustness_panel_of_every_focus_outcome(book: Built, review: Any) -> None:
    """The panel's sentence, figure (with the sentence as alt text) and CSV are those of run_panel on the review."""
    from analysis.book.plots.specification import (
        specification_curve_alt_text,
        specification_sentence,
    )
    from analysis.evidence.multiverse import run_panel

    page = book.page("book/results")
    for outcome in review.focus_outcomes():
        synth = review.synthesis()[outcome]
        panel = run_panel(review.robustness_specifications(outcome), review.plan)
        sentence = specification_sentence(panel)
        section = outcome_section(page, outcome)
        assert squash(sentence) in section.text, outcome
        (image,) = [i for i in section.images() if f"robustness-{outcome}." in i.get("src", "")]
        label = synth.label[0].lower() + synth.label[1:]
        assert image["alt"] == specification_curve_alt_text(panel, outcome=label)
        assert sentence in image["alt"]
        offered = _csv_rows(book.root / "book" / "_generated" / f"robustness-{outcome}.csv")
        assert len(offered) == len(panel)
        for row, (_, expected) in zip(offered, panel.iterrows(), strict=True):
            assert (row["method"], row["inclusion"], row["definition"]) == (
                expected["method"], expected["inclusion"], expected["definition"])
            if expected["display"] == "pooled":
                assert float(row["estimate"]) == pytest.approx(expected["estimate"], rel=1e-12)
            else:
                assert row["estimate"] == ""  # not pooled: no estimate, never a made-up one


def test_results_page_has_one_figure_per_outcome_with_data(book: Built, review: Any) -> None:
    with_data = [o for o, s in review.synthesis().items() if s.k > 0]
    images = [i for i in book.page("book/results").images() if "forest-review-" in i["src"]]
    shown = sorted(re.sub(r".*forest-review-(\w+)\.(?:png|webp)$", r"\1", i["src"]) for i in images)
    assert shown == sorted(with_data)
    assert with_data, "no outcome has data: nothing to check"


def test_single_study_outcomes_show_the_study_with_its_exact_interval(
    book: Built, review: Any
) -> None:
    page = book.page("book/results")
    single = {o: s for o, s in review.synthesis().items() if s.display == "single"}
    for outcome, synth in single.items():
        study = synth.studies.iloc[0]
        text = outcome_section(page, outcome).text
        assert (f"One study: shown as its own proportion, {int(study['events'])}/{int(study['n'])} patients"
                in text), outcome
        assert f"exact 95% CI {report.interval(study['ci_lower'], study['ci_upper'])}" in text, outcome


def test_no_prediction_interval_is_claimed_where_heterogeneity_cannot_be_estimated(
    book: Built, review: Any
) -> None:
    page = book.page("book/results")
    two = [o for o, s in review.synthesis().items() if s.pooled and not s.rules.heterogeneity_estimable(s.k)]
    if not two:
        pytest.skip("every pooled outcome has enough studies to estimate heterogeneity in this version")
    for outcome in two:
        section = outcome_section(page, outcome)
        alts = " ".join(i.get("alt", "") for i in section.images())
        assert "no prediction interval" in section.text, outcome
        # the engine's "Details of methods" paragraph may describe how a PI would be computed;
        # the headline, caption and alt text must not claim one is shown
        shown = section.text.split("Details of methods")[0]
        assert "95% prediction interval" not in shown + " " + alts, outcome


# ---- figures, images and downloads ----------------------------------------------------------


def test_every_image_has_alt_text_and_exists(book: Built) -> None:
    problems = []
    for name in TOC_PAGES:
        page = book.page(name)
        for image in page.images():
            if not image.get("alt", "").strip():
                problems.append(f"{name}: <img src={image.get('src')!r}> without alt text")
            if not page.target(image["src"]).is_file():
                problems.append(f"{name}: <img src={image['src']!r}> does not exist")
    assert not problems, "\n".join(problems)


def _kind_ok(path: Path) -> bool:
    body = path.read_bytes()
    if path.suffix == ".png":
        return body.startswith(PNG_MAGIC)
    if path.suffix == ".svg":
        return b"<svg" in body[:4000]
    if path.suffix == ".csv":
        return bool(body.strip()) and b"," in body.splitlines()[0]
    return bool(body)


def test_every_download_link_resolves_to_a_file_of_its_kind(book: Built) -> None:
    problems, count = [], 0
    for name in TOC_PAGES:
        page = book.page(name)
        for href in page.downloads():
            count += 1
            target = page.target(href)
            if not target.is_file():
                problems.append(f"{name}: download {href} does not exist")
            elif not _kind_ok(target):
                problems.append(f"{name}: download {href} is not a valid {target.suffix} file")
    assert not problems, "\n".join(problems)
    assert count > 0


def test_every_generated_figure_offers_svg_and_png(book: Built) -> None:
    problems, figures = [], 0
    for name in TOC_PAGES:
        page = book.page(name)
        downloads = {Path(h).name for h in page.downloads()}
        for image in page.images():
            stem = Path(image["src"]).stem
            if not (book.root / "book" / "_generated" / f"{stem}.png").exists():
                continue  # not a figure the book generates (e.g. an illustration)
            figures += 1
            problems += [f"{name}: {stem}{ext} not offered" for ext in (".svg", ".png")
                         if f"{stem}{ext}" not in downloads]  # fmt: skip
            svg = book.root / "book" / "_generated" / f"{stem}.svg"
            if not _kind_ok(svg):
                problems.append(f"{name}: {svg.name} is not an SVG")
    assert not problems, "\n".join(problems)
    assert figures > 0


# ---- studies, data, bibliography, API -------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "anchor"),
    [
        ("included", "included-studies"),
        ("awaiting_data", "studies-awaiting-data"),
        ("excluded", "excluded-studies"),
    ],
)
def test_studies_page_lists_every_study_by_status(
    book: Built, review: Any, status: str, anchor: str
) -> None:
    section = book.page("book/studies").section(anchor, "<section")
    ids = review.studies.loc[review.studies["status"] == status, "study_id"].astype(str)
    labels = [review.labels[i] for i in ids]
    missing = [label for label in labels if label not in section.text]
    assert not missing, f"{status} studies missing from the studies page: {missing}"
    if not labels:
        assert "No study is" in section.text


def _csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_data_page_links_csv_downloads_of_the_data_and_results(book: Built) -> None:
    page = book.page("book/data")
    links = {Path(h).name: page.target(h) for h in page.downloads() if h.endswith(".csv")}
    assert {
        "studies.csv",
        "outcomes.csv",
        "risk_of_bias.csv",
        "searches.csv",
        "results.csv",
        "protocol_amendments.csv",
    } <= set(links)
    for name in ("studies", "risk_of_bias", "searches", "protocol_amendments"):
        offered = _csv_rows(links[f"{name}.csv"])
        source = _csv_rows(book.root / "data" / f"{name}.csv")
        assert len(offered) == len(source), name
    offered_ids = [r["study_id"] for r in _csv_rows(links["studies.csv"])]
    assert offered_ids == [r["study_id"] for r in _csv_rows(book.root / "data" / "studies.csv")]


CITE = re.compile(r"\{(?:cite|cite:[a-z]+|footcite)\}`([^`]+)`")


def _cited_keys(project: Path) -> set[str]:
    """Keys cited with ``{cite}`` roles in the chapters of the table of contents."""
    keys: set[str] = set()
    for page in toc_pages(project / "_toc.yml"):
        chapter = project / f"{page}.md"
        if chapter.exists():
            for group in CITE.findall(chapter.read_text(encoding="utf-8")):
                keys.update(k.strip() for k in group.split(","))
    return keys


def _plain(text: str) -> str:
    """BibTeX/HTML text reduced to lower-case words (braces, accents commands, punctuation gone)."""
    text = re.sub(r"\\[a-zA-Z]+\s*|[{}\\]", "", html.unescape(text))
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def test_bibliography_page_lists_every_reference_cited_in_the_chapters(book: Built) -> None:
    from analysis.evidence.bibliography import parse_bibliography

    entries = {e.key: e.fields for e in parse_bibliography(book.root / "references.bib").entries}
    cited = _cited_keys(book.root)
    assert cited, "no citation found in the chapters"
    page = _plain(book.page("book/bibliography").text)
    missing = [k for k in sorted(cited) if _plain(entries[k]["title"])[:60] not in page]
    assert not missing, f"cited but not listed in the bibliography: {missing}"


def test_every_citation_link_lands_on_a_bibliography_entry(book: Built) -> None:
    ids = set(re.findall(r'id="([^"]+)"', book.page("book/bibliography").source))
    problems, count = [], 0
    for name in TOC_PAGES:
        for link in book.page(name).links():
            match = re.fullmatch(r"(?:\./)?bibliography\.html#(.+)", link["href"])
            if match:
                count += 1
                if match.group(1) not in ids:
                    problems.append(f"{name}: {link['href']}")
    assert not problems, "citation links without an entry:\n" + "\n".join(problems)
    assert count > 0


def test_api_page_documents_metaprop(book: Built) -> None:
    import analysis

    page = book.page("book/api")
    assert 'id="analysis.engine.metaprop.metaprop"' in page.main
    summary = squash(analysis.metaprop.__doc__.strip().splitlines()[0])
    assert summary in page.text
    for parameter in ("events", "measure", "method", "ci", "pi", "level"):
        assert re.search(rf"\b{parameter}\b", page.text)


# ---- nothing broken reaches a reader --------------------------------------------------------


def test_no_page_shows_a_traceback_or_an_error_output(book: Built) -> None:
    problems = []
    for name in TOC_PAGES:
        page = book.page(name)
        if "Traceback" in page.main:
            problems.append(f"{name}: Traceback")
        for tag, attrs in page.elements:
            classes = set(attrs.get("class", "").split())
            if "output" in classes and classes & {"error", "traceback", "stderr"}:
                problems.append(f"{name}: <{tag} class={attrs['class']!r}>")
    assert not problems, "\n".join(problems)


def _missing_words(name: str, page: Page) -> list[str]:
    patterns = [NAN] + ([] if name in TUTORIAL_PAGES else [PANDAS_MISSING])
    return [
        page.text[max(0, m.start() - 100) : m.end() + 40]
        for p in patterns
        for m in p.finditer(page.text)
    ]


_NAN_XFAIL: dict[str, str] = {}  # pages known to show a missing-value word (none today)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=_NAN_XFAIL[p]))
        if p in _NAN_XFAIL
        else p
        for p in TOC_PAGES
        if p not in DOCUMENTATION_PAGES
    ],
)
def test_no_missing_value_words_in_page_text(book: Built, name: str) -> None:
    found = _missing_words(name, book.page(name))
    assert not found, f"{name}: missing-value words in the text:\n" + "\n".join(found)


def test_no_missing_value_in_a_table_cell_of_the_api_page(book: Built) -> None:
    """The API page documents NaN in prose; its tables (executed outputs) must not hold one."""
    cells = re.findall(r"<td>\s*(nan|NaN|&lt;NA&gt;|None)\s*</td>", book.page("book/api").main)
    assert not cells


# ---- the results file agrees with the page --------------------------------------------------


def _results_csv(book: Built) -> list[dict[str, str]]:
    path = book.root / "book" / "_generated" / "results.csv"
    assert path.is_file(), "the data page did not write book/_generated/results.csv"
    return _csv_rows(path)


def test_results_csv_matches_the_engine(book: Built, review: Any) -> None:
    rows = {r["outcome"]: r for r in _results_csv(book)}
    synth = review.synthesis()
    assert list(rows) == list(synth)
    for outcome, s in synth.items():
        row = rows[outcome]
        assert (int(row["k"]), int(row["n"]), row["pooled"]) == (s.k, s.total_n, str(s.pooled))
        assert row["display"] == s.display
        if s.k == 0 or s.display == "side_by_side":  # no single number for studies shown side by side
            assert not row.get("estimate"), outcome
            continue
        # a pooled outcome carries the pooled fit; a single study its observed proportion and exact CI
        source = s.result if s.pooled else s.studies.iloc[0].rename({"proportion": "estimate"})
        for name in ("estimate", "ci_lower", "ci_upper"):
            expected = getattr(source, name) if s.pooled else source[name]
            assert float(row[name]) == pytest.approx(expected, rel=MODEL_REL, abs=MODEL_ABS), (outcome, name)


def test_results_csv_pooled_rows_agree_with_the_html(book: Built, review: Any) -> None:
    page = book.page("book/results")
    pooled = [r for r in _results_csv(book) if r["pooled"] == "True"]
    synth = review.synthesis()
    for row in pooled:
        text = outcome_section(page, row["outcome"]).text
        est, lo, hi = (float(row[c]) for c in ("estimate", "ci_lower", "ci_upper"))
        word = report.interval_word(synth[row["outcome"]].result)  # CrI for a Bayesian primary
        assert (f"Pooled proportion (the median of the studies' true proportions) {report.percent(est)} "
                f"(95% {word} {report.interval(lo, hi)})") in text
        assert f"from {row['k']} studies and {row['n']} patients" in text
        if row.get("i2"):  # heterogeneity only where the plan can estimate it, I² always with its interval
            assert f"τ² = {float(row['tau2']):.2f}" in text
            assert (f"I² = {float(row['i2']):.0f}% (95% {word} {float(row['i2_lower']):.0f}% to "
                    f"{float(row['i2_upper']):.0f}%)") in text
        else:  # too few studies: said in words, no I² = 0 %
            assert f"heterogeneity cannot be estimated from {_words(int(row['k']))} studies" in text
            assert "I² = 0%" not in text


def _words(k: int) -> str:
    return {2: "two", 3: "three", 4: "four"}.get(k, str(k))


def test_results_csv_single_study_rows_agree_with_the_html(book: Built) -> None:
    page = book.page("book/results")
    single = [r for r in _results_csv(book) if r["pooled"] == "False" and int(r["k"]) == 1]
    assert single, "no single-study outcome in this version"
    for row in single:
        text = outcome_section(page, row["outcome"]).text
        est, lo, hi = (float(row[c]) for c in ("estimate", "ci_lower", "ci_upper"))
        assert f"({report.percent(est)}; exact 95% CI {report.interval(lo, hi)})" in text, row[
            "outcome"
        ]


# ---- evidence pages speak in words ---------------------------------------------------------
EVIDENCE_PAGES = ("index", "studies", "gethtc", "rob", "indirect", "results", "sof", "sensitivity", "subgroups",
                  "flow", "cumulative")


def _prose(page: Page) -> str:
    """The page's visible text without code (cell inputs are ``<pre>``; inline code is ``<code>``)."""
    fragment = re.sub(r"<(pre|code)\b.*?</\1>", " ", page.main, flags=re.DOTALL)
    return Page.parse(page.path, page.source, fragment).text


def _codes(review: Any) -> set[str]:
    """Every coded value of the evidence tables and every study id and reference key."""
    codes = set(review.studies["study_id"].astype(str)) | set(review.studies["bibkey"].astype(str))
    codes |= {o for o in review.vocabulary if "_" in o}  # "infection" is a word, "platelet_recovery" a code
    for table in ("studies", "outcomes", "risk_of_bias"):
        for spec in review.fields(table).values():
            codes |= {str(v) for v in spec.get("enum") or [] if "_" in str(v)}
    return codes


@pytest.mark.parametrize("name", EVIDENCE_PAGES)
def test_evidence_pages_show_no_raw_codes_or_ids(book: Built, review: Any, name: str) -> None:
    text = _prose(book.page(f"book/{name}"))
    shown = sorted(c for c in _codes(review) if re.search(rf"(?<![\w/.-]){re.escape(c)}(?![\w/.-])", text))
    assert not shown, f"{name}: raw codes or ids shown as words: {shown}"
    assert "PROVISIONAL" not in text and "not read]" not in text
    notes = review.studies.get("curation_note", pd.Series(dtype=object)).dropna()
    assert not [n for n in notes if squash(str(n))[:40] in text], f"{name}: a curation note is shown"


def test_pages_with_counts_say_which_are_single_extracted(book: Built, review: Any) -> None:
    checked = review.outcomes["checked_by"].map(lambda v: isinstance(v, str) and v.strip() != "")
    for name in ("studies", "results"):
        text = book.page(f"book/{name}").text
        assert ("Single extraction" in text) == (not checked.all()), name
        assert ("Double extraction" in text) == bool(checked.any()), name
    assert "Before their differences were resolved, the two independent extractions agreed on" in \
        book.page("book/methods").text
    if checked.all():
        return
    gethtc = book.page("book/gethtc").text  # its card shows counts only when the letter's could be read
    counted = "Events/N (open for the source)" in gethtc
    assert counted == ("Single extraction" in gethtc)


def test_different_works_are_never_cited_with_the_same_text(book: Built) -> None:
    """Same-author same-year works cite as 2023a/2023b; a work without known authors by its journal."""
    link = re.compile(r'<a class="reference internal" href="(?:\./)?bibliography\.html#([^"]+)"[^>]*>(.*?)</a>', re.DOTALL)
    texts: dict[str, set[str]] = {}
    for name in TOC_PAGES:
        for target, inner in link.findall(book.page(name).main):
            texts.setdefault(squash(re.sub(r"<[^>]+>", "", inner)), set()).add(target)
    shared = {text: ids for text, ids in texts.items() if len(ids) > 1}
    assert texts and not shared, f"one citation text for different works: {shared}"
    assert not any("not read" in t or "not verified" in t for t in texts)


# ---- provenance on the page: every count one click from its quote ----------------------------


def test_every_included_count_on_the_results_page_opens_on_its_quote(book: Built, review: Any) -> None:
    """Held-out style check: each included study's count, in its outcome's section, is the summary of a
    details element that holds the count's exact quote (HTML-escaped in the source, read back as text)."""
    page = book.page("book/results")
    included = set(review.set_studies().loc[lambda s: s["status"] == "included", "study_id"])
    seen = 0
    for outcome, synth in review.synthesis().items():
        if synth.k == 0:
            continue
        section = outcome_section(page, outcome)
        found = count_details(section.main)
        for row in [*synth.rows.to_dict("records"), *synth.excluded.to_dict("records")]:
            assert row["study_id"] in included
            count = f"{int(row['events'])}/{int(row['total'])}"
            mine = [d for d in found if d["summary"].startswith(count) and quote_of(row) in d["body"]]
            assert mine, f"{outcome}: {row['study_id']} {count}: no details element with its quote"
            if quote_of(row):
                assert html.escape(quote_of(row)) in section.main  # escaped in the HTML source
            seen += 1
    assert seen == sum(s.k + len(s.excluded) for s in review.synthesis().values())


def test_studies_and_summary_pages_give_every_count_its_quote(book: Built, review: Any) -> None:
    included = review.set_studies().loc[lambda s: s["status"] == "included", "study_id"]
    rows = review.outcomes.loc[review.outcomes["study_id"].isin(included)]
    studies = count_details(book.page("book/studies").main)
    for _, row in rows.iterrows():
        count = f"{int(row['events'])}/{int(row['total'])}"
        assert any(d["summary"].startswith(count) and quote_of(row) in d["body"] for d in studies), row["study_id"]
    sof = book.page("book/sof")
    shown = count_details(sof.main)
    assert len(shown) == sum(s.k for s in review.synthesis().values())
    assert "provenance.css" in sof.source  # the print style that opens every count on paper


def test_summary_of_findings_page_in_grade_format(book: Built, review: Any) -> None:
    from analysis.evidence.grade import symbols

    page = book.page("book/sof")
    cert = review.certainty()
    for outcome, synth in review.synthesis().items():
        if synth.k and not str(cert.loc[outcome, "reasons"]).startswith("not yet assessed"):
            level = cert.loc[outcome, "certainty"]
            assert f"{symbols(level)} {level[0].upper() + level[1:]}" in page.text
    grade = review.evidence["grade"]
    for short in grade.loc[grade["rating"] != "not_serious", "short_reason"]:
        assert squash(short) in page.text
    assert re.search(r'<li id="sof-note-a"><strong>a\.</strong>', page.main)
    assert "The evidence is very uncertain" in page.text or "may occur" in page.text
    assert "Reasons in full" in page.text
    assert 'role="img" aria-label="Certainty of the evidence:' in page.main


# ---- a self-contained site with page metadata (issue 18) -------------------------------------


def test_no_page_loads_a_script_style_or_font_from_another_host(book: Built) -> None:
    from tests.sitecheck import other_host_loads

    assert other_host_loads(book.html_dir) == []


def test_no_page_loads_mathjax_or_the_font_awesome_script(book: Built) -> None:
    from tests.sitecheck import pages, scan_page

    loads = {url.split("?")[0] for page in pages(book.html_dir) for _, url in scan_page(page).loads}
    assert not [u for u in loads if "mathjax" in u.lower() or u.endswith("fontawesome.js")]
    assert not (book.html_dir / "_static" / "scripts" / "fontawesome.js").exists()


def test_api_page_formulas_are_mathml(book: Built) -> None:
    text = (book.html_dir / "book" / "api.html").read_text(encoding="utf-8")
    assert text.count("<math ") >= 10  # the docstrings' formulas (metaprop's transforms and more)
    assert 'class="math-tex"' not in text  # none the converter could not read


def test_every_page_has_one_non_empty_description(book: Built) -> None:
    from tests.sitecheck import missing_descriptions

    assert missing_descriptions(book.html_dir) == []


def test_home_page_has_open_graph_tags_with_its_description(book: Built) -> None:
    from tests.sitecheck import scan_page

    meta = scan_page(book.html_dir / "book" / "index.html").meta
    for key in ("og:title", "og:description", "og:type", "og:site_name"):
        assert len(meta.get(key, [])) == 1 and meta[key][0].strip(), key
    assert meta["og:type"] == ["website"]
    assert meta["og:description"] == meta["description"]
    home = yaml.safe_load((book.root / "book" / "index.md").read_text(encoding="utf-8").split("---")[1])
    assert meta["description"] == [" ".join(home["description"].split())]


def test_every_page_links_the_favicon_and_it_exists(book: Built) -> None:
    from tests.sitecheck import missing_icons

    assert missing_icons(book.html_dir) == []
    assert (book.html_dir / "_static" / "favicon.svg").read_text(encoding="utf-8").lstrip().startswith("<svg")


def test_every_icon_the_pages_use_is_in_the_cut_icon_fonts(book: Built) -> None:
    from fontTools.ttLib import TTFont

    from analysis.book.iconfonts import icon_code_points, used_icon_classes

    static = book.html_dir / "_static"
    fonts = sorted((static / "vendor" / "fontawesome" / "webfonts").glob("*.woff2"))
    assert fonts and sum(f.stat().st_size for f in fonts) < 40_000  # cut from about 300 KB
    mapped = set().union(*(set(TTFont(str(f)).getBestCmap()) for f in fonts))
    import pydata_sphinx_theme

    shipped = Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static"
    original = set().union(*(set(TTFont(str(shipped / f.relative_to(static))).getBestCmap()) for f in fonts))
    pages = [p.read_text(encoding="utf-8") for p in book.html_dir.rglob("*.html")]
    used = used_icon_classes(pages)
    by_class, always = icon_code_points(
        "".join(p.read_text(encoding="utf-8") for p in static.rglob("*.css"))
    )
    shown = {name for name in used if name in by_class}
    assert {"fa-github", "fa-download", "fa-magnifying-glass"} <= shown  # the header's icons
    missing = {name: by_class[name] for name in shown if not by_class[name] & mapped}
    assert missing == {}
    assert always & original <= mapped  # icons the style sheets show by themselves
