"""Honest builds: the two known traps of Jupyter Book 1 (issue 2).

1. jupyter-cache keys a notebook on its code only, so outputs computed from old data were served
   after a data file changed. `analysis.book.sphinxext` re-executes a chapter when a file it declares in
   `depends_on` changes. Proven here by changing a data value in a temporary copy and finding the
   new value in the rebuilt HTML, while an unrelated chapter is not re-executed.
2. A failing cell used to be a warning with exit code 0; `raise_on_error: true` makes it fail.
3. The fast path (chapters executed in forked workers and handed to myst-nb through its
   jupyter-cache, `analysis.book.nbfork`) must never let that cache serve outputs from an earlier
   build, and a chapter it cannot run must still be run (and fail) the ordinary way.

The chapters below are SYNTHETIC test chapters written into a temporary project that uses the
real `_config.yml` and the real extension.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.buildutil import NOTEBOOK_FRONT_MATTER, ROOT, build, html

pytestmark = pytest.mark.build

HEADER = NOTEBOOK_FRONT_MATTER + """{extra}---

# {title}

```{{code-cell}} ipython3
{code}
```
"""

READS_DATA = """import pathlib
value = pathlib.Path("../data/value.txt").read_text().strip()
print("synthetic value is " + value)"""


def _chapter(path: Path, title: str, code: str, depends_on: str | None) -> None:
    extra = f"depends_on: [{depends_on}]\n" if depends_on else ""
    path.write_text(HEADER.format(extra=extra, title=title, code=code), encoding="utf-8")


def _project(tmp_path: Path, chapters: dict[str, tuple[str, str | None]]) -> Path:
    project = tmp_path / "proj"
    (project / "book").mkdir(parents=True)
    (project / "data").mkdir()
    shutil.copy2(ROOT / "_config.yml", project / "_config.yml")
    shutil.copytree(ROOT / "_static", project / "_static")  # the favicon and styles _config.yml names
    (project / "references.bib").write_text(
        "@misc{synthetic2026, title={Synthetic}, year={2026}}\n", encoding="utf-8"
    )
    names = list(chapters)
    toc = "format: jb-book\nroot: book/" + names[0] + "\n"
    if len(names) > 1:
        toc += "chapters:\n" + "".join(f"  - file: book/{n}\n" for n in names[1:])
    (project / "_toc.yml").write_text(toc, encoding="utf-8")
    for name, (code, deps) in chapters.items():
        _chapter(project / "book" / f"{name}.md", name.title(), code, deps)
    return project


def test_data_change_reexecutes_only_the_dependent_chapter(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        {
            "reader": (READS_DATA, "data/value.txt"),
            "other": ('print("independent chapter")', "data/unrelated.txt"),
        },
    )
    (project / "data" / "value.txt").write_text("4711\n", encoding="utf-8")

    first = build(project)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "synthetic value is 4711" in html(project, "book/reader")

    unchanged = build(project)
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert "re-executing" not in unchanged.stdout
    assert "reading sources... [" not in unchanged.stdout  # nothing re-read, nothing executed

    (project / "data" / "value.txt").write_text("5823\n", encoding="utf-8")
    second = build(project)
    assert second.returncode == 0, second.stdout + second.stderr
    page = html(project, "book/reader")
    assert "synthetic value is 5823" in page
    assert "synthetic value is 4711" not in page
    assert "re-executing 1 chapter(s) whose data changed: book/reader" in second.stdout


def test_new_file_matching_a_pattern_reexecutes(tmp_path: Path) -> None:
    code = """import pathlib
