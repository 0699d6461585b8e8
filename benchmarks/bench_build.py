"""Build benchmark: cold build, no-change rebuild, one-value data change (and a kernel cold build).

Usage (what ``make bench`` runs first)::

    .venv/bin/python benchmarks/bench_build.py [--keep] [--no-kernel]

Works on a temporary copy of the project (the files ``tests/buildutil.py`` copies), so the
working tree and its ``_build`` are never touched. Steps, each timed by wall clock and reported
with the chapters that were executed (the fast path's "executed (forked)" log lines, or myst-nb's
"Executing notebook" lines for a chapter run in a Jupyter kernel):

1. cold build: ``_build`` removed, ``jupyter-book build . -W --keep-going`` (what ``make book``
   runs after installation);
2. rebuild with nothing changed;
3. rebuild after one value of ``data/outcomes.csv`` changed (one study's event count minus one):
   the chapters executed must be exactly those whose ``depends_on`` front matter matches that
   file, and the rebuilt page must show the new value;
4. (unless ``--no-kernel``) for comparison, a cold build with ``execute_notebooks: force``: one
   Jupyter kernel per chapter, one chapter at a time (how the book was built before the fast
   path of ``analysis.book.nbfork``).

Targets on a 2-core machine: cold < 60 s; no change < 5 s; one-value change < half the cold time
and only the declaring chapters. Prints a table; exits 1 when a build fails (not when a target
is missed: this is a measurement, not a test).
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.book.sphinxext import declared_inputs
from tests.buildutil import JUPYTER_BOOK, PROJECT_ITEMS, copy_project, toc_pages

#: Copied besides tests/buildutil.PROJECT_ITEMS: pages that {include} files from tests/.
EXTRA_ITEMS = ("tests/reference",)
COLD_TARGET, NOCHANGE_TARGET = 60.0, 5.0
_EXEC = re.compile(r"(?P<path>\S+\.(?:md|ipynb)): (?:Executing notebook|executed \(forked\))")
_TIME = re.compile(r"(?P<path>\S+\.(?:md|ipynb)): (?:Executed notebook in|executed \(forked\) in) "
                   r"(?P<s>[0-9.]+) seconds")


@dataclass
class Step:
    name: str
    seconds: float
    executed: list[str]
    exec_seconds: dict[str, float]
    ok: bool
    log: str


def _chapter(path: str, project: Path) -> str:
    p = Path(path)
    try:
        return p.resolve().relative_to(project.resolve()).with_suffix("").as_posix()
    except ValueError:
        return p.with_suffix("").as_posix()


def timed(name: str, cmd: list[str], project: Path) -> Step:
    """Run ``cmd`` in ``project``; wall time, executed chapters and per-chapter execution time."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True, check=False,
                          timeout=1800)
    seconds = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    executed = sorted({_chapter(m["path"], project) for m in _EXEC.finditer(log)})
    times = {_chapter(m["path"], project): float(m["s"]) for m in _TIME.finditer(log)}
    return Step(name, seconds, executed, times, proc.returncode == 0, log)


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


def change_one_value(project: Path) -> tuple[str, str, int, int, int]:
    """Lower the events of the first outcomes.csv row with 0 < events < total by one.

    Returns (study_id, outcome, old events, new events, total). Only that field's text changes.
    """
    path = project / "data" / "outcomes.csv"
    text = path.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    for i, row in enumerate(rows):
        ev, tot = int(row["events"]), int(row["total"])
        if 0 < ev < tot:
            lines = text.splitlines(keepends=True)
            old_line = lines[i + 1]
            prefix = f"{row['study_id']},{row['outcome']},{ev},{tot},"
            if not old_line.startswith(prefix):
                continue
            lines[i + 1] = f"{row['study_id']},{row['outcome']},{ev - 1},{tot}," + old_line[len(prefix):]
            path.write_text("".join(lines), encoding="utf-8")
            return row["study_id"], row["outcome"], ev, ev - 1, tot
    raise SystemExit("no row of data/outcomes.csv with 0 < events < total to change")


