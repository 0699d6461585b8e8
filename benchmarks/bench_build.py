"""Build benchmark: ``make book`` cold, with nothing changed, and after one count changed (median of runs).

Usage (what ``make bench`` runs first)::

    .venv/bin/python benchmarks/bench_build.py [--runs 5] [--keep] [--kernel]

Works on a temporary copy of the project (the files ``tests/buildutil.py`` copies), so the
working tree and its ``_build`` are never touched. Each run times, by wall clock, what ``make book``
runs (``python -m tools.build``: validation, chapters and site, snapshot, each stage skipped when
its inputs did not change) in three situations:

1. cold build: ``_build`` removed (what ``make book`` does after installation on a fresh clone);
2. rebuild with nothing changed;
3. rebuild after one count of ``data/outcomes.csv`` changed (one study's events minus one, then
   back again on the next run, so every run changes a count; the second reviewer's record of the
   same count in ``data/second_extraction/outcomes.csv`` changes with it, as the data check
   requires): the chapters executed must be exactly those whose ``depends_on`` front matter
   matches either file, and a rebuilt page must show the new value.

Each step's stage budget (validation, each chapter, Sphinx, post-processing, snapshot) is read
from the build's output. ``--kernel`` adds, once, a cold build with ``execute_notebooks: force``
(one Jupyter kernel per chapter, as before the fast path) for comparison. Targets on a 2-core
machine: cold <= 30 s, nothing changed <= 3 s, one count <= 10 s (medians). Prints a table with
the median and range of each step and the load average; exits 1 when a build fails (not when a
target is missed: this is a measurement, not a test).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.book.sphinxext import declared_inputs
from tests.buildutil import (
    JUPYTER_BOOK,
    PROJECT_ITEMS,
    change_one_value,
    changeable_row,
    copy_project,
    toc_pages,
)

#: Copied besides tests/buildutil.PROJECT_ITEMS: pages that {include} files from tests/.
EXTRA_ITEMS = ("tests/reference",)
TARGETS = {"cold": 30.0, "no change": 3.0, "one count": 10.0}
_UNREAD = re.compile(r"not read again: (?P<names>[^\n]*)")
_EXEC = re.compile(r"(?P<path>\S+\.(?:md|ipynb)): (?:Executing notebook|executed \(forked\))")
_BUDGET = re.compile(r"^  (?P<name>\S.*?|  \S.*?)\s{2,}(?P<value>skipped|[0-9.]+ s)", re.MULTILINE)


@dataclass
class Step:
    name: str
    seconds: float
    executed: list[str]
    budget: dict[str, float | None]
    ok: bool
    log: str


def _chapter(path: str, project: Path) -> str:
    p = Path(path)
    try:
        return p.resolve().relative_to(project.resolve()).with_suffix("").as_posix()
    except ValueError:
        return p.with_suffix("").as_posix()


def _budget(log: str) -> dict[str, float | None]:
    tail = log.split("==> time budget of this build", 1)[-1]
    out: dict[str, float | None] = {}
    for m in _BUDGET.finditer(tail):
        value = m["value"]
        out[m["name"].rstrip()] = None if value == "skipped" else float(value[:-2])
    return out


def timed(name: str, cmd: list[str], project: Path) -> Step:
    """Run ``cmd``; wall time, executed chapters and the stage budget it printed."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False, timeout=1800)
    seconds = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    executed = sorted({_chapter(m["path"], project) for m in _EXEC.finditer(log)})
    return Step(name, seconds, executed, _budget(log), proc.returncode == 0, log)


def make_book(project: Path) -> list[str]:
    """What ``make book`` runs, on ``project``."""
    return [sys.executable, "-m", "tools.build", "--root", str(project), "--jb-flags", "-W --keep-going"]


def jb_build(project: Path) -> list[str]:
    return [str(JUPYTER_BOOK), "build", str(project), "-W", "--keep-going"]


def chapters_reading(project: Path, relpath: str) -> list[str]:
    """Chapters whose ``depends_on`` patterns match ``relpath`` (the ones that must re-run)."""
    target = (project / relpath).resolve()
    out = []
    for chapter in toc_pages(project / "_toc.yml"):
        source = project / f"{chapter}.md"
        if not source.exists():
            continue
        patterns = declared_inputs(source) or ()  # None: not a notebook, never executed
        if any(target in {p.resolve() for p in project.glob(pat)} for pat in patterns):
            out.append(chapter)
    return sorted(out)


