"""The versioned site in a real browser: Debian's chromium, headless, against a local server.

Two sites are built in temporary folders and served with ``python -m http.server --bind
127.0.0.1`` under the sub-path a GitHub Pages project site uses (``/scb-living-review/``):

* the REAL review (a temporary copy made with ``tests/buildutil.py``, committed to a temporary git
  repository and tagged with the version in ``VERSION``) plus its working tree as ``dev``: the
  home page, the results page and the what-changed page render with every figure served, the
  version switcher lists the versions, and no link inside the site is broken;
* a small SYNTHETIC review with two releases and dev (see ``tests/e2e/test_site.py``): the theme's
  JavaScript shows the "old version" banner on the older release only.

Chromium runs with ``--headless --no-sandbox --disable-gpu --no-first-run
--disable-background-networking --disable-component-update --disable-sync --disable-quic`` and
a fresh ``--user-data-dir`` for every page; ``--dump-dom`` returns the DOM after scripts ran
(``--virtual-time-budget`` lets the redirect, the switcher's fetch and the banner complete).
Install it with ``apt-get install chromium`` (README); without a chromium binary these tests skip.

Network requests (issue 18): the home, results and studies pages are loaded with Chromium's network
log (``--log-net-log``), which records every request the page makes, to any host, with the status
of each response. Requests of the page are told from Chromium's own background traffic by their
network isolation key (the site of the page that made them). ``--host-resolver-rules`` lets no
host name but 127.0.0.1 resolve, so a request to another host is recorded but never leaves the
machine. A probe page with a script on another host and a missing style sheet proves that both
are caught.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urldefrag, urljoin, urlparse

import pytest

from tests.buildutil import NOTEBOOK_FRONT_MATTER, ROOT, copy_project
from tests.e2e.test_site import release_synthetic, synthetic_repo
from tools import site

pytestmark = [pytest.mark.browser, pytest.mark.build]

SUBPATH = "/scb-living-review/"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)
#: Pages of the real review the issue names (relative to a version's folder).
RESULTS_PAGE = "book/results.html"
CHANGES_PAGE = "book/changes.html"
HOME_PAGE = "book/index.html"
STUDIES_PAGE = "book/studies.html"
#: No host name resolves except 127.0.0.1: a request to another host is logged but sent nowhere.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium binary found: install it with `apt-get install chromium` (README)")


# ---- serving and browsing -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """A site folder published under ``SUBPATH`` by ``python -m http.server`` on 127.0.0.1."""

    def __init__(self, site_dir: Path, tmp: Path) -> None:
        self.docroot = tmp / "docroot"
        self.site_dir = self.docroot / SUBPATH.strip("/")
        shutil.copytree(site_dir, self.site_dir)
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1",
             "--directory", str(self.docroot)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}{SUBPATH}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base + "switcher.json", timeout=2).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"http.server did not start on port {self.port}")

    def get(self, url: str) -> tuple[int, bytes, str]:
        """Status, body and content type of ``url`` (absolute or relative to the site)."""
        try:
            target = quote(urljoin(self.base, url), safe=":/?&=%@+,;~")
            with urllib.request.urlopen(target, timeout=10) as response:
                return response.status, response.read(), response.headers.get_content_type()
        except urllib.error.HTTPError as exc:
            return exc.code, b"", ""

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def dump_dom(url: str, tmp: Path, budget_ms: int = 8000) -> str:
    """The DOM of ``url`` after its scripts ran, from headless chromium with a fresh profile."""
    profile = tmp / f"profile-{time.monotonic_ns()}"
    done = subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
         f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    shutil.rmtree(profile, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<html" in done.stdout, f"chromium returned no page for {url}: {done.stderr[-2000:]}"
    return done.stdout


@dataclass(frozen=True)
class Request:
    """One request a page made: its address and the HTTP status of the answer (None: no answer)."""

    url: str
    status: int | None


def page_requests(url: str, tmp: Path, budget_ms: int = 8000) -> list[Request]:
    """Every request the page at ``url`` (and its scripts) made, from Chromium's network log.

    Chromium's own background requests (update checks, clock, accounts) are left out: they carry
    no network isolation key of the page's site.
    """
    profile = tmp / f"profile-{time.monotonic_ns()}"
    log = tmp / f"netlog-{time.monotonic_ns()}.json"
    done = subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, OFFLINE, f"--user-data-dir={profile}", f"--log-net-log={log}",
         f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    shutil.rmtree(profile, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    netlog = json.loads(log.read_text(encoding="utf-8"))
    names = {number: name for name, number in netlog["constants"]["logEventTypes"].items()}
    parsed = urlparse(url)
    site = f"{parsed.scheme}://{parsed.hostname}"
    urls: dict[int, str] = {}
    statuses: dict[int, int] = {}
    for event in netlog["events"]:
        name, params, source = names.get(event["type"]), event.get("params", {}), event["source"]["id"]
        if name == "URL_REQUEST_START_JOB" and "url" in params:
            if params.get("network_isolation_key", "").split(" ")[0] == site:
                urls[source] = params["url"]
        elif name == "HTTP_TRANSACTION_READ_RESPONSE_HEADERS" and params.get("headers"):
            statuses[source] = int(params["headers"][0].split()[1])
    return [Request(u, statuses.get(source)) for source, u in sorted(urls.items())]


class _Collector(HTMLParser):
    """Collects elements as (tag, attributes) and the text of the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(document: str) -> _Collector:
    collector = _Collector()
    collector.feed(document)
    return collector


