"""The feed of releases, end to end: two releases of a SYNTHETIC review, the versioned site, ``feed.xml``.

The repository is the synthetic review of ``tests/e2e/test_site.py`` (one chapter, the project's real
``_config.yml`` and Sphinx extension), with a SYNTHETIC payload shaped like the review's results (one primary
outcome whose estimate is ``data/value.txt`` / 1000) and an analysis plan holding the review's real decision
rules (the ``alerts`` section of ``data/analysis_plan.yaml``). Releases are made with ``tools.release`` and the
site with ``tools.site``, as ``make release`` and ``make site`` do.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

import feedparser
import pytest
import yaml

from analysis.living.alerts import AlertRules, evaluate
from analysis.living.snapshot import read_snapshot
from tests.buildutil import NOTEBOOK_FRONT_MATTER, ROOT
from tests.e2e.test_site import _commit_all, _new_entry, synthetic_repo
from tools import release as rel
from tools import site

pytestmark = [pytest.mark.slow, pytest.mark.build]

PAYLOAD = "synthfeed:payload"
VALIDATE = "{python} -m synthfeed"
PAYLOAD_MODULE = '''"""SYNTHETIC payload and validator for the feed test: one primary outcome, estimate = value / 1000."""
import sys
from pathlib import Path


def payload(root):
    value = int((Path(root) / "data" / "value.txt").read_text()) / 1000
    result = {"estimate": value, "ci_lower": round(value - 0.25, 6), "ci_upper": round(min(value + 0.1, 1.0), 6)}
    return {"outcomes": [{"evidence_set": "review", "subgroup": "all", "outcome": "synthetic",
                          "label": "Synthetic response", "role": "primary", "pooled": True, "display": "pooled",
                          "certainty": "low", "k": 3, "n": 40, "result": result}]}


if __name__ == "__main__":
    text = Path("data/value.txt").read_text().strip()
    if not text.isdigit():
        print(f"data/value.txt: row 1: value {text!r} is not a whole number")
        sys.exit(1)
'''
CHAPTER = NOTEBOOK_FRONT_MATTER + """depends_on: [data/value.txt]
---

# Synthetic review

{feed-link}`Subscribe to the releases`