print("files:", sorted(p.name for p in pathlib.Path("../data").glob("*.csv")))"""
    project = _project(tmp_path, {"lister": (code, "data/*.csv")})
    (project / "data" / "a.csv").write_text("x\n1\n", encoding="utf-8")
    assert build(project).returncode == 0
    (project / "data" / "b.csv").write_text("x\n2\n", encoding="utf-8")
    result = build(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "b.csv" in html(project, "book/lister")


def test_failing_cell_fails_the_build(tmp_path: Path) -> None:
    project = _project(
        tmp_path, {"broken": ('raise RuntimeError("deliberate failure in a synthetic chapter")', None)}
    )
    result = build(project)
    assert result.returncode != 0
    assert "deliberate failure" in result.stdout + result.stderr


def _configure(project: Path, **values: object) -> None:
    config = yaml.safe_load((project / "_config.yml").read_text(encoding="utf-8"))
    config["sphinx"]["config"].update(values)
    (project / "_config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")


def test_chapters_are_executed_on_the_fast_path(tmp_path: Path) -> None:
    project = _project(tmp_path, {"reader": (READS_DATA, "data/value.txt")})
    (project / "data" / "value.txt").write_text("4711\n", encoding="utf-8")
    result = build(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reader.md: executed (forked)" in result.stdout
    assert "Using cached notebook" in result.stdout
    assert "Executing notebook" not in result.stdout  # no kernel was started
    assert "synthetic value is 4711" in html(project, "book/reader")


def test_a_failing_chapter_goes_to_a_kernel_and_fails_there(tmp_path: Path) -> None:
    project = _project(
        tmp_path, {"broken": ('raise RuntimeError("deliberate failure in a synthetic chapter")', None)}
    )
    result = build(project)
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "not run by the fast path (cell 1: RuntimeError: deliberate failure" in log
    assert "Executing notebook" in log  # myst-nb ran it in a kernel, which reported the error


def test_the_cache_never_serves_outputs_of_an_earlier_build(tmp_path: Path) -> None:
    """Plant outputs in myst-nb's jupyter-cache under the chapter's code hash; they must not show.

    With the fast path off, myst-nb itself consults that cache when it reads a chapter, so only
    the extension's emptying of the cache at the start of every build keeps planted (stale)
    outputs away; the chapter is re-read because its prose changed, its code did not.
    """
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from myst_nb.core.read import read_myst_markdown_notebook

    project = _project(tmp_path, {"reader": (READS_DATA, "data/value.txt")})
    _configure(project, live_inputs_fork=False)
    (project / "data" / "value.txt").write_text("4711\n", encoding="utf-8")
    first = build(project)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Executing notebook" in first.stdout  # the kernel path, as configured

    source = project / "book" / "reader.md"
    stale = read_myst_markdown_notebook(source.read_text(encoding="utf-8"))
    stale.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="STALE OUTPUT\n")]
    stale.cells[-1].execution_count = 1
    cache = get_cache(str(project / "_build" / ".jupyter_cache"))
    cache.cache_notebook_bundle(CacheBundleIn(stale, str(source)), check_validity=False, overwrite=True)
    source.write_text(source.read_text(encoding="utf-8").replace("# Reader", "# Reader, edited"),
                      encoding="utf-8")

    second = build(project)
    assert second.returncode == 0, second.stdout + second.stderr
    page = html(project, "book/reader")
    assert "STALE OUTPUT" not in page
    assert "synthetic value is 4711" in page


PARITY = """import pathlib
value = int(pathlib.Path("../data/value.txt").read_text())
print("the synthetic value is " + ("even" if value % 2 == 0 else "odd"))"""

#: Shows the same Markdown whatever the value, but draws the value into the picture it shows.
PICTURE = """import pathlib
from IPython.display import Markdown, display
value = pathlib.Path("../data/value.txt").read_text().strip()
pathlib.Path("gen").mkdir(exist_ok=True)
pathlib.Path("gen/value.svg").write_text(
    '<svg xmlns="http://www.w3.org/2000/svg" width="80" height="20"><text y="15">' + value + '</text></svg>')
display(Markdown("![The synthetic value, drawn](gen/value.svg)"))"""


def test_a_chapter_whose_outputs_did_not_change_is_not_read_again(tmp_path: Path) -> None:
    """Both chapters read the data; after the value changed (4711 -> 4713) both run, but only the one
    whose output changed is read and written again; the other's page stays right (and the same)."""
    project = _project(tmp_path, {"reader": (READS_DATA, "data/value.txt"),
                                  "parity": (PARITY, "data/value.txt")})
    value = project / "data" / "value.txt"
    for number in ("4711", "4712"):  # the second build records what each execution gave
        value.write_text(number + "\n", encoding="utf-8")
        assert build(project).returncode == 0
    value.write_text("4714\n", encoding="utf-8")
    before = html(project, "book/parity")
    result = build(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "re-executing 2 chapter(s) whose data changed" in result.stdout
    assert "1 chapter(s) gave what they gave last time, not read again: book/parity" in result.stdout
    assert "writing output... [100%] book/reader" in result.stdout.replace("\x1b[32m", "").replace(
        "\x1b[39;49;00m", "").replace("\x1b[01m", "")
    assert "synthetic value is 4714" in html(project, "book/reader")
    assert html(project, "book/parity") == before and "the synthetic value is even" in before


def test_a_chapter_is_read_again_when_a_file_its_page_shows_changed(tmp_path: Path) -> None:
    """Same notebook outputs, but the picture they show was drawn anew: the page and its copy of the
    picture must follow."""
    project = _project(tmp_path, {"picture": (PICTURE, "data/value.txt")})
    value = project / "data" / "value.txt"
    for number in ("4711", "4712"):
        value.write_text(number + "\n", encoding="utf-8")
        assert build(project).returncode == 0
    value.write_text("4713\n", encoding="utf-8")
    result = build(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not read again" not in result.stdout
    [copied] = (project / "_build" / "html" / "_images").glob("value*.svg")
    assert ">4713<" in copied.read_text(encoding="utf-8")


def test_unchanged_chapters_are_read_again_when_the_skip_is_off(tmp_path: Path) -> None:
    project = _project(tmp_path, {"parity": (PARITY, "data/value.txt")})
    _configure(project, live_inputs_skip_unchanged=False)
    value = project / "data" / "value.txt"
    for number in ("4711", "4713", "4715"):
        value.write_text(number + "\n", encoding="utf-8")
        result = build(project)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "not read again" not in result.stdout
    assert "the synthetic value is odd" in html(project, "book/parity")
