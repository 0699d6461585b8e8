"""Lighthouse benchmark of the built website, served compressed on 127.0.0.1.

Usage (what ``make bench-lighthouse`` runs after ``make book``)::

    .venv/bin/python benchmarks/bench_lighthouse.py [--site _build/html] [--runs 3] [--json out.json]

Serves the built site with gzip (``benchmarks/serve_compressed.py``, as a web host would) and runs
Lighthouse 12 from the npm registry (``npx -y lighthouse@12``; Node.js and npm needed) with Debian's
Chromium (``CHROME_PATH``, default ``/usr/bin/chromium``) in its default mode: a phone screen,
simulated slow 4G and a 4x slower processor. Pages: the home page, the results page and the studies
page. Each page is measured ``--runs`` times and the run with the median performance score is
reported, as Lighthouse's documentation advises for its run-to-run variance.

Reported per page: the four category scores (performance, accessibility, best practices, SEO), the
largest contentful paint, first contentful paint, total blocking time, cumulative layout shift, and
the total transfer size (what travelled over the network, compressed). Target: performance >= 90 on
every page (median of 5 runs, ``make bench-lighthouse``). Prints a Markdown table (for ``benchmarks/README.md``) and, with ``--json``, writes
every run's figures. Exits 1 when Lighthouse cannot run; a missed target is reported, not an error
(this is a measurement, not a test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_compressed import make_server  # the sibling script

ROOT = Path(__file__).resolve().parents[1]
LIGHTHOUSE = "lighthouse@12"
PAGES = ("book/index.html", "book/results.html", "book/studies.html")
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --no-first-run --disable-background-networking"
TARGET_PERFORMANCE = 90


@dataclass(frozen=True)
class Run:
    """The figures of one Lighthouse run on one page."""

    page: str
    performance: int
    accessibility: int
    best_practices: int
    seo: int
    lcp_s: float
    fcp_s: float
    tbt_ms: float
    cls: float
    transfer_kib: float
    requests: int


def figures(page: str, report: dict) -> Run:
    """The figures of a Lighthouse JSON report."""
    cats, audits = report["categories"], report["audits"]

    def score(name: str) -> int:
        return round(100 * (cats[name]["score"] or 0))

    def value(name: str) -> float:
        return float(audits[name]["numericValue"])

    items = audits["network-requests"]["details"]["items"]
    return Run(
        page=page, performance=score("performance"), accessibility=score("accessibility"),
        best_practices=score("best-practices"), seo=score("seo"),
        lcp_s=round(value("largest-contentful-paint") / 1000, 2),
        fcp_s=round(value("first-contentful-paint") / 1000, 2),
        tbt_ms=round(value("total-blocking-time")), cls=round(value("cumulative-layout-shift"), 3),
        transfer_kib=round(value("total-byte-weight") / 1024, 1), requests=len(items),
    )  # fmt: skip


def lighthouse(url: str, out: Path) -> dict:
    """Run Lighthouse on ``url``; its JSON report."""
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    done = subprocess.run(
        ["npx", "-y", LIGHTHOUSE, url, "--quiet", f"--chrome-flags={CHROME_FLAGS}",
         f"--only-categories={','.join(CATEGORIES)}", "--output=json", f"--output-path={out}"],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )  # fmt: skip
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(f"lighthouse failed on {url} (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(out.read_text(encoding="utf-8"))


def median_run(runs: list[Run]) -> Run:
    """The run whose performance score is the median (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: r.performance)
    return ordered[(len(ordered) - 1) // 2]


def table(runs: list[Run]) -> str:
    head = ("| Page | Performance | Accessibility | Best practices | SEO | LCP | FCP | TBT | CLS "
            "| Transferred | Requests |\n|---|---|---|---|---|---|---|---|---|---|---|\n")  # fmt: skip
    rows = [
        f"| {r.page} | {r.performance} | {r.accessibility} | {r.best_practices} | {r.seo} | {r.lcp_s} s "
        f"| {r.fcp_s} s | {r.tbt_ms:.0f} ms | {r.cls} | {r.transfer_kib:.0f} KiB | {r.requests} |"
        for r in runs
    ]
    return head + "\n".join(rows)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    parser.add_argument("--pages", nargs="+", default=list(PAGES), help="pages (default: %(default)s)")
    parser.add_argument("--reports", type=Path, help="keep every Lighthouse JSON report in this folder")
    args = parser.parse_args()
    if not (args.site / PAGES[0]).is_file():
        print(f"no built site in {args.site}: run `make book` first", file=sys.stderr)
        return 1
    if shutil.which("npx") is None:
        print("npx not found: install Node.js and npm (Lighthouse comes from the npm registry)", file=sys.stderr)
        return 1
    server = make_server(args.site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    every: dict[str, list[Run]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = args.reports or Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            for page in args.pages:
                every[page] = []
                for number in range(args.runs):
                    report = lighthouse(base + page, folder / f"{page.replace('/', '_')}-{number}.json")
                    every[page].append(figures(page, report))
                    print(f"{page} run {number + 1}: performance {every[page][-1].performance}", flush=True)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        server.shutdown()
        server.server_close()
    chosen = [median_run(runs) for runs in every.values()]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\nLighthouse {LIGHTHOUSE}, {when}, {machine()}, load average {load}, served with gzip; "
          f"median of {args.runs} runs\n")
    print(table(chosen))
    spread = {p: (min(r.performance for r in rs), max(r.performance for r in rs)) for p, rs in every.items()}
    print(f"\nPerformance range over the runs: {spread}")
    for run in chosen:
        met = "met" if run.performance >= TARGET_PERFORMANCE else "NOT met"
        print(f"{run.page}: performance {run.performance} (median; target >= {TARGET_PERFORMANCE}): {met}")
    if args.json:
        payload = {"when": when, "machine": machine(), "lighthouse": LIGHTHOUSE,
                   "median": [asdict(r) for r in chosen],
                   "runs": {p: [asdict(r) for r in rs] for p, rs in every.items()},
                   "performance_sd": {p: statistics.pstdev([r.performance for r in rs]) for p, rs in every.items()}}  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
