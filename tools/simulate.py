"""Run the simulation study of :mod:`analysis.engine.simulation` and store its results.

Usage (what ``make simulate`` runs)::

    python -m tools.simulate [--out results/simulation] [--plan data/simulation_plan.yaml]
                             [--workers 2] [--confirmation]

``--confirmation`` runs the plan's ``confirmation`` section instead (its own grid, study sizes,
seed, replicates and reported-only methods; the plan's candidates) into
``results/simulation/confirmation`` (``make simulate-confirmation``), without the check grid.

The grid, seed and replicates come from the simulation plan (``data/simulation_plan.yaml``), which
also holds the rule that chooses the review's primary method from these results
(:func:`analysis.engine.method_choice.choose_method`).

Parallelism: the standard library's :mod:`multiprocessing` (a ``spawn`` pool, one scenario per
task); no extra dependency is needed, and each scenario's generator is seeded from the study seed
and its own parameters, so results do not depend on the number of workers.

Writes into ``--out``:

* ``summary.csv``: one row per scenario and method (performance measures with Monte Carlo SEs);
* ``run.json``: seed, grid, replicates, methods, package versions, git commit and run time;
* ``check/summary.csv`` and ``check/run.json``: the same for a tiny grid (one scenario, few
  replicates) that the test suite re-runs and compares (text identical, numbers to 1e-6, which
  holds across CPUs and thread counts), so the stored results are known to come from the
  committed code and seed;
* ``figures/``: the figures the book shows of ``summary.csv`` (SVG and PNG, with ``figures.json``
  giving the key of each figure's inputs), drawn here so that building the book only copies them
  (:mod:`analysis.book.figstore`); ``--figures-only`` draws again those whose inputs changed (the
  summary, the plan's rule, the plotting code), without re-running the study. A test fails while
  a stored figure is stale.

The CSV files depend only on the seed, the grid, the replicates and the code (never on the
number of workers or the order in which scenarios finish); ``run.json`` also records when and how
fast the study ran.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy

from analysis import __version__
from analysis.book.figstore import StoredFigure, simulation_figures, write_store
from analysis.engine.method_choice import choose_method, confirmation_plan
from analysis.engine.simulation import METHOD_LABELS, METHODS, Scenario, run_scenario, scenario_grid
from analysis.evidence.readers import load_yaml

ROOT = Path(__file__).resolve().parents[1]
#: The simulation plan: grid, seed, replicates and the rule that chooses the primary method.
PLAN = ROOT / "data" / "simulation_plan.yaml"
#: The tiny grid re-run by the tests (hard scenarios: k = 2 and 3, rates near 100 %, and one
#: scenario of each mechanism that is not the binomial-normal model).
CHECK_GRID: tuple[Scenario, ...] = (
    Scenario(3, 0.95, 0.5), Scenario(2, 0.99, 1.0),
    Scenario(3, 0.95, 0.0, mechanism="beta-binomial", param=20.0),
    Scenario(3, 0.9, 0.5, mechanism="definition-shift", param=0.1),
    Scenario(2, 0.95, 0.5, mechanism="case-report"),
)
CHECK_REPLICATES = 30
#: Folder, inside a results folder, of the figures of its ``summary.csv``.
FIGURES = "figures"


def plan_grid(plan: dict[str, Any]) -> tuple[Scenario, ...]:
    """The plan's scenarios: for each entry of ``grids`` (a mechanism, its ``param`` and the
    values of k, proportion and tau) its full factorial grid (order k, proportion, tau), with the
    plan's ``n_min`` and ``n_max``, in the plan's order."""
    sizes = (int(plan["n_min"]), int(plan["n_max"]))
    return tuple(s for g in plan["grids"] for s in scenario_grid(
        g["k"], g["proportion"], g["tau"], sizes, g.get("mechanism", "binomial-normal"),
        float(g.get("param", 0.0))))
#: Significant digits written to the CSV files.
DIGITS = 10


def _one(args: tuple[int, Scenario, int, int, tuple[str, ...]]) -> tuple[int, list[dict[str, Any]]]:
    index, scenario, replicates, seed, methods = args
    return index, run_scenario(scenario, replicates, seed, methods)


def run_grid(grid: Sequence[Scenario], replicates: int, seed: int,
             methods: Sequence[str] = METHODS, workers: int = 1,
             progress: bool = False) -> pd.DataFrame:
    """All scenarios of ``grid`` (in ``workers`` processes when > 1), one row per method, in the
    order of ``grid`` whatever order they finish in; ``progress`` prints one line per scenario."""
    jobs = [(i, s, replicates, seed, tuple(methods)) for i, s in enumerate(grid)]
    parts: dict[int, list[dict[str, Any]]] = {}
    start = time.perf_counter()

    def note(i: int) -> None:
        if progress:
            print(f"    {len(parts)}/{len(jobs)} scenarios ({time.perf_counter() - start:.0f} s): "
                  f"{grid[i]}", flush=True)

    if workers > 1 and len(jobs) > 1:
        # largest k first, so that the slowest scenarios do not finish last on one worker
        order = sorted(jobs, key=lambda j: -j[1].k)
        with mp.get_context("spawn").Pool(workers) as pool:
            for i, rows in pool.imap_unordered(_one, order, chunksize=1):
                parts[i] = rows
                note(i)
    else:
        for job in jobs:
            i, rows = _one(job)
            parts[i] = rows
            note(i)
    return pd.DataFrame([row for i in range(len(jobs)) for row in parts[i]])


def plan_methods(plan: dict[str, Any]) -> tuple[str, ...]:
    """The methods the plan simulates (its candidates and reported-only methods), in the order
    of :data:`analysis.engine.simulation.METHODS`."""
    wanted = set(plan["candidates"]) | set(plan.get("reported_only", []))
    unknown = wanted - set(METHODS)
    if unknown:
        raise ValueError(f"simulation plan: unknown method(s) {', '.join(sorted(unknown))}")
    return tuple(m for m in METHODS if m in wanted)


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "analysis"],
                               capture_output=True, text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out + (" (analysis/ had uncommitted changes)" if dirty.strip() else "")


def write_study(out: Path, grid: Sequence[Scenario], replicates: int, seed: int,
                methods: Sequence[str] = METHODS, workers: int = 1,
                progress: bool = False) -> dict[str, Any]:
    """Run the study and write ``summary.csv`` and ``run.json`` into ``out``; return the run record."""
    start = time.perf_counter()
    table = run_grid(grid, replicates, seed, methods, workers, progress)
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "summary.csv", index=False, float_format=f"%.{DIGITS}g",
                 lineterminator="\n")
    record = {
        "seed": seed,
        "replicates": replicates,
        "grid": [asdict(s) for s in grid],
        "methods": list(methods),
        "level": 0.95,
        "estimand": ("the median true proportion across studies (expit(mu) for the binomial-normal "
                     "model; the Beta median; midway between two outcome definitions; the series' "
                     "median when a case report is added)"),
        "analysis_version": __version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "workers": workers,
        "cpu_count": mp.cpu_count(),
        "run_time_seconds": round(seconds, 1),
        "finished_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    (out / "run.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def study_figures(out: Path, plan: dict[str, Any],
                  prefix: str = "simulation") -> list[StoredFigure]:
    """The figures the book shows of the study stored in ``out`` (its ``summary.csv``), with the
    method the plan's rule chooses on it highlighted (what the simulation chapter shows)."""
    summary = pd.read_csv(out / "summary.csv")
    return simulation_figures(summary, choose_method(summary, plan), METHOD_LABELS, prefix)


