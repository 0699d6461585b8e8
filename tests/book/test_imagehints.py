"""Images that do not hold up the first paint (analysis.book.imagehints).

Markup rewriting on SYNTHETIC page bodies; the WebP copies on a SYNTHETIC PNG drawn here (lossless:
the same pixels). The built review is checked end to end in ``tests/e2e/test_build_caches.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from analysis.book import imagehints
from analysis.book.imagehints import image_size, rewrite_images, write_webp

BODY = (
    '<p>text</p><img alt="first &amp; foremost" src="../_images/a.png" />'
    '<img alt="second" src="../_images/b.png" class="x" />'
    '<img alt="remote" src="https://example.org/c.png" />'
    '<img alt="sized" src="../_images/d.svg" width="10" height="5" />'
)
SIZES = {"../_images/a.png": (300, 100), "../_images/b.png": (200, 50), "../_images/d.svg": (99, 99)}


def _imgs(html: str) -> list[str]:
    return [part.split("/>")[0] for part in html.split("<img ")[1:]]


def test_sizes_are_written_and_every_image_but_the_first_loads_lazily() -> None:
    first, second, remote, sized = _imgs(rewrite_images(BODY, SIZES, webp=False))
    assert 'width="300" height="100"' in first and "loading" not in first
    assert 'decoding="async"' in first and 'alt="first &amp; foremost"' in first
    assert 'width="200" height="50"' in second and 'loading="lazy"' in second and 'class="x"' in second
    assert remote.strip() == 'alt="remote" src="https://example.org/c.png"'  # other hosts untouched
    assert 'width="10" height="5"' in sized and "99" not in sized  # a size already written is kept


def test_pngs_of_the_image_folder_are_shown_from_their_webp_copies() -> None:
    first, second, remote, sized = _imgs(rewrite_images(BODY, SIZES, webp=True))
    assert 'src="../_images/a.webp"' in first and 'src="../_images/b.webp"' in second
    assert "c.png" in remote and "d.svg" in sized


def test_a_page_without_images_is_unchanged() -> None:
    assert rewrite_images("<p>no figure</p>", {}, webp=True) == "<p>no figure</p>"


@pytest.fixture
def png(tmp_path: Path) -> Path:
    image = Image.new("RGBA", (64, 40), (255, 255, 255, 0))
    for x in range(64):
        image.putpixel((x, x % 40), (x * 4, 10, 200, 255))
    path = tmp_path / "figure.png"
    image.save(path)
    return path


def test_the_webp_copy_shows_the_same_pixels(png: Path) -> None:
    """Lossless: every pixel shows the same (premultiplied by its opacity, so the colour of a
    fully transparent pixel, which the encoder may drop, does not count)."""
    webp = write_webp(png)
    assert webp == png.with_suffix(".webp") and image_size(webp) == (64, 40)
    with Image.open(png) as a, Image.open(webp) as b:
        assert a.convert("RGBa").tobytes() == b.convert("RGBa").tobytes()
        assert a.getchannel("A").tobytes() == b.getchannel("A").tobytes()


def test_a_cached_copy_is_the_bytes_of_a_fresh_encoding(png: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = write_webp(png).read_bytes()
    png.with_suffix(".webp").unlink()
    write_webp(png, tmp_path / "cache")
    assert png.with_suffix(".webp").read_bytes() == fresh
    png.with_suffix(".webp").unlink()

    def no_encoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("encoded again")

    monkeypatch.setattr(imagehints, "WEBP_OPTIONS", imagehints.WEBP_OPTIONS)  # same key
    monkeypatch.setattr(Image.Image, "save", no_encoding)
    write_webp(png, tmp_path / "cache")
    assert png.with_suffix(".webp").read_bytes() == fresh


def test_copies_written_on_several_threads_are_those_written_one_by_one(png: Path, tmp_path: Path) -> None:
    from analysis.book.imagehints import write_all

    pngs = []
    for index in range(4):
        path = tmp_path / f"f{index}.png"
        with Image.open(png) as image:
            image.rotate(90 * index, expand=True).save(path)
        pngs.append(path)
    alone = [p.read_bytes() for p in write_all(pngs, None, workers=1)]
    for path in pngs:
        path.with_suffix(".webp").unlink()
    assert [p.read_bytes() for p in write_all(pngs, None, workers=3)] == alone
