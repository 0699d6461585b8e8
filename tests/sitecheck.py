"""Static checks of a built site: what its pages load from other hosts, and their metadata.

Used by the end-to-end tests on the real review (``tests/e2e/test_book_e2e.py``) and checked itself
on small SYNTHETIC pages (``tests/test_sitecheck.py``). A "page" is every ``.html`` file outside
``_static`` (where themes keep template fragments); a style sheet is every ``.css`` file.

What a page loads: ``<script src>``, ``<link href>`` whose ``rel`` fetches something (style sheets,
icons, preloads, manifests), ``<img>``/``<source>``/``<iframe>``/``<video>``/``<audio>``/``<embed>``/``<track>``
``src`` (and ``srcset``), ``<object data>``, and ``url(...)``/``@import`` in ``<style>`` blocks,
``style`` attributes and style sheets, and the address of a script, style sheet or font written in an
inline script (a script that loads another on demand). Links a reader follows (``<a href>``) are not loads.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

#: ``rel`` values of a ``<link>`` that make the browser fetch its ``href``.
FETCHING_RELS = frozenset({
    "stylesheet", "icon", "shortcut", "apple-touch-icon", "mask-icon", "manifest", "preload",
    "modulepreload", "prefetch", "prerender", "preconnect", "dns-prefetch",
})  # fmt: skip
#: Elements whose ``src`` the browser loads with the page.
SRC_ELEMENTS = frozenset({"script", "img", "source", "iframe", "video", "audio", "embed", "track", "input"})

#: An address on another host of a script, style sheet or font, written inside an inline script.
_ASSET_URL_IN_SCRIPT = re.compile(r"""(?:https?:)?//[^\s"'`<>]+?\.(?:m?js|css|woff2?|ttf|otf)\b""", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3""", re.IGNORECASE)


def is_other_host(url: str) -> bool:
    """True for an absolute (``https://...``) or protocol-relative (``//host/...``) address."""
    url = url.strip()
    return url.startswith("//") or urlparse(url).scheme in {"http", "https", "ftp", "ws", "wss"}


def css_urls(css: str) -> list[str]:
    """Addresses in ``url(...)`` and ``@import "..."`` of a style sheet's text."""
    return [m.group(2) or m.group(4) for m in _CSS_URL.finditer(css)]


class PageScan(HTMLParser):
    """Loads, ``<meta>`` tags and icon links of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.loads: list[tuple[str, str]] = []
        self.meta: dict[str, list[str]] = {}
        self.icons: list[str] = []
        self.redirect = False
        self._in_style = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "link" and found.get("href"):
            rels = set(found.get("rel", "").lower().split())
            if rels & FETCHING_RELS:
                self.loads.append((f"<link rel={found.get('rel')}>", found["href"]))
            if "icon" in rels:
                self.icons.append(found["href"])
        if tag in SRC_ELEMENTS and found.get("src"):
            self.loads.append((f"<{tag} src>", found["src"]))
        for candidate in found.get("srcset", "").split(","):
            if candidate.strip():
                self.loads.append((f"<{tag} srcset>", candidate.split()[0]))
        if tag == "object" and found.get("data"):
            self.loads.append(("<object data>", found["data"]))
        if found.get("style"):
            self.loads.extend((f"<{tag} style>", u) for u in css_urls(found["style"]))
        if tag == "meta":
            key = found.get("name") or found.get("property")
            if key:
                self.meta.setdefault(key, []).append(found.get("content", ""))
            self.redirect |= found.get("http-equiv", "").lower() == "refresh"
        self._in_style = tag == "style"
        self._in_script = tag == "script" and not found.get("src") and found.get("type", "text/javascript") in {
            "text/javascript", "module", "application/javascript", ""}  # fmt: skip

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.loads.extend(("<style>", u) for u in css_urls(data))
        if self._in_script:
            self.loads.extend(("<script> text", m.group(0)) for m in _ASSET_URL_IN_SCRIPT.finditer(data))


def scan_page(path: Path) -> PageScan:
    scan = PageScan()
    scan.feed(path.read_text(encoding="utf-8"))
    scan.close()
    return scan


def pages(html_dir: Path) -> list[Path]:
    """Every HTML page of a built site (theme fragments under ``_static`` excluded)."""
    return sorted(p for p in html_dir.rglob("*.html") if "_static" not in p.relative_to(html_dir).parts)


def other_host_loads(html_dir: Path) -> list[str]:
    """``file: what -> address`` for everything a page or style sheet would load from another host."""
    found = []
    for page in pages(html_dir):
        for what, url in scan_page(page).loads:
            if is_other_host(url):
                found.append(f"{page.relative_to(html_dir)}: {what} -> {url}")
    for sheet in sorted(html_dir.rglob("*.css")):
        for url in css_urls(sheet.read_text(encoding="utf-8", errors="replace")):
            if is_other_host(url):
                found.append(f"{sheet.relative_to(html_dir)}: url() -> {url}")
    return found


def missing_descriptions(html_dir: Path) -> list[str]:
    """Pages without exactly one non-empty ``<meta name="description">`` (redirect stubs excepted)."""
    bad = []
    for page in pages(html_dir):
        scan = scan_page(page)
        if scan.redirect:
            continue
        values = scan.meta.get("description", [])
        if len(values) != 1 or not values[0].strip():
            bad.append(f"{page.relative_to(html_dir)}: description {values!r}")
    return bad


def missing_icons(html_dir: Path) -> list[str]:
    """Pages without a ``<link rel="icon">``, or whose icon is not a file of the site (redirect stubs excepted)."""
    bad = []
    for page in pages(html_dir):
        scan = scan_page(page)
        icons = scan.icons
        if not icons and not scan.redirect:
            bad.append(f"{page.relative_to(html_dir)}: no <link rel=icon>")
        for href in icons:
            target = urlparse(urljoin(page.resolve().as_uri(), href))
            if target.scheme != "file" or not Path(target.path).is_file():
                bad.append(f"{page.relative_to(html_dir)}: icon {href} is not a file of the site")
    return bad
