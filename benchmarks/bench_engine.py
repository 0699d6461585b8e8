"""Engine benchmark: our ``metaprop`` against metafor's ``rma`` and ``rma.glmm``, per fit.

Usage (what ``make bench`` runs second)::

    .venv/bin/python benchmarks/bench_engine.py [--quick]

Data: ``dat.pritz1997`` (k = 14, exported by the R script from metadat so both sides fit the same
counts) and a SYNTHETIC set of k = 1000 studies (sizes 1 to 60, logit-normal true proportions,
seed 1). Fits compared (same data, one fit per repetition, in-process):

* REML + HKSJ: ``metaprop(..., method="REML", ci="hksj")`` against
  ``rma(measure="PLO", xi, ni, method="REML", test="knha")``;
* GLMM: ``metaprop(..., method="GLMM")`` against ``rma.glmm(measure="PLO", xi, ni)``.

Python is timed with :mod:`timeit` (best of 3 rounds; repetitions chosen by ``autorange``); R
with ``system.time`` over a loop (``benchmarks/bench_engine.R``). Also timed: the lower-level
``rma_uni`` and ``fit_binomial_normal`` calls, which skip the study table and the Q-profile
interval. Prints seconds per fit and the ratio ours / metafor's (target <= 0.1). Without R
(``Rscript`` not on PATH) only our timings are printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
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

TARGET = 0.1


def synthetic_k1000(path: Path) -> pd.DataFrame:
    """SYNTHETIC benchmark data: 1000 studies, n uniform on 1..60, logit ~ N(1.4, 0.7^2)."""
    rng = np.random.default_rng(1)
    n = rng.integers(1, 61, 1000)
    x = rng.binomial(n, expit(1.4 + 0.7 * rng.standard_normal(1000)))
    frame = pd.DataFrame({"xi": x, "ni": n})
    frame.to_csv(path, index=False)
    return frame


def per_fit(fn: Callable[[], object], quick: bool) -> float:
    """Seconds per call: best of 3 (1 when quick) rounds of an autoranged number of calls."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    rounds = timer.repeat(repeat=1 if quick else 3, number=number)
    return min(rounds) / number


def ours(xi: np.ndarray, ni: np.ndarray, quick: bool) -> dict[str, float]:
    yi, vi = escalc(xi, ni, "PLO")
    fits = {
        "metaprop REML+HKSJ": lambda: metaprop(xi, ni, method="REML", ci="hksj"),
        "metaprop GLMM": lambda: metaprop(xi, ni, method="GLMM"),
        "rma_uni REML+HKSJ (no study table)": lambda: rma_uni(yi, vi, "REML", "hksj"),
        "fit_binomial_normal": lambda: fit_binomial_normal(xi, ni),
    }
    return {name: per_fit(fn, quick) for name, fn in fits.items()}


def run_r(folder: Path) -> dict | None:
    if shutil.which("Rscript") is None:
        print("Rscript not found: metafor timings skipped")
        return None
    proc = subprocess.run(["Rscript", str(ROOT / "benchmarks" / "bench_engine.R"), str(folder)],
                          capture_output=True, text=True, check=False, timeout=3600)
    if proc.returncode != 0:
        print("bench_engine.R failed:\n" + proc.stderr[-2000:])
        return None
    return json.loads((folder / "r_timings.json").read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one timing round instead of three")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        folder = Path(tmp)
        synthetic_k1000(folder / "sim1000.csv")
        print("==> timing metafor (R) ...", flush=True)
        r = run_r(folder)
        if r is None and not (folder / "pritz1997.csv").exists():
            sets = {"sim1000": pd.read_csv(folder / "sim1000.csv")}
        else:
            sets = {"pritz1997": pd.read_csv(folder / "pritz1997.csv"),
                    "sim1000": pd.read_csv(folder / "sim1000.csv")}
        print("==> timing analysis (Python) ...", flush=True)
        rows = []
        for name, d in sets.items():
            xi, ni = d["xi"].to_numpy(), d["ni"].to_numpy()
            t = ours(xi, ni, args.quick)
            ref = (r or {}).get(name, {})
            pairs = [("metaprop REML+HKSJ", "rma_seconds", "rma(test='knha')"),
                     ("rma_uni REML+HKSJ (no study table)", "rma_seconds", "rma(test='knha')"),
                     ("metaprop GLMM", "glmm_seconds", "rma.glmm"),
                     ("fit_binomial_normal", "glmm_seconds", "rma.glmm")]
            for mine, key, theirs in pairs:
                base = ref.get(key)
                rows.append((f"{name} (k = {len(d)})", mine, t[mine], theirs, base,
                             t[mine] / base if base else float("nan")))
            if ref:
                res = metaprop(xi, ni, method="REML", ci="hksj")
                g = metaprop(xi, ni, method="GLMM")
                print(f"    {name}: mu REML ours {res.mu:.6f} metafor {ref['rma_mu']:.6f}; "
                      f"mu GLMM ours {g.mu:.6f} metafor {ref['glmm_mu']:.6f}")
    if r:
        print(f"\nmetafor {r['metafor']}, {r['R']}")
    print(f"\n{'data':<22}{'ours':<38}{'s/fit':>10}  {'metafor':<18}{'s/fit':>10}  "
          f"{'ratio':>7}  target <= {TARGET}")
    for data, mine, t_ours, theirs, t_r, ratio in rows:
        verdict = "" if t_r is None else ("met" if ratio <= TARGET else "MISSED")
        r_text = f"{t_r:>10.5f}" if t_r else f"{'-':>10}"
        print(f"{data:<22}{mine:<38}{t_ours:>10.5f}  {theirs:<18}{r_text}  {ratio:>7.3f}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