def _inner_text(document: str, element_id: str) -> str:
    """Text inside the element with ``id`` (nested markup stripped)."""
    start = document.find(f'id="{element_id}"')
    assert start >= 0, f"no element #{element_id} in the page"
    end = document.find("</aside>", start)
    return " ".join("".join(parse(document[start:end].split(">", 1)[1]).text).split())


def _is_image(body: bytes, content_type: str) -> bool:
    if body.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
        return True
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":  # the lossless WebP copies the pages show
        return content_type == "image/webp"
    return content_type == "image/svg+xml" and b"<svg" in body[:2000]


# ---- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The real review, released at its VERSION and built with dev, served under SUBPATH."""
    _chromium()
    tmp = tmp_path_factory.mktemp("real")
    project = copy_project(tmp / "project", _items())
    version = (ROOT / "VERSION").read_text().strip()
    _git_init(project)
    subprocess.run(
        ["git", "-C", str(project), "tag", "-a", version, "-m", "browser test"], check=True
    )
    out = tmp / "site"
    site.build_site(project, out, baseurl=SUBPATH)
    served = Served(out, tmp)
    yield served
    served.stop()


def _items() -> tuple[str, ...]:
    """Top-level files and folders of the working tree that git would publish (not ignored)."""
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True, text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    tops = {name.split("/", 1)[0] for name in listing if name}
    return tuple(sorted(t for t in tops if (ROOT / t).exists()))


FIGURE_CHAPTER = NOTEBOOK_FRONT_MATTER + """---

# Synthetic figure

```{code-cell} ipython3
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(3, 2))
ax.plot([0, 1, 2], [0.2, 0.5, 0.4])
plt.show()
```
"""


