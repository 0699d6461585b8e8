"""The site's layout on a phone (390 x 844 CSS pixels) and a desktop (1280 x 900), in headless chromium.

The real review, built once for the session (``real_book``), is served on 127.0.0.1 next to a probe
page of the same origin. The probe loads a page of the site in an iframe of the wanted size, waits for
its scripts, measures it (what is visible, where, how wide) and writes the measures into its own DOM,
which ``chromium --dump-dom`` returns. What is checked (issue 27):

* one search box, not two, at every width;
* on the phone the title takes a few lines and the answer (the first result, "What the evidence
  shows") starts on the first screen;
* the summary figure's smallest text is at least 12 CSS pixels on the phone (its smallest font size,
  the PNG's resolution and the width the page gives the image);
* a table wider than the text column says so (a line "Scroll sideways to see every column" above
  it and a fade at the edge that has more columns), on the desktop as on the phone, and the fade
  moves to the other edge when the table is scrolled to its end.

Screenshots of the home, studies and summary-of-findings pages at both sizes are written too; set
``LAYOUT_SCREENSHOTS`` to a folder to keep them.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_browser import CHROMIUM_FLAGS, _chromium, _free_port

pytestmark = [pytest.mark.browser, pytest.mark.build, pytest.mark.xdist_group("real_book")]

PHONE, DESKTOP = (390, 844), (1280, 900)
#: Smallest text the summary figure may show on the phone, in CSS pixels.
READABLE_PX = 12.0
HINT = "Scroll sideways to see every column"

PROBE_HTML = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>probe</title></head>
<body style="margin:0"><script src="probe.js"></script></body></html>
"""

# Loads ?page= in an iframe of ?w= x ?h= CSS pixels, measures it once its scripts ran, and writes the
# measures as JSON into <pre id="metrics">.
PROBE_JS = r"""
(function () {
  const q = new URLSearchParams(location.search);
  const w = Number(q.get("w")), h = Number(q.get("h"));
  const frame = document.createElement("iframe");
  frame.style.cssText = `width:${w}px;height:${h}px;border:0;display:block`;
  frame.src = q.get("page");
  frame.addEventListener("load", () => setTimeout(() => measure(frame), 1500));
  document.body.appendChild(frame);

  function shown(el, win) {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) return false;
    for (let e = el; e; e = e.parentElement) {
      const s = win.getComputedStyle(e);
      if (s.display === "none" || s.visibility === "hidden" || Number(s.opacity) === 0) return false;
      if (e.tagName === "DIALOG" && !e.open) return false;
    }
    return true;
  }
  function onScreen(el, win) {
    const r = el.getBoundingClientRect();
    return shown(el, win) && r.right > 0 && r.left < win.innerWidth && r.bottom > 0 && r.top < win.innerHeight;
  }
  function lineHeight(el, win) {
    const s = win.getComputedStyle(el);
    return parseFloat(s.lineHeight) || 1.2 * parseFloat(s.fontSize);
  }

  function measure(frame) {
    const win = frame.contentWindow, doc = frame.contentDocument;
    const out = {width: win.innerWidth, height: win.innerHeight};
    out.search = [...doc.querySelectorAll("button.search-button__button, form.bd-search, input[type=search]")]
      .filter((el) => onScreen(el, win)).map((el) => el.className || el.tagName);
    const h1 = [...doc.querySelectorAll("h1")].find((el) => shown(el, win));
    if (h1) {
      const r = h1.getBoundingClientRect();
      out.h1 = {top: r.top, height: r.height, lineHeight: lineHeight(h1, win)};
    }
    const answer = doc.querySelector("#what-the-evidence-shows p");
    if (answer) {
      out.answer = {top: answer.getBoundingClientRect().top, lineHeight: lineHeight(answer, win),
                    text: answer.textContent.trim()};
    }
    out.images = [...doc.querySelectorAll("figure img")].map((img) => ({
      src: img.getAttribute("src"), width: img.getBoundingClientRect().width, naturalWidth: img.naturalWidth}));
    out.tables = [...doc.querySelectorAll(".table-scroll")].map((box) => {
      const s = win.getComputedStyle(box);
      const before = box.previousElementSibling;
      const hint = before && before.classList.contains("table-scroll-hint") ? before : null;
      const row = {clientWidth: box.clientWidth, scrollWidth: box.scrollWidth,
                   overflow: box.getAttribute("data-overflow"), focusable: box.tabIndex === 0,
                   mask: s.maskImage || s.webkitMaskImage || "none",
                   hint: hint && shown(hint, win) ? hint.textContent.trim() : null};
      if (box.scrollWidth - box.clientWidth > 1) {
        box.scrollLeft = box.scrollWidth;
        box.dispatchEvent(new Event("scroll"));
        row.overflowAtEnd = box.getAttribute("data-overflow");
        box.scrollLeft = 0;
        box.dispatchEvent(new Event("scroll"));
      }
      return row;
    });
    const pre = document.createElement("pre");
    pre.id = "metrics";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
})();
"""


