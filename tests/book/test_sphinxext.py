"""Unit tests of the input tracking in :mod:`analysis.book.sphinxext`.

The build-level behaviour (a chapter is re-executed after its data change, an unrelated one is
not) is proven in ``tests/e2e/test_honest_build.py``. Here: front matter parsing, the declared
patterns, the files they match, and the digest (content, not modification time). The last part
checks the review's own chapters: a chapter that shows something computed from a file must
declare it, or its output goes stale when that file changes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from analysis.book.sphinxext import (
    DEFAULT_DEPENDS_ON,
    declared_inputs,
    front_matter,
    inputs_digest,
    matched_files,
)

ROOT = Path(__file__).resolve().parents[2]

KERNEL = "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n"


# ---------------------------------------------------------------- front_matter
def test_front_matter_parsed() -> None:
    text = "---\ntitle: x\ndepends_on: [a.csv, b/*.csv]\n---\n\n# Heading\n"
    assert front_matter(text) == {"title": "x", "depends_on": ["a.csv", "b/*.csv"]}


@pytest.mark.parametrize(
    "text",
    [
        "# No front matter\n\n---\n",  # a horizontal rule later on is not front matter
        "---\ntitle: never closed\n",
        "---\n- a\n- list\n---\n",  # YAML that is not a mapping
        "---\njust a string\n---\n",
        "---\n---\n",
        "",
    ],
)
def test_front_matter_absent_or_not_a_mapping(text: str) -> None:
    assert front_matter(text) == {}


def test_front_matter_stops_at_the_first_closing_line() -> None:
    text = "---\na: 1\n---\nbody\n---\nb: 2\n---\n"
    assert front_matter(text) == {"a": 1}


# ---------------------------------------------------------------- declared_inputs
def _md(path: Path, meta: str) -> Path:
    path.write_text(f"---\n{meta}---\n\n# Page\n", encoding="utf-8")
    return path


def test_markdown_without_kernelspec_is_not_tracked(tmp_path: Path) -> None:
    """A page that runs no code cannot show stale output: None, even if it lists inputs."""
    assert declared_inputs(_md(tmp_path / "a.md", "title: prose\n")) is None
    assert declared_inputs(_md(tmp_path / "b.md", "depends_on: [data/x.csv]\n")) is None
    plain = tmp_path / "c.md"
    plain.write_text("# Only prose\n", encoding="utf-8")
    assert declared_inputs(plain) is None


def test_notebook_without_depends_on_gets_the_defaults(tmp_path: Path) -> None:
    assert declared_inputs(_md(tmp_path / "a.md", KERNEL)) == DEFAULT_DEPENDS_ON


def test_depends_on_string_and_list(tmp_path: Path) -> None:
    assert declared_inputs(_md(tmp_path / "a.md", KERNEL + "depends_on: data/x.csv\n")) == ("data/x.csv",)
    listed = _md(tmp_path / "b.md", KERNEL + "depends_on: [data/x.csv, 'VERSION', data/**/*.yaml]\n")
    assert declared_inputs(listed) == ("data/x.csv", "VERSION", "data/**/*.yaml")


def test_unreadable_or_broken_sources_fall_back_to_the_defaults(tmp_path: Path) -> None:
    """When in doubt, depend on everything: a missing file or bad YAML never hides a dependency."""
    assert declared_inputs(tmp_path / "missing.md") == DEFAULT_DEPENDS_ON
    broken = tmp_path / "broken.md"
    broken.write_text("---\nkernelspec: [unclosed\n---\n", encoding="utf-8")
    assert declared_inputs(broken) == DEFAULT_DEPENDS_ON


def test_ipynb_is_always_tracked(tmp_path: Path) -> None:
    notebook = tmp_path / "a.ipynb"
    notebook.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', encoding="utf-8")
    assert declared_inputs(notebook) == DEFAULT_DEPENDS_ON


# ---------------------------------------------------------------- matched_files
def _tree(root: Path) -> None:
    (root / "data" / "sub").mkdir(parents=True)
    (root / "data" / "__pycache__").mkdir()
    (root / "data" / "a.csv").write_text("x\n1\n", encoding="utf-8")
    (root / "data" / "b.yaml").write_text("k: v\n", encoding="utf-8")
    (root / "data" / "sub" / "c.csv").write_text("y\n2\n", encoding="utf-8")
    (root / "data" / "__pycache__" / "d.csv").write_text("cache\n", encoding="utf-8")
    (root / "VERSION").write_text("26.0.0\n", encoding="utf-8")


def test_matched_files_sorted_unique_files_only(tmp_path: Path) -> None:
    _tree(tmp_path)
    found = matched_files(tmp_path, ["data/*.csv", "data/**/*", "data/a.csv", "VERSION", "nothing/*.txt"])
    names = [p.relative_to(tmp_path).as_posix() for p in found]
    assert names == ["VERSION", "data/a.csv", "data/b.yaml", "data/sub/c.csv"]  # no directory, no cache
    assert found == sorted(found)


def test_matched_files_of_no_pattern(tmp_path: Path) -> None:
    _tree(tmp_path)
    assert matched_files(tmp_path, []) == []


# ---------------------------------------------------------------- inputs_digest
def test_digest_is_sha256_of_names_and_contents(tmp_path: Path) -> None:
    """Spelled out: for each matched file in sorted order, relative name, NUL, bytes, NUL."""
    _tree(tmp_path)
    expected = hashlib.sha256()
    for name in ("data/a.csv", "data/sub/c.csv"):
        expected.update(name.encode() + b"\0" + (tmp_path / name).read_bytes() + b"\0")
    assert inputs_digest(tmp_path, ["data/**/*.csv"]) == expected.hexdigest()
    assert inputs_digest(tmp_path, []) == hashlib.sha256().hexdigest()


def test_digest_changes_when_a_matched_file_changes(tmp_path: Path) -> None:
    _tree(tmp_path)
    before = inputs_digest(tmp_path, ["data/*.csv"])
    (tmp_path / "data" / "a.csv").write_text("x\n2\n", encoding="utf-8")
    assert inputs_digest(tmp_path, ["data/*.csv"]) != before


def test_digest_changes_when_a_matching_file_appears_or_goes(tmp_path: Path) -> None:
    _tree(tmp_path)
    before = inputs_digest(tmp_path, ["data/*.csv"])
    new = tmp_path / "data" / "e.csv"
    new.write_text("", encoding="utf-8")  # even an empty new file counts
    with_new = inputs_digest(tmp_path, ["data/*.csv"])
    assert with_new != before
    new.unlink()
    assert inputs_digest(tmp_path, ["data/*.csv"]) == before
    (tmp_path / "data" / "a.csv").unlink()
    assert inputs_digest(tmp_path, ["data/*.csv"]) != before


def test_digest_changes_when_a_file_is_renamed(tmp_path: Path) -> None:
    _tree(tmp_path)
    before = inputs_digest(tmp_path, ["data/*.csv"])
    (tmp_path / "data" / "a.csv").rename(tmp_path / "data" / "a2.csv")
    assert inputs_digest(tmp_path, ["data/*.csv"]) != before


def test_digest_ignores_modification_time(tmp_path: Path) -> None:
    _tree(tmp_path)
    before = inputs_digest(tmp_path, ["data/**/*", "VERSION"])
    for path in tmp_path.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    assert inputs_digest(tmp_path, ["data/**/*", "VERSION"]) == before
    # rewriting the same bytes (as git checkout does) changes nothing either
    (tmp_path / "VERSION").write_text("26.0.0\n", encoding="utf-8")
    assert inputs_digest(tmp_path, ["data/**/*", "VERSION"]) == before


def test_digest_ignores_files_outside_the_patterns_and_caches(tmp_path: Path) -> None:
    _tree(tmp_path)
    before = inputs_digest(tmp_path, ["data/**/*"])
    (tmp_path / "data" / "__pycache__" / "d.csv").write_text("changed cache\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("unrelated\n", encoding="utf-8")
    assert inputs_digest(tmp_path, ["data/**/*"]) == before


def test_digest_does_not_depend_on_pattern_order_or_overlap(tmp_path: Path) -> None:
    _tree(tmp_path)
    one = inputs_digest(tmp_path, ["data/*.csv", "data/sub/*.csv"])
    assert one == inputs_digest(tmp_path, ["data/sub/*.csv", "data/*.csv", "data/a.csv"])


# ---------------------------------------------------------------- the review's chapters
CHAPTERS = sorted((ROOT / "book").glob("*.md"))


def _tracked(chapter: Path) -> set[str]:
    patterns = declared_inputs(chapter) or ()
    return {p.relative_to(ROOT).as_posix() for p in matched_files(ROOT, patterns)}


def _chapter_param(chapter: Path) -> object:
    return pytest.param(chapter, id=chapter.name)


@pytest.mark.parametrize("chapter", [_chapter_param(c) for c in CHAPTERS])
def test_every_declared_pattern_matches_something(chapter: Path) -> None:
    """A misspelt pattern matches nothing and silently tracks nothing.

    Exceptions: private patient data (never in the public tree) and released snapshots
    (``results/``, empty before the first release).
    """
    optional = ("data/private/", "results/")
    for pattern in declared_inputs(chapter) or ():
        if pattern.startswith(optional):
            continue
        assert matched_files(ROOT, [pattern]), f"{chapter.name}: depends_on pattern {pattern!r} matches no file"


def _needs(chapter: str, file: str, why: str, missing: bool = False) -> object:
    marks = (
        [pytest.mark.xfail(strict=True, reason=f"book/{chapter} shows {why} but its depends_on does not match {file}")]
        if missing
        else []
    )
    return pytest.param(chapter, file, marks=marks, id=f"{chapter}:{file}")


# (chapter, file its output is computed from, how; read from analysis/book/bookkit.py). A row marked
# missing=True would be a chapter that keeps showing old output after that file changes.
DEPENDENCIES = [
    _needs("index.md", "data/studies.csv", "counts and the primary headline (glue_key_findings)"),
    _needs("index.md", "data/grade.csv", "the primary outcome's certainty (glue_key_findings)"),
    _needs("index.md", "VERSION", "the version (glue_key_findings)"),
    _needs("index.md", "CITATION.cff", "the citation built from CITATION.cff (Review.citation)"),
    _needs("methods.md", "data/analysis_plan.yaml", "the pre-specified methods (glue_methods)"),
    _needs("methods.md", "data/outcomes.csv",
           "the engine's methods text of the first pooled outcome, which names k, the continuity "
           "corrections and the df of the PI (glue_methods -> synthesis)"),
    _needs("methods.md", "data/studies.csv", "the methods text of the first pooled outcome (glue_methods)"),
    _needs("results.md", "data/outcomes.csv", "forest plots (show_outcome)"),
    _needs("results.md", "references.bib", "study labels 'Surname year' in the forest plots (show_outcome)"),
    _needs("subgroups.md", "references.bib", "study labels in the subgroup forest plots (show_subgroups)"),
    _needs("sensitivity.md", "references.bib", "study labels in the leave-one-out plot (show_leave_one_out)"),
    _needs("cumulative.md", "references.bib", "study labels in the cumulative plot (show_cumulative)"),
    _needs("indirect.md", "data/published_pooled.csv",
           "the published meta-analysis reference rows (show_indirect -> _published_pooled)"),
    _needs("indirect.md", "references.bib", "study labels in the context forest plots (show_indirect)"),
    _needs("rob.md", "data/risk_of_bias.csv", "the traffic-light plot (rob_traffic_light)"),
    _needs("rob.md", "data/analysis_plan.yaml", "the checklist questions (rob_items reads risk_of_bias.items)"),
    _needs("rob.md", "references.bib", "study labels in the traffic-light plot (rob_traffic_light)"),
    _needs("studies.md", "data/studies.csv", "the study tables"),
    _needs("studies.md", "data/analysis_plan.yaml",
           "the columns of the study tables (presentation.tables) and the evidence sets (included_table)"),
    _needs("sof.md", "data/grade.csv", "the GRADE certainty and reasons (summary_of_findings)"),
    _needs("flow.md", "data/search_flow.yaml", "the PRISMA flow diagram (flow_figure)"),
    _needs("changes.md", "VERSION", "the version (glue_changes)"),
]


@pytest.mark.parametrize(("chapter", "file"), DEPENDENCIES)
def test_chapter_declares_what_its_output_is_computed_from(chapter: str, file: str) -> None:
    assert (ROOT / file).exists(), f"{file} is not in the repository"
    assert file in _tracked(ROOT / "book" / chapter)


# ---------------------------------------------------------------- labelled bibliography for citations
def test_labelled_bibfiles_points_the_citations_at_a_relabelled_copy(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from analysis.book.sphinxext import _labelled_bibfiles

    (tmp_path / "refs.bib").write_text(
        "@article{doe2020a,\n  author = {Doe, J.},\n  title = {A},\n  year = {2020}\n}\n\n"
        "@article{doe2020b,\n  author = {Doe, J.},\n  title = {B},\n  year = {2020}\n}\n",
        encoding="utf-8",
    )
    app = SimpleNamespace(confdir=str(tmp_path), srcdir=str(tmp_path), doctreedir=str(tmp_path / "_build" / ".doctrees"))
    config = SimpleNamespace(bibtex_bibfiles=["refs.bib"], bibtex_labelled=True)
    _labelled_bibfiles(app, config)
    assert config.bibtex_bibfiles == [os.path.join("_build", "labelled-bib", "refs.bib")]
    text = (tmp_path / config.bibtex_bibfiles[0]).read_text(encoding="utf-8")
    assert "{2020a}" in text and "{2020b}" in text
    assert "{2020}" in (tmp_path / "refs.bib").read_text(encoding="utf-8")  # the source is never changed

    off = SimpleNamespace(bibtex_bibfiles=["refs.bib"], bibtex_labelled=False)
    _labelled_bibfiles(app, off)
    assert off.bibtex_bibfiles == ["refs.bib"]


def test_chapters_start_longest_first_and_never_executed_ones_before_all() -> None:
    from types import SimpleNamespace

    from analysis.book.sphinxext import longest_first

    def job(key: str, code: str = "") -> SimpleNamespace:
        cells = [{"cell_type": "markdown", "source": "x" * 999}, {"cell_type": "code", "source": code}]
        return SimpleNamespace(key=key, notebook=SimpleNamespace(cells=cells))

    jobs = [job("a"), job("b"), job("c"), job("new"), job("d"), job("new-long", "x = 1\n" * 50)]
    order = longest_first(jobs, {"a": 1.0, "b": 12.5, "c": 3.0, "d": 3.0})
    assert [j.key for j in order] == ["new-long", "new", "b", "c", "d", "a"]


def test_pybtex_plugin_look_ups_are_kept_and_give_the_same_plugins() -> None:
    from pybtex import plugin

    from analysis.book.sphinxext import _memoize_plugin_lookups

    before = plugin.find_plugin("pybtex.style.formatting", "unsrt")
    _memoize_plugin_lookups()
    _memoize_plugin_lookups()  # a second setup wraps nothing twice
    assert getattr(plugin.entry_points, "_live_inputs_cached", False)
    assert plugin.find_plugin("pybtex.style.formatting", "unsrt") is before
    assert plugin.find_plugin("pybtex.style.formatting", "plain") is not before


# ----------------------------------------------------------------- the worker process started before the build
def _book(tmp_path: Path, text: str) -> Path:
    (tmp_path / "_config.yml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("text", [
    "execute:\n  execute_notebooks: force\n",  # every chapter in a kernel: no worker process
    "execute:\n  execute_notebooks: cache\nsphinx:\n  config:\n    live_inputs_fork: false\n",
    "title: no execution settings\n",
    ": not yaml : [",
])
def test_no_worker_process_is_started_for_a_build_that_would_not_use_one(tmp_path: Path, text: str) -> None:
    from analysis.book.sphinxext import start_worker_process

    assert start_worker_process(_book(tmp_path, text)) is None


def test_no_worker_process_without_a_configuration(tmp_path: Path) -> None:
    from analysis.book.sphinxext import start_worker_process

    assert start_worker_process(tmp_path) is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("caches", [True, False])
def test_the_worker_process_started_early_is_asked_what_the_extension_would_ask(tmp_path: Path, caches: bool) -> None:
    """The header the driver's worker process gets is the one ``config-inited`` computes from the same
    configuration, so the build adopts it; with the caches off, no prewarm and no cache folders."""
    from analysis.book import sphinxext

    root = _book(tmp_path, "execute:\n  execute_notebooks: cache\nsphinx:\n  config:\n"
                           "    live_inputs_preload: [json]\n    live_inputs_prewarm: ['json:dumps']\n"
                           f"    live_inputs_caches: {str(caches).lower()}\n")
    zygote = sphinxext.start_worker_process(root)
    try:
        assert zygote is not None
        wanted = sphinxext._zygote_header(str(root), str(root / "_build" / "html"), ["json"], ["json:dumps"], caches)
        assert zygote.header == wanted
        assert wanted["calls"] == ([["json:dumps", str(root)]] if caches else [])
        assert set(wanted["env"].values()) == ({str(root / "_build" / sphinxext.FIGURE_CACHE),
                                                str(root / "_build" / sphinxext.BUILD_CACHE)} if caches else {None})
    finally:
        if zygote is not None:
            zygote.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_handed_over_worker_process_is_used_only_when_it_prepares_the_same_work(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from analysis.book import nbfork, sphinxext

    for wanted, used in (({"modules": ["json"], "calls": [], "env": {}}, True),
                         ({"modules": ["csv"], "calls": [], "env": {}}, False)):
        zygote = nbfork.Zygote.start(["json"])
        token, fds = zygote.handoff()
        # as a child process would hold them: its own copies of the pipes, the starter's closed
        own = json.loads(token) | {"stdin": os.dup(fds[0]), "stdout": os.dup(fds[1])}
        zygote.release()
        monkeypatch.setenv(nbfork.HANDOFF_ENV, json.dumps(own))
        adopted = None
        try:
            adopted = sphinxext._adopted_zygote(wanted)
            assert (adopted is not None) is used
            assert nbfork.HANDOFF_ENV not in os.environ  # never passed on to the chapters' processes
            if not used:  # the extension stopped it: it will start its own
                assert zygote._process.wait(timeout=30) is not None
        finally:
            if adopted is not None:
                adopted.close()
            zygote.close()


# ----------------------------------------------------------------- chapters whose outputs did not change
def _executed(ids: tuple[str, ...], text: str = "42") -> dict:
    return {"cells": [{"id": i, "cell_type": "code", "source": "x", "outputs": [{"text": text}]} for i in ids],
            "metadata": {}, "nbformat": 4}


def test_the_output_digest_ignores_cell_ids_but_not_outputs(tmp_path: Path) -> None:
    from analysis.book.sphinxext import output_digest

    same = output_digest(_executed(("a1", "b2")), [])
    assert output_digest(_executed(("c3", "d4")), []) == same  # ids are drawn at random per reading
    assert output_digest(_executed(("a1", "b2"), "43"), []) != same
    assert output_digest(_executed(("a1",)), []) != same


def test_the_output_digest_follows_the_files_the_page_shows(tmp_path: Path) -> None:
    from analysis.book.sphinxext import output_digest

    picture = tmp_path / "figure.svg"
    notebook = _executed(("a",))
    absent = output_digest(notebook, [picture])
    picture.write_text("<svg>1</svg>", encoding="utf-8")
    one = output_digest(notebook, [picture])
    picture.write_text("<svg>2</svg>", encoding="utf-8")
    two = output_digest(notebook, [picture])
    assert len({absent, one, two, output_digest(notebook, [])}) == 4
    assert output_digest(notebook, [picture, picture]) == two  # each file once, in a fixed order


def test_referenced_files_are_sphinxs_records_of_the_page(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from analysis.book.sphinxext import referenced_files

    env = SimpleNamespace(
        srcdir=str(tmp_path),
        dependencies={"book/a": {"book/included.md"}},
        images={"book/_generated/a.png": ({"book/a", "book/b"}, "a.png"), "book/c.png": ({"book/c"}, "c.png")},
        dlfiles={"book/_generated/a.csv": ({"book/a"}, "hash/a.csv")},
    )
    assert referenced_files(env, "book/a") == sorted(
        tmp_path / n for n in ("book/included.md", "book/_generated/a.png", "book/_generated/a.csv"))
    assert referenced_files(env, "book/b") == [tmp_path / "book/_generated/a.png"]
    assert referenced_files(env, "book/none") == []


def test_the_collector_thresholds_are_raised_never_lowered() -> None:
    import gc

    from analysis.book.sphinxext import GC_THRESHOLD, collect_less_often

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        collect_less_often()
        assert gc.get_threshold() == GC_THRESHOLD
        gc.set_threshold(10**6, 10, 500)
        collect_less_often()
        assert gc.get_threshold() == (10**6, GC_THRESHOLD[1], 500)
    finally:
        gc.set_threshold(*before)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_build_command_is_launched_with_the_worker_process_handed_over(tmp_path: Path) -> None:
    import subprocess
    import sys

    from analysis.book import sphinxext

    child = ("import os, json\nfrom analysis.book import nbfork\n"
             "token = os.environ.get(nbfork.HANDOFF_ENV)\n"
             "z = nbfork.Zygote.adopt(token) if token else None\n"
             "print(json.dumps(z.header['modules'] if z else None))\n"
             "z and z.close()\n")
    root = _book(tmp_path, "execute:\n  execute_notebooks: cache\nsphinx:\n  config:\n    live_inputs_preload: [json]\n")
    process, worker = sphinxext.launch_with_worker_process([sys.executable, "-c", child], root,
                                                           stdout=subprocess.PIPE, text=True)
    try:
        out, _ = process.communicate(timeout=120)
    finally:
        worker.close()
    assert json.loads(out) == ["json"]
    assert worker._process.poll() is not None

    (tmp_path / "plain").mkdir()
    plain = _book(tmp_path / "plain", "title: no fast path\n")
    process, worker = sphinxext.launch_with_worker_process([sys.executable, "-c", child], plain,
                                                           stdout=subprocess.PIPE, text=True)
    out, _ = process.communicate(timeout=120)
    assert worker is None and json.loads(out) is None