def _git_commit_all(repo: Path, message: str) -> None:
    for args in (("add", "-A"), ("commit", "-q", "-m", message)):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _git_init(project: Path) -> None:
    for args in (
        ("init", "-q", "-b", "main"),
        ("config", "user.email", "browser-test@example.org"),
        ("config", "user.name", "Browser Test"),
        ("add", "-A"),
        ("commit", "-q", "-m", "copy of the review for the browser test"),
    ):
        subprocess.run(["git", "-C", str(project), *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def synthetic_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A SYNTHETIC review with releases 26.0.0 and 26.1.0 and dev, served under SUBPATH."""
    _chromium()
    tmp = tmp_path_factory.mktemp("synthetic")
    repo = synthetic_repo(tmp / "repo")
    (repo / "book" / "figure.md").write_text(FIGURE_CHAPTER)
    (repo / "_toc.yml").write_text(
        "format: jb-book\nroot: book/index\nchapters:\n  - file: book/figure\n"
    )
    _git_commit_all(repo, "synthetic figure chapter")
    release_synthetic(repo, "26.0.0")
    release_synthetic(repo, "26.1.0", value="222")
    out = tmp / "site"
    site.build_site(repo, out, baseurl=SUBPATH)
    served = Served(out, tmp)
    yield served
    served.stop()


def _versions(served: Served) -> list[str]:
    status, body, _ = served.get("switcher.json")
    assert status == 200
    return [entry["version"] for entry in json.loads(body)]


# ---- the real review ------------------------------------------------------------------------


def test_switcher_json_is_served_and_lists_release_and_dev(real_site: Served) -> None:
    version = (ROOT / "VERSION").read_text().strip()
    assert _versions(real_site) == [version, "dev"]  # the release to cite first, dev after it


def test_root_redirects_to_latest_release_home(real_site: Served, tmp_path: Path) -> None:
    version = (ROOT / "VERSION").read_text().strip()
    dom = dump_dom(real_site.base, tmp_path)
    page = parse(dom)
    text = " ".join("".join(page.text).split())
    assert f"Version {version}, released" in text  # footer of the release's pages
    assert "living systematic review" in text.lower()
    _check_switcher_menu(page, _versions(real_site))
    # the version's root redirects to its home page: images are relative to that page
    _check_images(real_site, real_site.base + f"{version}/book/index.html", page, required=True)


@pytest.mark.parametrize("page_path", [RESULTS_PAGE, CHANGES_PAGE])
def test_key_pages_render_with_their_figures(
    real_site: Served, tmp_path: Path, page_path: str
) -> None:
    version = (ROOT / "VERSION").read_text().strip()
    assert (real_site.site_dir / version / page_path).is_file(), (
        f"{page_path} is missing from the built review: its chapter is not in _toc.yml"
    )
    url = real_site.base + f"{version}/{page_path}"
    page = parse(dump_dom(url, tmp_path))
    _check_switcher_menu(page, _versions(real_site))
    _check_images(real_site, url, page, required=True)


@pytest.mark.parametrize("page_path", [HOME_PAGE, RESULTS_PAGE, STUDIES_PAGE])
def test_page_requests_nothing_from_another_host_and_nothing_missing(
    real_site: Served, tmp_path: Path, page_path: str
) -> None:
    version = (ROOT / "VERSION").read_text().strip()
    url = real_site.base + f"{version}/{page_path}"
    requests = page_requests(url, tmp_path)
    here = f"127.0.0.1:{real_site.port}"
    assert Request(url, 200) in requests, f"the page itself was not recorded: {requests[:5]}"
    assert len(requests) >= 10, requests  # style sheets, scripts, icons, fonts, figures
    elsewhere = [r.url for r in requests if urlparse(r.url).netloc != here]
    assert elsewhere == [], f"{page_path} requested other hosts: {elsewhere}"
    # Chromium may start a request twice (a font is requested, cancelled and requested again): an
    # address fails when none of its requests got an answer below 400.
    answered = {r.url for r in requests if r.status is not None and r.status < 400}
    failed = sorted({r for r in requests if r.url not in answered}, key=lambda r: r.url)
    assert failed == [], f"{page_path}: addresses without a good answer: {failed}"
    assert not any(r.url.split("?")[0].endswith("fontawesome.js") for r in requests)
    assert any(r.url.endswith("/_static/favicon.svg") for r in requests)


def test_network_recorder_catches_another_host_and_a_missing_file(
    real_site: Served, tmp_path: Path
) -> None:
    """A probe page (written for this test) with a script on another host and a missing style sheet."""
    probe = real_site.site_dir / "probe.html"
    probe.write_text(
        '<!doctype html><html><head><script src="https://cdn.example.invalid/lib.js"></script>'
        '<link rel="stylesheet" href="missing.css"></head><body>probe</body></html>',
        encoding="utf-8",
    )
    try:
        requests = page_requests(real_site.base + "probe.html", tmp_path)
    finally:
        probe.unlink()
    assert Request("https://cdn.example.invalid/lib.js", None) in requests
    assert Request(real_site.base + "missing.css", 404) in requests


def test_search_page_finds_pages_with_the_scripts_deferred(real_site: Served, tmp_path: Path) -> None:
    """Sphinx's search runs in the browser from scripts the pages load deferred (analysis.book.themetrim)."""
    version = (ROOT / "VERSION").read_text().strip()
    dom = dump_dom(real_site.base + f"{version}/search.html?q=review", tmp_path, budget_ms=15000)
    found = re.search(r"Search finished, found (\d+) page", dom)
    assert found and int(found.group(1)) > 0, "the search page found nothing"


def test_no_internal_link_is_broken(real_site: Served) -> None:
    broken = _crawl(real_site)
    assert not broken, "broken internal links:\n" + "\n".join(broken[:50])


def _check_switcher_menu(page: _Collector, versions: list[str]) -> None:
    """After JavaScript ran, the switcher menu holds one entry per version of switcher.json."""
    menu = [a for tag, a in page.elements if tag == "a" and "data-version" in a]
    listed = list(dict.fromkeys(a["data-version"] for a in menu))  # wide and narrow menus
    assert listed == versions


def _check_images(served: Served, url: str, page: _Collector, required: bool) -> None:
    images = [a for tag, a in page.elements if tag == "img"]
    if required:
        assert images, f"{url}: no figure in the page"
    for attrs in images:
        src = attrs.get("src", "")
        assert src, f"{url}: an <img> without src"
        if src.startswith("data:"):
            continue
        status, body, ctype = served.get(urljoin(url, src))
        assert status == 200, f"{url}: image {src} -> HTTP {status}"
        assert _is_image(body, ctype), f"{url}: {src} is not a PNG/JPEG/WebP/SVG image"
        assert attrs.get("alt", "").strip(), f"{url}: image {src} has no alt text"


def _crawl(served: Served) -> list[str]:
    """Every href/src inside the site, from every served HTML file, requested once."""
    # every page Sphinx wrote; _static/ holds theme assets (e.g. a Jinja macro file), not pages
    pages = sorted(p for p in served.site_dir.rglob("*.html") if "_static" not in p.parts)
    checked: dict[str, int] = {}
    broken = []
    for path in pages:
        url = served.base + path.relative_to(served.site_dir).as_posix()
        status, body, _ = served.get(url)
        assert status == 200, f"{url} -> {status}"
        for tag, attrs in parse(body.decode("utf-8", "replace")).elements:
            for name in ("href", "src"):
                target = attrs.get(name)
                if not target or target.startswith(("mailto:", "javascript:", "data:", "#")):
                    continue
                absolute = urldefrag(urljoin(url, target))[0]
                parsed = urlparse(absolute)
                if parsed.netloc != f"127.0.0.1:{served.port}":
                    continue  # external
                if absolute not in checked:
                    checked[absolute] = served.get(absolute)[0]
                if checked[absolute] != 200:
                    broken.append(f"{url}: <{tag} {name}={target!r}> -> HTTP {checked[absolute]}")
    assert len(checked) > len(pages), "the crawl found almost no links; is the site empty?"
    return broken


# ---- versions and banners (synthetic) -------------------------------------------------------


def test_old_release_shows_the_old_version_banner(synthetic_site: Served, tmp_path: Path) -> None:
    base = synthetic_site.base
    old = dump_dom(base + "26.0.0/book/index.html", tmp_path)
    assert "synthetic value is 111" in old
    banner = _inner_text(old, "bd-header-version-warning")
    assert "This is documentation for an old version (26.0.0)" in banner
    assert "Switch to stable version" in banner
    _check_switcher_menu(parse(old), ["26.1.0", "26.0.0", "dev"])


def test_latest_release_has_no_banner(synthetic_site: Served, tmp_path: Path) -> None:
    latest = dump_dom(synthetic_site.base + "26.1.0/book/index.html", tmp_path)
    assert "synthetic value is 222" in latest
    assert _inner_text(latest, "bd-header-version-warning") == ""
    active = [
        a for tag, a in parse(latest).elements if tag == "button" and a.get("data-active-version")
    ]
    assert {a["data-active-version"] for a in active} == {"26.1.0"}


def test_dev_is_marked_as_development_version(synthetic_site: Served, tmp_path: Path) -> None:
    dev = dump_dom(synthetic_site.base + "dev/book/index.html", tmp_path)
    assert "an unstable development version" in _inner_text(dev, "bd-header-version-warning")


def test_figures_are_served_as_images(synthetic_site: Served, tmp_path: Path) -> None:
    url = synthetic_site.base + "26.1.0/book/figure.html"
    page = parse(dump_dom(url, tmp_path))
    _check_images(synthetic_site, url, page, required=True)


def test_synthetic_site_has_no_broken_link(synthetic_site: Served) -> None:
    assert _crawl(synthetic_site) == []
