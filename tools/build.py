"""Build the book: check the data, execute the chapters and write the site, write the results snapshot.

Usage (what ``make book`` runs)::

    python -m tools.build [--root .] [--jb-flags "-W --keep-going"] [--force]

Three stages (:mod:`analysis.living.stages`), each skipped when the files it reads and the files it
wrote are byte for byte those of its last successful run:

1. **validation** (``python -m analysis validate``): reads ``data/``, ``references.bib`` and the
   package's code;
2. **site** (``jupyter-book build .``): reads every file of the project but the build folder, the
   virtual environment, the figures the chapters write and caches; Jupyter Book itself re-executes
   only the chapters whose declared inputs changed (:mod:`analysis.book.sphinxext`);
3. **snapshot** (``python -m tools.release snapshot``, ``_build/results/dev.json``): reads
   ``data/``, ``references.bib``, ``VERSION``, ``results/`` and the code; its key holds the date,
   which the snapshot records.

Then it prints the time budget of the build, one line per stage: validation, the execution of each
chapter, Sphinx (reading and writing the pages), the site's post-processing (icon fonts, removed
files), the snapshot. The stage records live in ``_build/.stages``; ``--force`` ignores them
(``make clean`` removes them with the rest of ``_build``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from analysis.living.stages import Budget, Stage, run_stage

#: Never inputs of any stage: what the build writes, the environment, the chapters' own figures.
EXCLUDED = ("_build", ".venv", "book/_generated", "*.egg-info", ".coverage")
#: What the code of the review is (every stage reads it).
CODE = ("analysis/*.py", "pyproject.toml", "requirements/*")
#: What the data are.
DATA = ("data/*", "references.bib")
#: Environment variables that change what a build writes (tools/site.py sets the first).
BUILD_ENV = ("REVIEW_BUILD_VERSION", "SITE_BASEURL")
SNAPSHOT = "_build/results/dev.json"
RECORDS = "_build/.stages"


def _env_key() -> list[str]:
    return [f"{name}={os.environ.get(name, '')}" for name in BUILD_ENV]


def _validate(root: Path) -> bool:
    from analysis.cli import main

    return main(["validate", str(root / "data")]) == 0


def _jupyter_book(root: Path, flags: list[str]) -> bool:
    """Execute the chapters and write the site, then the feed of releases every page links
    (``_build/html/feed.xml``; written in this stage so that it is one of the stage's own outputs)."""
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root), *flags]
    if subprocess.run(command, cwd=root, check=False).returncode != 0:
        return False
    from tools.site import write_feed

    print(f"feed of releases written to {write_feed(root, root / '_build' / 'html' / 'feed.xml')}")
    return True


def _snapshot(root: Path, date: str) -> bool:
    from analysis.book.sphinxext import BUILD_CACHE
    from analysis.living.buildcache import CACHE_ENV
    from tools.release import main

    os.environ.setdefault(CACHE_ENV, str(root / "_build" / BUILD_CACHE))  # the chapters' results

    return main(["snapshot", "--root", str(root), "--out", str(root / SNAPSHOT), "--date", date]) == 0


def stages(root: Path, flags: list[str], date: str) -> list[Stage]:
    """The stages of ``make book`` in order (see the module docstring)."""
    return [
        Stage("validation", (*DATA, *CODE), (), lambda: _validate(root), EXCLUDED),
        Stage("site", ("*",), ("_build/html/*",), lambda: _jupyter_book(root, flags), EXCLUDED,
              ("jupyter-book build", *flags, *_env_key())),
        Stage("snapshot", (*DATA, *CODE, "VERSION", "results/*"), (SNAPSHOT,),
              lambda: _snapshot(root, date), EXCLUDED, (f"date={date}", *_env_key())),
    ]


def read_sphinx_budget(root: Path) -> dict:
    """What the Sphinx extension recorded of the last site build (empty when nothing was)."""
    from analysis.book.sphinxext import BUDGET_FILE

    try:
        return json.loads((root / "_build" / BUDGET_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def add_site(budget: Budget, root: Path, seconds: float) -> None:
    """The site stage's lines: chapters executed (each), Sphinx, post-processing."""
    record = read_sphinx_budget(root)
    chapters = record.get("chapters", {})
    execution = float(record.get("execution_seconds", 0.0))
    post = float(record.get("post_processing_seconds", 0.0))
    budget.add("chapter execution", execution,
               f"{len(chapters)} chapter(s), {record.get('workers', 0)} worker(s), wall"
               if chapters else "no chapter's inputs changed")
    for name, spent in sorted(chapters.items(), key=lambda item: -item[1]):
        budget.add(f"  {name}", spent)
    budget.add("Sphinx (start, read, write)", max(0.0, seconds - execution - post))
    budget.add("site post-processing", post, "icon fonts, unused files")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default .)")
    parser.add_argument("--jb-flags", default="-W --keep-going", help="flags of jupyter-book build")
    parser.add_argument("--date", default=dt.date.today().isoformat(), help="date of the snapshot")
    parser.add_argument("--force", action="store_true", help="run every stage")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    records = root / RECORDS
    if args.force:
        for old in records.glob("*.json"):
            old.unlink()
    start = time.perf_counter()
    budget = Budget()
    titles = {"validation": "checking the evidence base (data/ and references.bib)",
              "site": "executing chapters and building the website (only chapters whose inputs changed run)",
              "snapshot": f"writing the results snapshot of this build to {SNAPSHOT}"}
    for stage in stages(root, shlex.split(args.jb_flags), args.date):
        print(f"==> {titles[stage.name]}", flush=True)
        ok, ran, seconds = run_stage(stage, root, records)
        if not ran:
            print("    nothing to do: inputs and outputs unchanged since the last build", flush=True)
        if stage.name == "site" and ran:
            add_site(budget, root, seconds)
        else:
            budget.add(stage.name, seconds if ran else None, "" if ran else "inputs unchanged")
        if not ok:
            print(f"\nbuild stopped: the {stage.name} stage failed", file=sys.stderr)
            return 1
    print("\n==> time budget of this build")
    print(budget.render(time.perf_counter() - start), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
