"""Engine benchmark: our ``metaprop`` against metafor's ``rma`` and ``rma.glmm``, per fit, side by side.

Usage (what ``make bench`` runs second)::

    .venv/bin/python benchmarks/bench_engine.py [--quick] [--rounds N]

Data: ``dat.pritz1997`` (k = 14, exported by the R script from metadat so both sides fit the same
counts) and a SYNTHETIC set of k = 1000 studies (sizes 1 to 60, logit-normal true proportions,
seed 1). Fits compared (same data, one fit per repetition, in-process):

* REML + HKSJ: ``metaprop(..., method="REML", ci="hksj")`` against
  ``rma(measure="PLO", xi, ni, method="REML", test="knha")``;
* GLMM: ``metaprop(..., method="GLMM")`` against ``rma.glmm(measure="PLO", xi, ni)``.

Side by side: R runs as one process beside this one (``benchmarks/bench_engine.R``), and each
comparison is timed in rounds, in turn: R times its fit over a number of repetitions (about a
quarter of a second), then Python times its own over about as long (:mod:`timeit`), then R again,
and so on. Each round gives a ratio (ours / metafor's) under the same load; the table shows the
median seconds per fit of each side and the median of the ratios, with their range (target
<= 0.1 for REML + HKSJ, <= 0.05 for the GLMM). Also timed: the lower-level ``rma_uni`` and
``fit_binomial_normal`` calls, which skip the study table and the Q-profile interval. Without R
(``Rscript`` not on PATH) only our timings are printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis import metaprop
from analysis.engine.effects import escalc
from analysis.engine.glmm import fit_binomial_normal
from analysis.engine.rma import rma_uni


def synthetic_k1000(path: Path) -> pd.DataFrame:
    """SYNTHETIC benchmark data: 1000 studies, n uniform on 1..60, logit ~ N(1.4, 0.7^2)."""
    rng = np.random.default_rng(1)
    n = rng.integers(1, 61, 1000)
    x = rng.binomial(n, expit(1.4 + 0.7 * rng.standard_normal(1000)))
    frame = pd.DataFrame({"xi": x, "ni": n})
    frame.to_csv(path, index=False)
    return frame


TARGETS = {"REML+HKSJ": 0.10, "rma_uni": 0.10, "GLMM": 0.05, "fit_binomial_normal": 0.05}
#: Seconds each side spends on one round.
ROUND_SECONDS = 0.25


def per_fit(fn: Callable[[], object], seconds: float = ROUND_SECONDS) -> float:
    """Seconds per call over about ``seconds`` of calls (after one warm-up call)."""
    fn()
    timer = timeit.Timer(fn)
    number, spent = timer.autorange()
    number = max(1, int(number * seconds / max(spent, 1e-9)))
    return timer.timeit(number) / number


def our_fits(xi: np.ndarray, ni: np.ndarray) -> list[tuple[str, str, Callable[[], object]]]:
    """(our name, the metafor fit it is compared with, the call)."""
    yi, vi = escalc(xi, ni, "PLO")
    return [
        ("metaprop REML+HKSJ", "rma", lambda: metaprop(xi, ni, method="REML", ci="hksj")),
        ("rma_uni REML+HKSJ (no study table)", "rma", lambda: rma_uni(yi, vi, "REML", "hksj")),
        ("metaprop GLMM", "glmm", lambda: metaprop(xi, ni, method="GLMM")),
        ("fit_binomial_normal", "glmm", lambda: fit_binomial_normal(xi, ni)),
    ]


class RSide:
    """metafor in a running R process, answering timing requests (``bench_engine.R``)."""

    def __init__(self, folder: Path) -> None:
        self.process = subprocess.Popen(
            ["Rscript", str(ROOT / "benchmarks" / "bench_engine.R"), str(folder)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready = self.process.stdout.readline().strip()
        if ready != "ready":
            raise RuntimeError("bench_engine.R failed:\n" + self.process.stderr.read()[-2000:])
        self.info = json.loads((folder / "r_fits.json").read_text(encoding="utf-8"))
        self.reps: dict[tuple[str, str], int] = {}

    def per_fit(self, data: str, fit: str) -> float:
        """Seconds per fit over about :data:`ROUND_SECONDS` (repetitions found on the first call)."""
        reps = self.reps.get((data, fit), 1)
        seconds = self._ask(data, fit, reps)
        if (data, fit) not in self.reps:
            self.reps[data, fit] = max(1, int(ROUND_SECONDS / max(seconds, 1e-6)))
            seconds = self._ask(data, fit, self.reps[data, fit])
        return seconds

    def _ask(self, data: str, fit: str, reps: int) -> float:
        self.process.stdin.write(f"{data} {fit} {reps}\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write("\n")
            self.process.stdin.close()
            self.process.wait(timeout=30)


def start_r(folder: Path) -> RSide | None:
    if shutil.which("Rscript") is None:
        print("Rscript not found: metafor timings skipped")
        return None
    try:
        return RSide(folder)
    except (RuntimeError, OSError) as exc:
        print(exc)
        return None


def _target(name: str) -> float:
    return next(v for k, v in TARGETS.items() if k in name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of --rounds")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per comparison (default 7)")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        folder = Path(tmp)
        synthetic_k1000(folder / "sim1000.csv")
        print("==> starting metafor (R) ...", flush=True)
        r = start_r(folder)
        names = ["pritz1997", "sim1000"] if (folder / "pritz1997.csv").exists() else ["sim1000"]
        try:
            for name in names:
                d = pd.read_csv(folder / f"{name}.csv")
                xi, ni = d["xi"].to_numpy(), d["ni"].to_numpy()
                big = len(d) > 100
                for mine, theirs, fn in our_fits(xi, ni):
                    n_rounds = 1 if big else rounds  # k = 1000: metafor takes seconds per fit
                    print(f"==> {name}: {mine} against metafor's {theirs}, {n_rounds} round(s)", flush=True)
                    ours_s, r_s = [], []
                    for _ in range(n_rounds):
                        if r is not None:
                            r_s.append(r.per_fit(name, theirs))
                        ours_s.append(per_fit(fn))
                    ratios = [a / b for a, b in zip(ours_s, r_s, strict=False)]
                    rows.append((f"{name} (k = {len(d)})", mine, theirs, ours_s, r_s, ratios))
                if r is not None:
                    ref = r.info[name]
                    res = metaprop(xi, ni, method="REML", ci="hksj")
                    g = metaprop(xi, ni, method="GLMM")
                    print(f"    {name}: mu REML ours {res.mu:.6f} metafor {ref['rma_mu']:.6f}; "
                          f"mu GLMM ours {g.mu:.6f} metafor {ref['glmm_mu']:.6f}")
        finally:
            if r is not None:
                r.close()
    if r is not None:
        print(f"\nmetafor {r.info['metafor']}, {r.info['R']}")
    print(f"\n{'data':<20}{'ours':<36}{'s/fit':>9}  {'metafor':<10}{'s/fit':>9}  "
          f"{'ratio (median, range)':>24}  target")
    labels = {"rma": "rma(knha)", "glmm": "rma.glmm"}
    for data, mine, theirs, ours_s, r_s, ratios in rows:
        target = _target(mine)
        t_ours = statistics.median(ours_s)
        if ratios:
            med = statistics.median(ratios)
            ratio_text = f"{med:.3f} ({min(ratios):.3f}-{max(ratios):.3f})"
            verdict = f"<= {target}: {'met' if med <= target else 'MISSED'}"
            r_text = f"{statistics.median(r_s):>9.5f}"
        else:
            ratio_text, verdict, r_text = "-", "", f"{'-':>9}"
        print(f"{data:<20}{mine:<36}{t_ours:>9.5f}  {labels[theirs]:<10}{r_text}  {ratio_text:>24}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
