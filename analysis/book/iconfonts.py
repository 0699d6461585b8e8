"""Sphinx extension part: icon fonts cut down to the icons the site uses.

An icon font such as Font Awesome's (which the PyData Sphinx theme ships and its style sheet declares)
holds about 2,000 icons; a book uses a dozen. The solid and brands fonts weigh 275 KiB together and a
browser fetches them, at high priority, with the first page that shows an icon. After the build this
module rewrites each icon font file named in ``icon_font_files`` (glob patterns inside the output
folder) to hold only:

* the icons of every ``fa-<name>`` class found in the built pages and in the site's scripts (which
  insert icons of their own), through the style sheets' ``.fa-<name>:before { content: "\\f09b" }``
  rules, and
* every other code point a style sheet writes into ``content`` or a custom property (``--icon: "\\f35d"``):
  icons the theme's style sheets show by themselves.

It uses fontTools' subsetter (``fontTools.subset``) and keeps the file's format (WOFF2 needs the
``brotli`` package). A font holding none of those code points is left as it is. The source files in the
theme's package are never touched: Sphinx copies them into the output folder on every build, and they
are cut again, unless a cut of the same font to the same code points was made before: cut fonts are
kept in a cache folder next to the doctrees (``icon-font-cache``), keyed by
``sha256(font bytes, code points, fontTools version)``, and copied from there (the same bytes as a
fresh cut, which is itself reproducible). Off unless ``icon_font_files`` is set.

With ``icon_rules_trim = True`` the style sheets of the site lose the glyph rules
(``.fa-<name>:before { content: "\\f09b" }``, about 1,800 of them in the theme's style sheet, which every
page loads before it paints) of the icons no page or script uses; every other rule is kept. Nothing here
knows about any particular book.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: Folder of cut fonts, next to the doctrees (inside the build folder).
CACHE_FOLDER = "icon-font-cache"

_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_ESCAPE = re.compile(r"""(?:content|--[\w-]+)\s*:\s*["']\\([0-9a-fA-F]{4,6})["']""")
_ICON_SELECTOR = re.compile(r"^\.(fa-[a-z0-9-]+)::?before$")
_ICON_CLASS = re.compile(r"\bfa-[a-z0-9]+(?:-[a-z0-9]+)*")


def icon_code_points(css: str) -> tuple[dict[str, set[int]], set[int]]:
    """From a style sheet: the code points of each ``fa-<name>`` class, and those shown by other rules.

    A rule whose selectors are all ``.fa-<name>:before`` maps those names to its ``content`` code
    point; any other ``content: "\\XXXX"`` or custom property ``--x: "\\XXXX"`` goes to the second set.
    """
    by_class: dict[str, set[int]] = {}
    always: set[int] = set()
    for selectors, body in _RULE.findall(css):
        points = {int(h, 16) for h in _ESCAPE.findall(body)}
        if not points:
            continue
        names = [_ICON_SELECTOR.match(s.strip()) for s in selectors.split(",")]
        if names and all(names):
            for match in names:
                by_class.setdefault(match.group(1), set()).update(points)  # type: ignore[union-attr]
        else:
            always |= points
    return by_class, always


def used_icon_classes(texts: Iterable[str]) -> set[str]:
    """Every ``fa-<name>`` class name written in ``texts`` (pages, scripts)."""
    found: set[str] = set()
    for text in texts:
        found.update(_ICON_CLASS.findall(text))
    return found


def needed_code_points(css_texts: Iterable[str], used: set[str]) -> set[int]:
    """Code points of the icons ``used`` and of the icons the style sheets show by themselves."""
    needed: set[int] = set()
    for css in css_texts:
        by_class, always = icon_code_points(css)
        needed |= always
        for name in used & by_class.keys():
            needed |= by_class[name]
    return needed


def subset_font(path: Path, code_points: set[int]) -> bool:
    """Rewrite the font at ``path`` with only the glyphs of ``code_points`` (format kept).

    Returns False, leaving the file as it is, when the font maps none of them.
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(path), recalcTimestamp=False)  # same bytes from the same input: reproducible builds
    mapped = set(font.getBestCmap() or {})
    wanted = code_points & mapped
    if not wanted:
        return False
    flavor = font.flavor  # "woff2", "woff" or None (TrueType/OpenType)
    options = subset.Options()
    options.flavor = flavor
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(unicodes=sorted(wanted))
    subsetter.subset(font)
    font.flavor = flavor
    font.save(str(path))
    return True


def cut_key(font: bytes, code_points: set[int]) -> str:
    """Cache key of a cut: ``sha256(font bytes, sorted code points, fontTools version)``."""
    import fontTools

    digest = hashlib.sha256(font)
    digest.update(b"\0" + ",".join(str(c) for c in sorted(code_points)).encode())
    digest.update(b"\0" + str(fontTools.version).encode())
    return digest.hexdigest()


def subset_font_cached(path: Path, code_points: set[int], cache_dir: Path | None) -> bool:
    """:func:`subset_font`, copying the result from ``cache_dir`` when the same cut was made before."""
    if cache_dir is None:
        return subset_font(path, code_points)
    entry = Path(cache_dir) / (cut_key(path.read_bytes(), code_points) + path.suffix)
    if entry.is_file():
        shutil.copyfile(entry, path)
        return True
    unchanged = cache_dir / (entry.stem + ".unchanged")
    if unchanged.exists():
        return False
    entry.parent.mkdir(parents=True, exist_ok=True)
    if not subset_font(path, code_points):
        unchanged.touch()
        return False
    tmp = entry.with_name(entry.name + ".tmp")
    shutil.copyfile(path, tmp)
    tmp.replace(entry)
    return True


def _site_texts(outdir: Path, suffixes: tuple[str, ...]) -> Iterable[str]:
    for path in sorted(outdir.rglob("*")):
        if path.suffix in suffixes and path.is_file():
            yield path.read_text(encoding="utf-8", errors="replace")


#: A rule that only gives icons their glyph: ``.fa-a:before,.fa-b::before{content:"\\f09b"}``.
_GLYPH_RULE = re.compile(
    r'(?P<selectors>\.fa-[a-z0-9-]+::?before(?:\s*,\s*\.fa-[a-z0-9-]+::?before)*)\s*'
    r'\{\s*content\s*:\s*"(?:\\[0-9a-fA-F]{1,6} ?|[^"\\]{1,2})"\s*;?\s*\}')
_GLYPH_SELECTOR = re.compile(r"\.(fa-[a-z0-9-]+)::?before")


def trim_icon_rules(css: str, used: set[str]) -> str:
    """``css`` without the glyph rules (``.fa-<name>:before { content: ... }``) of icons not ``used``.

    A rule naming several icons keeps the selectors of the used ones; a rule naming none of them
    goes. Every other rule, and every character outside the removed rules, is kept.
    """

    def keep(match: re.Match[str]) -> str:
        selectors = [s.strip() for s in match.group("selectors").split(",")]
        kept = [s for s in selectors if _GLYPH_SELECTOR.fullmatch(s).group(1) in used]  # type: ignore[union-attr]
        if len(kept) == len(selectors):
            return match.group(0)
        if not kept:
            return ""
        return ",".join(kept) + match.group(0)[len(match.group("selectors")):]

    return _GLYPH_RULE.sub(keep, css)


def trim_site_rules(outdir: Path) -> tuple[int, int]:
    """Trim the glyph rules of every style sheet in ``outdir`` to the icons its pages and scripts use.

    Returns the bytes of those style sheets (before, after).
    """
    used = used_icon_classes(_site_texts(outdir, (".html", ".js")))
    before = after = 0
    for path in sorted(outdir.rglob("*.css")):
        text = path.read_text(encoding="utf-8")
        if ".fa-" not in text:
            continue
        trimmed = trim_icon_rules(text, used)
        before, after = before + len(text.encode()), after + len(trimmed.encode())
        if trimmed != text:
            path.write_text(trimmed, encoding="utf-8")
    return before, after


def subset_site(outdir: Path, patterns: Iterable[str],
                cache_dir: Path | None = None) -> dict[str, tuple[int, int]]:
    """Cut every font ``patterns`` match in ``outdir``; ``{file: (bytes before, bytes after)}``.

    With ``cache_dir``, cuts made before (same font, same code points) are copied from there.
    """
    fonts = sorted({p for pattern in patterns for p in outdir.glob(pattern) if p.is_file()})
    if not fonts:
        return {}
    used = used_icon_classes(_site_texts(outdir, (".html", ".js")))
    needed = needed_code_points(_site_texts(outdir, (".css",)), used)
    sizes = {}
    for font in fonts:
        before = font.stat().st_size
        if subset_font_cached(font, needed, cache_dir):
            sizes[str(font.relative_to(outdir))] = (before, font.stat().st_size)
    return sizes


def _finished(app: Any, exception: Exception | None) -> None:
    """``build-finished``: cut the icon fonts of the HTML output."""
    if exception is not None or app.builder.format != "html" or not app.config.icon_font_files:
        return
    cache = Path(app.doctreedir).parent / CACHE_FOLDER if getattr(app.config, "live_inputs_caches", True) else None
    sizes = subset_site(Path(app.outdir), app.config.icon_font_files, cache)
    if app.config.icon_rules_trim:
        before, after = trim_site_rules(Path(app.outdir))
        if before != after:
            from sphinx.util import logging

            logging.getLogger(__name__).info(
                "[icon fonts] glyph rules of unused icons left out of the style sheets: %d -> %d bytes",
                before, after)
    if sizes:
        from sphinx.util import logging

        total = sum(b for b, _ in sizes.values()), sum(a for _, a in sizes.values())
        logging.getLogger(__name__).info(
            "[icon fonts] %d font(s) cut to the icons used: %d -> %d bytes", len(sizes), *total
        )


def setup(app: Any) -> dict[str, Any]:
    """Register the icon-font part of the extension."""
    app.add_config_value("icon_font_files", [], "html", [list, tuple])
    app.add_config_value("icon_rules_trim", False, "html", [bool])
    app.connect("build-finished", _finished)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
