"""Parsing the provenance ``<details>`` of built pages, shared by the unit and end-to-end tests."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


class _CountDetails(HTMLParser):
    """Every top-level ``<details class="provenance ...">``: its summary text, body text and links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[dict[str, Any]] = []
        self.depth = 0
        self.summary = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "details" and "provenance" in a.get("class", "").split():
            self.depth += 1
            self.found.append({"summary": "", "body": "", "links": []})
        elif tag == "summary" and self.depth:
            self.summary = True
        elif tag == "a" and self.depth:
            self.found[-1]["links"].append(a.get("href", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "details" and self.depth:
            self.depth -= 1
        elif tag == "summary":
            self.summary = False

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.found[-1]["summary" if self.summary else "body"] += data


def count_details(html: str) -> list[dict[str, Any]]:
    """``[{"summary": .., "body": .., "links": [..]}, ...]`` of every provenance ``<details>`` in ``html``."""
    parser = _CountDetails()
    parser.feed(html)
    return parser.found


def quote_of(row: Any) -> str:
    """The quote of an outcome row, or ``""`` when it has none."""
    value = row.get("quote")
    return str(value) if isinstance(value, str) and value.strip() else ""