def pages_showing(project: Path, pages: list[str], needles: list[str]) -> list[str]:
    hits = []
    for page in pages:
        html = project / "_build" / "html" / f"{page}.html"
        if html.exists() and any(n in html.read_text(encoding="utf-8") for n in needles):
            hits.append(page)
    return hits


def report(steps: list[Step], cold: float) -> None:
    print()
    print(f"{'step':<44}{'wall s':>8}  {'chapters executed':>18}  target")
    for s in steps:
        target = ""
        if s.name.startswith("cold build ("):
            target = f"< {COLD_TARGET:.0f} s: {'met' if s.seconds < COLD_TARGET else 'MISSED'}"
        elif s.name.startswith("no change"):
            target = f"< {NOCHANGE_TARGET:.0f} s: {'met' if s.seconds < NOCHANGE_TARGET else 'MISSED'}"
        elif s.name.startswith("one value"):
            target = f"< {cold / 2:.1f} s: {'met' if s.seconds < cold / 2 else 'MISSED'}"
        status = "" if s.ok else "  BUILD FAILED"
        print(f"{s.name:<44}{s.seconds:>8.1f}  {len(s.executed):>18}  {target}{status}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    parser.add_argument("--no-kernel", action="store_true",
                        help="skip the comparison build with a Jupyter kernel per chapter")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-build-"))
    project = copy_project(tmp / "project", PROJECT_ITEMS + EXTRA_ITEMS)
    shutil.rmtree(project / "_build", ignore_errors=True)
    print(f"==> building a copy of the project in {project}", flush=True)
    steps = [timed("cold build (make book after installation)", jb_build(project), project)]
    steps.append(timed("no change rebuild", jb_build(project), project))
    study, outcome, old, new, total = change_one_value(project)
    expected = chapters_reading(project, "data/outcomes.csv")
    steps.append(timed(f"one value changed ({study} {outcome} {old}->{new}/{total})",
                       jb_build(project), project))
    if not args.no_kernel:
        shutil.rmtree(project / "_build", ignore_errors=True)
        config = project / "_config.yml"
        config.write_text(config.read_text(encoding="utf-8").replace(
            "execute_notebooks: cache", "execute_notebooks: force"), encoding="utf-8")
        steps.append(timed("cold build, a Jupyter kernel per chapter", jb_build(project), project))
    cold = steps[0].seconds
    report(steps, cold)
    one = steps[2]
    print()
    print("Chapters executed per step and execution seconds (myst-nb log):")
    for s in steps:
        detail = ", ".join(f"{c} {s.exec_seconds.get(c, float('nan')):.1f}" for c in s.executed)
        print(f"  {s.name}: {detail or 'none'}")
        if s.executed:
            print(f"    sum of execution times {sum(s.exec_seconds.values()):.1f} s of "
                  f"{s.seconds:.1f} s wall")
    print()
    print(f"one-value change: chapters declaring data/outcomes.csv = {len(expected)}; executed = "
          f"{len(one.executed)}; same set: {sorted(one.executed) == expected}")
    if sorted(one.executed) != expected:
        print(f"  expected only: {sorted(set(expected) - set(one.executed))}")
        print(f"  executed but not declaring: {sorted(set(one.executed) - set(expected))}")
    needles = [f"{new}/{total}", f"{new} / {total}", f"{new} of {total}"]
    shown = pages_showing(project, expected, needles)
    print(f"new value {new}/{total} shown on: {', '.join(shown) or 'NO PAGE'}")
    failed = [s for s in steps if not s.ok]
    for s in failed:
        print(f"\n---- {s.name} failed; last lines of its log:\n" + "\n".join(s.log.splitlines()[-30:]))
    if args.keep:
        print(f"\nkept {project}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
