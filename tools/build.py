"""Build the book: check the data, execute the chapters and write the site, write the results snapshot.

Usage (what ``make book`` runs)::

    python -m tools.build [--root .] [--jb-flags "-W --keep-going"] [--force]

Three stages (:mod:`analysis.living.stages`), each skipped when the files it reads and the files it
wrote are byte for byte those of its last successful run:

1. **validation** (``python -m analysis validate``): reads ``data/``, ``references.bib`` and the
   package's code;
2. **site** (``jupyter-book build .``): reads every file of the project but the build folder, the
   virtual environment, the figures the chapters write and caches; Jupyter Book itself re-executes
   only the chapters whose declared inputs changed, and reads and writes again only those whose
   outputs changed (:mod:`analysis.book.sphinxext`). The process the chapters are forked from is
   started here, before Jupyter Book, which adopts it
   (:func:`analysis.book.sphinxext.start_worker_process`): it imports and loads the data while
   Jupyter Book starts;
3. **snapshot** (``python -m tools.release snapshot``, ``_build/results/dev.json``): reads
   ``data/``, ``references.bib``, ``VERSION``, ``results/`` and the code; its key holds the date,
   which the snapshot records.

The stages overlap: the site stage starts at once, while the data are checked beside it; the
snapshot is written, beside the site, once the check passed. A check that fails stops the site
stage (its record is not written, so it runs again next time) and the snapshot is not written; a
site that fails does not stop the snapshot (it reads only the data and the code). On two cores
this takes the check and the snapshot off the path of the build: the site stage waits mostly for
its worker process to import and load the data, then for Sphinx.

Then it prints the time budget of the build, one line per stage: validation, the execution of each
chapter, Sphinx (reading and writing the pages), the site's post-processing (icon fonts, removed
files), the snapshot. A stage's seconds are its own, from its start to its end; they overlap, so
they add up to more than the total. The stage records live in ``_build/.stages``; ``--force``
ignores them (``make clean`` removes them with the rest of ``_build``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
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
#: Niceness of the thread that checks the data and writes the snapshot beside the site (Linux: per thread), so
#: that they take the processor time the site's workers leave, not the workers' own.
BESIDE_NICE = 10
RECORDS = "_build/.stages"


def _env_key() -> list[str]:
    return [f"{name}={os.environ.get(name, '')}" for name in BUILD_ENV]


def _validate(root: Path) -> bool:
    from analysis.cli import main

    return main(["validate", str(root / "data")]) == 0


class Gate:
    """The outcome of the data check, awaited by the stages that run beside it."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self.passed = False

    def settle(self, passed: bool) -> None:
        """Record the check's outcome (once)."""
        self.passed = passed
        self._done.set()

    def wait(self, timeout: float | None = None) -> bool | None:
        """The outcome, or None when it is not known within ``timeout`` seconds."""
        return self.passed if self._done.wait(timeout) else None


def _jupyter_book(root: Path, flags: list[str], gate: Gate | None = None) -> bool:
    """Execute the chapters and write the site, then the feed of releases every page links
    (``_build/html/feed.xml``; written in this stage so that it is one of the stage's own outputs).

    With a ``gate`` (the data check running beside it), Jupyter Book is stopped as soon as the check
    fails, and the stage succeeds only when the check passed."""
    from analysis.book.sphinxext import launch_with_worker_process

    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root), *flags]
    # The chapters' worker process starts preparing now, while Jupyter Book starts (it adopts it).
    process, worker = launch_with_worker_process(command, root, cwd=root, start_new_session=True)
    try:
        code = _await_site(process, gate)
    finally:
        if worker is not None:  # Jupyter Book has ended: nobody will use it any more
            worker.close()
    if code is None:
        print("site stage stopped: the data check failed", file=sys.stderr, flush=True)
        return False
    if code != 0 or (gate is not None and not gate.wait()):
        return False
    from tools.site import write_feed

    print(f"feed of releases written to {write_feed(root, root / '_build' / 'html' / 'feed.xml')}")
    return True