def write_figures(out: Path, plan: dict[str, Any], prefix: str = "simulation") -> list[str]:
    """Draw into ``out/figures`` the figures of :func:`study_figures` that are stale there; return
    their stems."""
    return write_store(out / FIGURES, study_figures(out, plan, prefix))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "simulation")
    parser.add_argument("--plan", type=Path, default=PLAN)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--check-only", action="store_true",
                        help="only the tiny check grid (seconds), not the study")
    parser.add_argument("--confirmation", action="store_true",
                        help="the plan's confirmation run, into <out>/confirmation")
    parser.add_argument("--figures-only", action="store_true",
                        help="only draw the figures of the stored summary again where stale (seconds)")
    args = parser.parse_args(argv)
    plan = load_yaml(args.plan)
    if args.figures_only:
        drawn = write_figures(args.out, plan)
        print(f"    figures: {len(drawn)} drawn ({', '.join(drawn) or 'none stale'}) -> "
              f"{args.out / FIGURES}")
        return 0
    if args.confirmation:
        conf = confirmation_plan(plan)
        grid, seed, reps = plan_grid(conf), int(conf["seed"]), int(conf["replicates"])
        methods, out = plan_methods(conf), args.out / "confirmation"
        print(f"==> confirmation run: {len(grid)} scenarios x {reps} replicates x "
              f"{len(methods)} methods, seed {seed}, {args.workers} workers", flush=True)
        rec = write_study(out, grid, reps, seed, methods, args.workers, progress=True)
        print(f"    done in {rec['run_time_seconds']:.1f} s -> {out / 'summary.csv'}")
        return 0
    grid, seed, reps = plan_grid(plan), int(plan["seed"]), int(plan["replicates"])
    methods = plan_methods(plan)
    if not args.check_only:
        print(f"==> simulation: {len(grid)} scenarios x {reps} replicates x "
              f"{len(methods)} methods, seed {seed}, {args.workers} workers", flush=True)
        rec = write_study(args.out, grid, reps, seed, methods, args.workers, progress=True)
        print(f"    done in {rec['run_time_seconds']:.1f} s -> {args.out / 'summary.csv'}")
        drawn = write_figures(args.out, plan)
        print(f"    figures: {len(drawn)} drawn -> {args.out / FIGURES}")
    check = write_study(args.out / "check", CHECK_GRID, CHECK_REPLICATES, seed, methods, 1)
    print(f"    check grid done in {check['run_time_seconds']:.1f} s -> "
          f"{args.out / 'check' / 'summary.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
