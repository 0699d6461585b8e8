"""Not one number typed by hand into the prose of the book.

Every result shown on the site must come from the data through the code (``{glue:text}`` or a
cell output), so a new study can never leave an old number in a sentence. This test reads every
``book/*.md``, removes what is not prose (YAML front matter, code cells and other code blocks,
directive lines and their ``:option:`` lines, roles such as ``{cite}`...``` / ``{ref}`...``` /
``{glue:text}`...```, label lines ``(x)=``, MyST comments, link targets and inline code) and
looks for standalone numbers in what remains.

A *standalone* number is a run of digits not glued to a preceding letter: "CD19", "CD34+", "L1" and
"Q10" are names, not numbers, and are never reported. Non-result numbers that must stay in the prose
are listed, each with its reason, in :data:`ALLOWED`. Numbers found today that should become
computed values are listed in :data:`KNOWN` and marked ``xfail(strict=True)`` until they are gone.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "book").glob("*.md"))

#: Phrases whose numbers are names or fixed facts of the method, not results of this review.
ALLOWED: tuple[tuple[str, str], ...] = (
    (r"PRISMA 2020", "name of the reporting guideline"),
    (r"CC BY 4\.0", "name of the data licence"),
    (r"\bG - 1\b", "formula: degrees of freedom of the test for subgroup differences (G subgroups)"),
    # Years inside bibliographic names, e.g. "Pritz (1997)": part of the citation of a source.
    (r"\b[A-Z][\w'-]+(?: et al\.| and [A-Z][\w'-]+)? \((?:19|20)\d{2}[a-z]?\)", "author (year) of a cited source"),
)

#: Typed numbers found in the chapters now: (file, phrase containing the number, reason).
KNOWN: tuple[tuple[str, str, str], ...] = ()

_NUMBER = re.compile(r"(?<!\w)\d+(?:[.,]\d+)*")
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,}|:{3,})\s*(\{([\w:-]+)\})?(.*)$")
#: Directives whose body is code or data, not prose.
_CODE_DIRECTIVES = {"code-cell", "code", "code-block", "sourcecode", "math", "raw", "eval-rst", "bibliography",
                    "toctree", "glue:figure", "glue:math", "csv-table"}
_ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")
_INLINE_CODE = re.compile(r"`[^`]*`")
_LABEL = re.compile(r"^\s*\([^()\s]+\)=\s*$")
_OPTION = re.compile(r"^\s*:[\w-]+:")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_SUBSTITUTION = re.compile(r"\{\{[^}]*\}\}")
_HTML_COMMENT = re.compile(r"<!--.*?-->")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, prose) for every line of a MyST page that is prose."""
    lines = text.splitlines()
    out: list[tuple[int, str]] = []
    start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), len(lines) - 1)
        start = end + 1
    stack: list[tuple[str, bool]] = []  # open fences: (marker, body is code)
    in_options = False
    for number in range(start, len(lines)):
        line = lines[number]
        fence = _FENCE.match(line)
        if fence and stack and fence.group(2).startswith(stack[-1][0]) and not fence.group(3) \
                and not fence.group(5).strip():
            stack.pop()
            in_options = False
            continue
        if stack and stack[-1][1]:
            continue  # inside code
        if fence:
            name = fence.group(4)
            is_code = name is None or name in _CODE_DIRECTIVES
            stack.append((fence.group(2), is_code))
            in_options = not is_code
            continue
        if in_options and _OPTION.match(line):
            continue
        in_options = False
        if _LABEL.match(line) or line.lstrip().startswith("%"):
            continue
        cleaned = _HTML_COMMENT.sub(" ", line)
        cleaned = _ROLE.sub(" ", cleaned)
        cleaned = _INLINE_CODE.sub(" ", cleaned)
        cleaned = _LINK_TARGET.sub("]", cleaned)
        cleaned = _SUBSTITUTION.sub(" ", cleaned)
        out.append((number + 1, cleaned))
    return out


def typed_numbers(text: str) -> list[tuple[int, str, str]]:
    """(line number, number, prose line) of every standalone number not explained by ALLOWED."""
    found = []
    for number, line in prose_lines(text):
        rest = line
        for pattern, _why in ALLOWED:
            rest = re.sub(pattern, " ", rest)
        found.extend((number, m.group(0), line.strip()) for m in _NUMBER.finditer(rest))
    return found


def _is_known(chapter: str, hit: tuple[int, str, str]) -> bool:
    _, token, line = hit
    return any(chapter == name and phrase in line and token in phrase for name, phrase, _ in KNOWN)


# ---------------------------------------------------------------- the scanner itself (SYNTHETIC page)
SYNTHETIC_PAGE = """---
kernelspec:
  name: python3
depends_on: [data/x2.csv]
---

(res-2)=
# Results of 2 things

```{code-cell} ipython3
:tags: [remove-cell]
x = 12
```

Pooled {glue:text}`estimate` of {glue:text}`k` studies {cite}`synth2020` ({ref}`table 3 <t3>`); `n = 4` is code.
CD19, CD34+, BCMA and items L1 to L4 and Q10 are names. PRISMA 2020 and CC BY 4.0 are names too.
Smith (2019) and Smith and Jones (2020a) are cited sources; see [the site](https://example.org/v2/page3).
% a MyST comment with 7 in it
<!-- an HTML comment with 8 in it -->

:::{figure} figs/plot2.png
:alt: alt text 9
:name: fig-10

A caption with 84% in it.
:::

```{note}
:class: dropdown
Response in 12/15 patients (n = 15), a proportion of 0.8, in 2023 and on day 28; 3rd boost.
```

```python
y = 99
```

Last line 5.
"""


def test_scanner_finds_numbers_in_prose_only() -> None:
    hits = [(line, token) for line, token, _ in typed_numbers(SYNTHETIC_PAGE)]
    assert hits == [
        (8, "2"),  # a heading is prose
        (25, "84"),  # a directive's body is prose
        (30, "12"), (30, "15"), (30, "15"), (30, "0.8"), (30, "2023"), (30, "28"), (30, "3"),
        (37, "5"),
    ]


def test_scanner_skips_front_matter_without_closing_line() -> None:
    assert typed_numbers("---\nkernelspec: 3\n") == []


# ---------------------------------------------------------------- the chapters
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_no_number_typed_into_the_prose(chapter: Path) -> None:
    hits = typed_numbers(chapter.read_text(encoding="utf-8"))
    new = [h for h in hits if not _is_known(chapter.name, h)]
    assert not new, "\n".join(f"book/{chapter.name}:{n}: {token!r} in: {line}" for n, token, line in new)


def test_every_chapter_is_scanned() -> None:
    assert len(CHAPTERS) >= 10
    assert all(prose_lines(c.read_text(encoding="utf-8")) for c in CHAPTERS)