def _await_site(process: subprocess.Popen, gate: Gate | None) -> int | None:
    """Wait for Jupyter Book; its exit status, or None when it was stopped because the data check failed."""
    while True:
        try:
            return process.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            if gate is not None and gate.wait(0) is False:
                _stop(process)
                return None


def _stop(process: subprocess.Popen) -> None:
    """Stop ``process`` and every process it started (its session: Sphinx's chapter workers)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        process.kill()
        process.wait()


def _snapshot(root: Path, date: str) -> bool:
    from analysis.book.sphinxext import BUILD_CACHE
    from analysis.living.buildcache import CACHE_ENV
    from tools.release import main

    os.environ.setdefault(CACHE_ENV, str(root / "_build" / BUILD_CACHE))  # the chapters' results

    return main(["snapshot", "--root", str(root), "--out", str(root / SNAPSHOT), "--date", date]) == 0


def _lower_priority(nice: int) -> None:
    """Lower the priority of the calling thread by ``nice`` (Linux, where niceness is per thread; a no-op
    where it cannot be set for one thread)."""
    if nice <= 0 or not sys.platform.startswith("linux") or threading.current_thread() is threading.main_thread():
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
    except OSError:
        pass


def stages(root: Path, flags: list[str], date: str, gate: Gate | None = None) -> list[Stage]:
    """The stages of ``make book`` (see the module docstring): validation, site, snapshot."""
    return [
        Stage("validation", (*DATA, *CODE), (), lambda: _validate(root), EXCLUDED),
        Stage("site", ("*",), ("_build/html/*",), lambda: _jupyter_book(root, flags, gate), EXCLUDED,
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
    from analysis.book.sphinxext import collect_less_often

    collect_less_often()  # this process checks the data and writes the snapshot, then ends
    root = args.root.resolve()
    records = root / RECORDS
    if args.force:
        for old in records.glob("*.json"):
            old.unlink()
    start = time.perf_counter()
    budget = Budget()
    gate = Gate()
    validation, site, snapshot = stages(root, shlex.split(args.jb_flags), args.date, gate)
    results: dict[str, tuple[bool, bool, float]] = {}

    def check_then_snapshot() -> None:
        _lower_priority(BESIDE_NICE)
        print("==> checking the evidence base (data/ and references.bib), beside the site", flush=True)
        try:
            results["validation"] = run_stage(validation, root, records)
        finally:
            gate.settle(results.get("validation", (False,))[0])
        if gate.passed:
            print(f"==> writing the results snapshot of this build to {SNAPSHOT}, beside the site", flush=True)
            results["snapshot"] = run_stage(snapshot, root, records)

    print("==> executing chapters and building the website (only chapters whose inputs changed run)",
          flush=True)
    beside = threading.Thread(target=check_then_snapshot, name="validation-and-snapshot")
    beside.start()
    results["site"] = run_stage(site, root, records)
    beside.join()
    for name in ("validation", "site", "snapshot"):
        if name not in results:  # the check raised an error, or the snapshot after a failed check
            budget.add(name, None, "stopped by an error" if name == "validation" else "not run: the data check failed")
            continue
        _, ran, seconds = results[name]
        if not ran:
            print(f"    {name}: nothing to do, inputs and outputs unchanged since the last build", flush=True)
        if name == "site" and ran:
            add_site(budget, root, seconds)
        else:
            budget.add(name, seconds if ran else None, "" if ran else "inputs unchanged")
    failed = [name for name in ("validation", "site", "snapshot") if not results.get(name, (False,))[0]]
    if failed:
        print(f"\nbuild stopped: the {failed[0]} stage failed", file=sys.stderr)
        return 1
    print("\n==> time budget of this build")
    print(budget.render(time.perf_counter() - start), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