def pages_showing(project: Path, pages: list[str], needles: list[str]) -> list[str]:
    hits = []
    for page in pages:
        html = project / "_build" / "html" / f"{page}.html"
        if html.exists() and any(n in html.read_text(encoding="utf-8") for n in needles):
            hits.append(page)
    return hits


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.1f} ({min(values):.1f}-{max(values):.1f})"


def report(steps: dict[str, list[Step]]) -> None:
    print()
    print(f"{'step':<14}{'wall s, median (range)':>26}  {'chapters executed':>18}  target")
    for kind, runs in steps.items():
        walls = [s.seconds for s in runs]
        target = TARGETS.get(kind)
        verdict = "" if target is None else (
            f"<= {target:g} s: {'met' if statistics.median(walls) <= target else 'MISSED'}")
        failed = "  BUILD FAILED" if not all(s.ok for s in runs) else ""
        print(f"{kind:<14}{_spread(walls):>26}  {len(runs[-1].executed):>18}  {verdict}{failed}")
    print()
    print("Stage budget, median seconds over the runs ('-': skipped, inputs unchanged):")
    names = list(dict.fromkeys(n for runs in steps.values() for s in runs for n in s.budget))
    header = "".join(f"{k:>12}" for k in steps)
    print(f"  {'stage':<32}{header}")
    for name in names:
        cells = []
        for runs in steps.values():
            values = [s.budget.get(name) for s in runs if name in s.budget]
            numbers = [v for v in values if v is not None]
            cells.append("-" if values and not numbers else (
                f"{statistics.median(numbers):.2f}" if numbers else ""))
        print(f"  {name:<32}" + "".join(f"{c:>12}" for c in cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each step (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    parser.add_argument("--kernel", action="store_true",
                        help="add a cold build with a Jupyter kernel per chapter, for comparison")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-build-"))
    project = copy_project(tmp / "project", PROJECT_ITEMS + EXTRA_ITEMS)
    print(f"==> building a copy of the project in {project}; load average "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}", flush=True)
    expected = sorted(set(chapters_reading(project, "data/outcomes.csv"))
                      | set(chapters_reading(project, "data/second_extraction/outcomes.csv")))
    index = changeable_row(project)
    steps: dict[str, list[Step]] = {"cold": [], "no change": [], "one count": []}
    shown: list[str] = []
    for run in range(args.runs):
        shutil.rmtree(project / "_build", ignore_errors=True)
        steps["cold"].append(timed("cold", make_book(project), project))
        steps["no change"].append(timed("no change", make_book(project), project))
        study, outcome, old, new, total = change_one_value(project, index, -1 if run % 2 == 0 else +1)
        steps["one count"].append(timed(f"one count ({study} {outcome} {old}->{new}/{total})",
                                        make_book(project), project))
        shown = pages_showing(project, expected, [f"{new}/{total}", f"{new} / {total}", f"{new} of {total}"])
        print(f"    run {run + 1}: cold {steps['cold'][-1].seconds:.1f} s, no change "
              f"{steps['no change'][-1].seconds:.1f} s, one count {steps['one count'][-1].seconds:.1f} s; "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
    if args.kernel:
        shutil.rmtree(project / "_build", ignore_errors=True)
        config = project / "_config.yml"
        config.write_text(config.read_text(encoding="utf-8").replace(
            "execute_notebooks: cache", "execute_notebooks: force"), encoding="utf-8")
        steps["kernel cold"] = [timed("kernel cold", jb_build(project), project)]
    report(steps)
    one = steps["one count"][-1]
    print()
    print(f"one count changed: chapters declaring data/outcomes.csv or its second extraction = "
          f"{len(expected)}; executed = "
          f"{len(one.executed)}; same set: {sorted(one.executed) == expected}")
    if sorted(one.executed) != expected:
        print(f"  expected only: {sorted(set(expected) - set(one.executed))}")
        print(f"  executed but not declaring: {sorted(set(one.executed) - set(expected))}")
    print(f"new value shown on: {', '.join(shown) or 'NO PAGE'}")
    unread = _UNREAD.search(one.log)
    print(f"executed but not read nor written again (their outputs did not change): "
          f"{unread['names'] if unread else 'none'}")
    print(f"load average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    failed = [s for runs in steps.values() for s in runs if not s.ok]
    for s in failed[:1]:
        print(f"\n---- {s.name} failed; last lines of its log:\n" + "\n".join(s.log.splitlines()[-30:]))
    if args.keep:
        print(f"\nkept {project}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