class Site:
    """The built review under ``/site/`` and the probe page, served by ``python -m http.server`` on 127.0.0.1."""

    def __init__(self, html_dir: Path, tmp: Path) -> None:
        self.tmp = tmp
        docroot = tmp / "docroot"
        docroot.mkdir()
        (docroot / "site").symlink_to(html_dir, target_is_directory=True)
        (docroot / "probe.html").write_text(PROBE_HTML, encoding="utf-8")
        (docroot / "probe.js").write_text(PROBE_JS, encoding="utf-8")
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1", "--directory", str(docroot)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}/"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base + "probe.html", timeout=2).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"http.server did not start on port {self.port}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def _chromium(self, size: tuple[int, int], *args: str) -> subprocess.CompletedProcess[str]:
        profile = self.tmp / f"profile-{time.monotonic_ns()}"
        done = subprocess.run(
            [_chromium(), *CHROMIUM_FLAGS, "--hide-scrollbars", f"--user-data-dir={profile}",
             f"--window-size={size[0]},{size[1]}", *args],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        shutil.rmtree(profile, ignore_errors=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    def measure(self, page: str, size: tuple[int, int]) -> dict[str, Any]:
        """The probe's measures of ``page`` (e.g. ``book/index.html``) in a ``size`` viewport."""
        url = f"{self.base}probe.html?w={size[0]}&h={size[1]}&page=site/{page}"
        dom = self._chromium((size[0] + 40, size[1] + 40), "--virtual-time-budget=15000", "--dump-dom", url).stdout
        found = re.search(r'<pre id="metrics">(.*?)</pre>', dom, re.DOTALL)
        assert found, f"the probe measured nothing on {page}: {dom[-1500:]}"
        return json.loads(html.unescape(found.group(1)))

    def screenshot(self, page: str, size: tuple[int, int], out: Path) -> Path:
        self._chromium(size, "--virtual-time-budget=8000", f"--screenshot={out}", f"{self.base}site/{page}")
        return out


@pytest.fixture(scope="module")
def site(real_book: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _chromium()
    assert real_book.returncode == 0, real_book.stderr[-3000:]
    served = Site(real_book.root / "_build" / "html", tmp_path_factory.mktemp("layout"))
    yield served
    served.stop()


@pytest.mark.parametrize(("page", "size"), [
    ("book/index.html", PHONE), ("book/index.html", (960, 800)), ("book/index.html", (992, 800)),
    ("book/index.html", DESKTOP),
    ("book/studies.html", DESKTOP),  # the sidebar scrolls to the page's link: its search would be out of view
], ids=lambda v: f"{v[0]}px" if isinstance(v, tuple) else v.split("/")[-1])
def test_one_search_box_at_every_width(site: Site, page: str, size: tuple[int, int]) -> None:
    found = site.measure(page, size)
    assert len(found["search"]) == 1, found["search"]


def test_on_a_phone_the_title_is_short_and_the_answer_is_on_the_first_screen(site: Site) -> None:
    found = site.measure("book/index.html", PHONE)
    lines = round(found["h1"]["height"] / found["h1"]["lineHeight"])
    assert lines <= 4, found["h1"]
    answer = found["answer"]
    assert answer["text"].startswith("For the primary outcome")
    # the answer's first two lines are on the first screen, below the title
    assert found["h1"]["top"] + found["h1"]["height"] < answer["top"]
    assert answer["top"] + 2 * answer["lineHeight"] <= found["height"], (answer["top"], found["height"])


def test_the_summary_figure_text_is_readable_on_a_phone(site: Site, real_book: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.text import Text
    from PIL import Image

    from analysis.book.bookkit import Review
    from analysis.book.plots.summary import SMALLEST_TEXT, outcome_summary_plot

    fig = outcome_summary_plot(Review(real_book.root).summary_frame())
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()]
    assert min(sizes) >= SMALLEST_TEXT
    found = site.measure("book/index.html", PHONE)
    (image,) = [i for i in found["images"] if "summary-outcomes" in i["src"]]
    # the page shows a lossless WebP copy of the PNG; the PNG carries the resolution it was drawn at
    with Image.open(real_book.root / "_build" / "html" / "_images" / Path(image["src"]).with_suffix(".png").name) as png:
        dpi = png.info["dpi"][0]
        assert png.size[0] == image["naturalWidth"]
    smallest_px = SMALLEST_TEXT * dpi / 72 * image["width"] / image["naturalWidth"]
    assert smallest_px >= READABLE_PX, (smallest_px, image)


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("page", ["book/studies.html", "book/sof.html"])
def test_a_table_wider_than_the_column_says_it_scrolls(site: Site, page: str, size: tuple[int, int]) -> None:
    tables = site.measure(page, size)["tables"]
    assert tables, f"no table on {page}"
    wide = [t for t in tables if t["scrollWidth"] - t["clientWidth"] > 1]
    if size == PHONE:
        assert wide, "no table is wider than a phone's column: the cue is not exercised"
    for table in wide:
        assert table["overflow"] == "right" and table["overflowAtEnd"] == "left", table
        assert table["hint"] and table["hint"].startswith(HINT), table
        assert "gradient" in table["mask"], table
        assert table["focusable"], table  # the keyboard can scroll it
    for table in tables:
        if table not in wide:
            assert table["overflow"] == "none" and table["hint"] is None and table["mask"] == "none", table


def test_screenshots_of_the_phone_and_the_desktop(site: Site, tmp_path: Path) -> None:
    from PIL import Image

    keep = os.environ.get("LAYOUT_SCREENSHOTS")
    folder = Path(keep) if keep else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    for page in ("index", "studies", "sof"):
        for size in (PHONE, DESKTOP):
            shot = site.screenshot(f"book/{page}.html", size, folder / f"{page}-{size[0]}.png")
            with Image.open(shot) as png:
                assert png.size == size