```{code-cell} ipython3
import pathlib
print("synthetic value is " + pathlib.Path("../data/value.txt").read_text().strip())
```
"""


def _release(repo: Path, version: str, trigger: str) -> Path:
    import datetime as dt

    day = {"26.0.0": 1, "26.1.0": 2, "26.2.0": 3}[version]
    return rel.release(repo, version, trigger, dt.date(2026, 12, day), payload_spec=PAYLOAD, validate=VALIDATE)


def _plan_with_the_review_rules() -> str:
    raw = yaml.safe_load((ROOT / "data" / "analysis_plan.yaml").read_text(encoding="utf-8"))
    return yaml.safe_dump({"alerts": raw["alerts"]}, sort_keys=False)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    repo = synthetic_repo(tmp_path_factory.mktemp("feed") / "repo")
    (repo / "synthfeed.py").write_text(PAYLOAD_MODULE)
    (repo / "book" / "index.md").write_text(CHAPTER)
    (repo / "data" / "analysis_plan.yaml").write_text(_plan_with_the_review_rules())
    (repo / "data" / "value.txt").write_text("700\n")
    (repo / "results" / "results.schema.json").write_bytes((ROOT / "results" / "results.schema.json").read_bytes())
    _commit_all(repo, "synthetic review with decision rules")
    _release(repo, "26.0.0", "first synthetic version")
    _new_entry(repo, "820", "synthetic value 820")  # the estimate moves 12 points, its lower bound crosses 50%
    _release(repo, "26.1.0", "second synthetic version")
    out = repo.parent / "site"
    report = site.build_site(repo, out, baseurl="/review/", payload=PAYLOAD)
    assert report.built == ["26.0.0", "26.1.0", "dev"]
    return repo, out


def test_feed_parses_and_has_both_releases(released: tuple[Path, Path]) -> None:
    _, out = released
    feed = feedparser.parse((out / "feed.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert [e.title for e in feed.entries] == ["Version 26.1.0: the answer changed", "Version 26.0.0: first version"]
    assert [e.link for e in feed.entries] == ["/review/26.1.0/book/changes.html", "/review/26.0.0/book/changes.html"]
    assert all(e.id.endswith(f"/releases/tag/{v}") for e, v in zip(feed.entries, ("26.1.0", "26.0.0"), strict=True))
    assert [e.published_parsed[:3] for e in feed.entries] == [(2026, 12, 2), (2026, 12, 1)]


def test_second_entry_says_what_the_plan_rules_say(released: tuple[Path, Path]) -> None:
    repo, out = released
    first, second = (read_snapshot(repo / "results" / f"{v}.json") for v in ("26.0.0", "26.1.0"))
    rules = AlertRules.from_plan(yaml.safe_load((repo / "data" / "analysis_plan.yaml").read_text()))
    expected = evaluate(rules, first.results, second.results, "26.0.0")
    assert expected.changed is True and expected.fired == ("primary_lower_bound", "estimate_moves")
    assert second.answer == expected.to_dict()  # recorded by the release
    entry = feedparser.parse((out / "feed.xml").read_bytes()).entries[0]
    assert entry.summary == ("Version 26.1.0, released 2026-12-02. Trigger: second synthetic version. "
                             + expected.sentence())
    assert "the lower bound of the 95% CI of synthetic response rose to or above 50% (45% → 57%)" in entry.summary
    assert "moved by 12 percentage points" in entry.summary


def test_a_release_that_moves_little_says_no_change(released: tuple[Path, Path], tmp_path: Path) -> None:
    repo, _ = released
    _new_entry(repo, "830", "synthetic value 830")
    _release(repo, "26.2.0", "third synthetic version")
    path = site.write_feed(repo, tmp_path / "feed.xml", "/review/")  # what make book writes, without a build
    entry = feedparser.parse(path.read_bytes()).entries[0]
    assert entry.title == "Version 26.2.0: no change to the answer"
    assert "No change to the answer since 26.1.0 (no decision rule of the plan fired)" in entry.summary
    assert "Synthetic response: 82% (95% CI 57% to 92%) → 83% (95% CI 58% to 93%)" in entry.summary


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.feeds: list[str] = []
        self.anchors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "link" and found.get("rel") == "alternate" and found.get("type") == "application/atom+xml":
            self.feeds.append(found.get("href") or "")
        if tag == "a" and "feed-link" in (found.get("class") or ""):
            self.anchors.append(found.get("href") or "")


def _resolves_to_feed(out: Path, page: Path, href: str) -> bool:
    url = "http://site.invalid/review/" + page.relative_to(out).as_posix()
    return urlparse(urljoin(url, href)).path == "/review/feed.xml"


def test_every_page_of_every_version_links_the_feed(released: tuple[Path, Path]) -> None:
    _, out = released
    pages = [p for v in ("26.0.0", "26.1.0", "dev") for p in (out / v).rglob("*.html") if "_static" not in p.parts]
    checked = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        if re.match(r'<meta http-equiv="Refresh"', text):
            continue  # Jupyter Book's one-line redirect to the root chapter
        links = _Links()
        links.feed(text)
        assert len(links.feeds) == 1 and _resolves_to_feed(out, page, links.feeds[0]), (page, links.feeds)
        checked += 1
    assert checked >= 9
    for version in ("26.0.0", "26.1.0", "dev"):
        home = out / version / "book" / "index.html"
        links = _Links()
        links.feed(home.read_text(encoding="utf-8"))
        assert len(links.anchors) == 1 and _resolves_to_feed(out, home, links.anchors[0])


def test_results_are_published_beside_each_version_and_at_latest(released: tuple[Path, Path]) -> None:
    repo, out = released
    schema = (ROOT / "results" / "results.schema.json").read_bytes()
    assert (out / "results.schema.json").read_bytes() == schema
    assert (out / "schemas" / json.loads(schema)["$id"].rsplit("/", 1)[-1]).read_bytes() == schema
    for version in ("26.0.0", "26.1.0"):
        folder = out / version
        assert (folder / "results.json").read_bytes() == (repo / "results" / f"{version}.json").read_bytes()
        assert (folder / "results.schema.json").read_bytes() == schema
        rows = (folder / "summary_of_findings.csv").read_text().splitlines()
        assert rows[0].startswith("outcome,label,role,display,k,n,events,estimate,ci_lower,ci_upper")
        assert rows[1].startswith("synthetic,Synthetic response,primary,pooled,3,40,")
    latest = json.loads((out / "latest" / "results.json").read_text())
    assert latest["version"] == "26.1.0"
    assert (out / "latest" / "summary_of_findings.csv").read_bytes() == (out / "26.1.0" / "summary_of_findings.csv").read_bytes()
