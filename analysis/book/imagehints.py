"""Sphinx extension part: images that do not hold up the first paint (size, lazy loading, WebP).

A page of a review shows several figures, each a PNG of a few hundred kilobytes saved at a
resolution sharp on a phone. A browser fetches every one of them as the page loads, the ones far
below the first screen included, and cannot reserve their room before they arrive. With
``image_hints = True`` in the Sphinx configuration this module rewrites the ``<img>`` elements of
every HTML page (at ``html-page-context``, in the page body) so that:

* each image states its ``width`` and ``height`` in pixels (read from the image file), so the
  browser reserves its room at once (the project's style sheet keeps ``height: auto``);
* every image but the first of a page is fetched only when it nears the screen
  (``loading="lazy"``), and every image is decoded off the main thread (``decoding="async"``);
* with ``image_webp = True``, a PNG is shown from a lossless WebP copy of it (the same pixels,
  usually a third of the bytes). The copies are written into the output's image folder at
  ``build-finished``, from every PNG there, and kept in a cache folder next to the doctrees keyed
  by ``sha256(PNG bytes, encoder settings, Pillow version)``, so an unchanged figure is not encoded
  again. The PNG stays where it was (the downloads of a figure are untouched).

Images with a width or height already written, images on other hosts and ``data:`` images are
left as they are. Nothing here knows about any particular book.
"""

from __future__ import annotations

import hashlib
import html
import posixpath
import re
import shutil
from pathlib import Path
from typing import Any

#: Folder of encoded WebP copies, next to the doctrees.
CACHE_FOLDER = "image-cache"
#: Lossless WebP; method 1 and quality 0 encode fast and keep most of the saving of slower settings.
WEBP_OPTIONS = {"lossless": True, "method": 1, "quality": 0}

_IMG = re.compile(r"<img\b([^>]*?)\s*/?>", re.IGNORECASE)
_ATTR = re.compile(r'([\w:-]+)="([^"]*)"')


def image_size(path: Path) -> tuple[int, int] | None:
    """Width and height in pixels of the image at ``path`` (None when it cannot be read)."""
    try:
        from PIL import Image

        with Image.open(path) as image:
            return image.size
    except (OSError, ValueError, ImportError):
        return None


def rewrite_images(body: str, sizes: dict[str, tuple[int, int]], webp: bool) -> str:
    """The page ``body`` with its ``<img>`` elements rewritten (see the module docstring).

    ``sizes`` maps an image's ``src`` as written in the page to its pixel size.
    """
    seen = 0

    def one(match: re.Match[str]) -> str:
        nonlocal seen
        attrs = dict(_ATTR.findall(match.group(1)))
        src = html.unescape(attrs.get("src", ""))
        if not src or src.startswith(("data:", "http:", "https:", "//")):
            return match.group(0)
        seen += 1
        if "width" not in attrs and "height" not in attrs and src in sizes:
            attrs["width"], attrs["height"] = (str(v) for v in sizes[src])
        if seen > 1:
            attrs.setdefault("loading", "lazy")
        attrs.setdefault("decoding", "async")
        if webp and src.lower().endswith(".png") and "/_images/" in "/" + src:
            attrs["src"] = html.escape(src[:-4] + ".webp")
        return "<img " + " ".join(f'{k}="{v}"' for k, v in attrs.items()) + " />"

    return _IMG.sub(one, body)


def webp_key(png: bytes) -> str:
    """Cache key of a WebP copy: ``sha256(PNG bytes, encoder settings, Pillow version)``."""
    import PIL

    digest = hashlib.sha256(png)
    digest.update(repr(sorted(WEBP_OPTIONS.items())).encode() + PIL.__version__.encode())
    return digest.hexdigest()


def write_webp(png: Path, cache_dir: Path | None = None) -> Path:
    """Write ``<name>.webp`` beside ``png`` (lossless, :data:`WEBP_OPTIONS`), from the cache when possible."""
    from PIL import Image

    target = png.with_suffix(".webp")
    data = png.read_bytes()
    entry = cache_dir / (webp_key(data) + ".webp") if cache_dir is not None else None
    if entry is not None and entry.is_file():
        shutil.copyfile(entry, target)
        return target
    with Image.open(png) as image:
        image.save(target, "WEBP", **WEBP_OPTIONS)
    if entry is not None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(entry.name + ".tmp")
        shutil.copyfile(target, tmp)
        tmp.replace(entry)
    return target


def _sources(app: Any) -> dict[str, Path]:
    """Output image name (in ``_images``) -> source file, from the builder's image table."""
    if not hasattr(app, "_image_hint_sources") or len(app._image_hint_sources) != len(app.builder.images):
        app._image_hint_sources = {name: Path(app.srcdir) / src for src, name in app.builder.images.items()}
    return app._image_hint_sources


def _page_context(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    if not app.config.image_hints or app.builder.format != "html" or not context.get("body"):
        return
    sources = _sources(app)
    sizes: dict[str, tuple[int, int]] = {}
    for attrs in _IMG.findall(context["body"]):
        src = html.unescape(dict(_ATTR.findall(attrs)).get("src", ""))
        name = posixpath.basename(src)
        if "/_images/" in "/" + src and name in sources:
            size = image_size(sources[name])
            if size is not None:
                sizes[src] = size
    context["body"] = rewrite_images(context["body"], sizes, bool(app.config.image_webp))


def _finished(app: Any, exception: Exception | None) -> None:
    """``build-finished``: a WebP copy of every PNG in the output's image folder."""
    if exception is not None or app.builder.format != "html" or not app.config.image_webp:
        return
    if not app.config.image_hints:
        return
    use_cache = getattr(app.config, "live_inputs_caches", True)  # False: encode every copy anew
    cache = Path(app.doctreedir).parent / CACHE_FOLDER if use_cache else None
    write_all(sorted((Path(app.outdir) / "_images").glob("*.png")), cache)


def write_all(pngs: list[Path], cache_dir: Path | None, workers: int | None = None) -> list[Path]:
    """:func:`write_webp` for every PNG, on one thread per core (the encoder releases the GIL)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(pngs) < 2:
        return [write_webp(png, cache_dir) for png in pngs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda png: write_webp(png, cache_dir), pngs))


def setup(app: Any) -> dict[str, Any]:
    """Register the image part of the extension."""
    app.add_config_value("image_hints", False, "html", [bool])
    app.add_config_value("image_webp", False, "html", [bool])
    app.connect("html-page-context", _page_context)
    app.connect("build-finished", _finished)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
