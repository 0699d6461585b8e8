"""The Atom feed of releases (:mod:`analysis.book.feed`), read back with a feed parser.

The snapshots are SYNTHETIC; their answers are judged with the rules below (:mod:`analysis.living.alerts`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import feedparser

from analysis.book.feed import release_feed
from analysis.living.alerts import AlertRules, evaluate
from analysis.living.snapshot import make_snapshot

RULES = AlertRules.from_plan({"alerts": {"rules": [
    {"id": "estimate_moves", "when": "estimate_moves", "outcomes": "all", "points": 0.10}]}})


def _payload(estimate: float) -> dict[str, Any]:  # SYNTHETIC
    return {"outcomes": [{"evidence_set": "review", "subgroup": "all", "outcome": "synth", "label": "Synthetic",
                          "role": "primary", "pooled": True, "display": "pooled",
                          "result": {"estimate": estimate, "ci_lower": estimate - 0.2, "ci_upper": estimate + 0.05}}]}


def _snap(version: str, day: int, estimate: float, answer: dict | None) -> Any:
    return make_snapshot(_payload(estimate), version=version, date=dt.date(2026, 12, day), trigger=f"why {version}",
                         package_version="0", data_files={}, private_data_used=False, answer=answer)


def _feed(snapshots: list[Any], rules: AlertRules | None = RULES) -> Any:
    xml = release_feed(snapshots, title="Synthetic review", feed_id="https://example.org/synth/releases",
                       feed_url="/site/feed.xml", site_url="/site/", author="Synthetic team",
                       entry_url=lambda v: f"/site/{v}/book/changes.html",
                       entry_id=lambda v: f"https://example.org/synth/releases/tag/{v}", rules=rules)
    parsed = feedparser.parse(xml)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return xml, parsed


def test_one_entry_per_release_newest_first_with_the_recorded_answer() -> None:
    first = _snap("26.0.0", 1, 0.70, evaluate(RULES, None, _payload(0.70), None).to_dict())
    second = _snap("26.1.0", 2, 0.85, evaluate(RULES, _payload(0.70), _payload(0.85), "26.0.0").to_dict())
    dev = _snap("dev", 3, 0.10, None)
    _, feed = _feed([second, dev, first])
    assert feed.version == "atom10" and feed.feed.title == "Synthetic review"
    assert [e.title for e in feed.entries] == ["Version 26.1.0: the answer changed", "Version 26.0.0: first version"]
    newest = feed.entries[0]
    assert newest.id == "https://example.org/synth/releases/tag/26.1.0"
    assert newest.link == "/site/26.1.0/book/changes.html"
    assert newest.updated_parsed[:3] == (2026, 12, 2)
    assert newest.summary == (
        "Version 26.1.0, released 2026-12-02. Trigger: why 26.1.0. The answer changed since 26.0.0: the pooled "
        "estimate of synthetic moved by 15 percentage points, from 70% (95% CI 50% to 75%) to 85% (95% CI 65% to "
        "90%).")
    assert [t.term for t in newest.tags] == ["answer-changed"]
    assert feed.feed.updated_parsed[:3] == (2026, 12, 2)
    assert any(link.rel == "self" and link.href == "/site/feed.xml" for link in feed.feed.links)


def test_a_snapshot_without_an_answer_is_judged_with_the_rules() -> None:
    _, feed = _feed([_snap("26.0.0", 1, 0.70, None), _snap("26.1.0", 2, 0.75, None)])
    assert feed.entries[0].title == "Version 26.1.0: no change to the answer"
    assert "No change to the answer since 26.0.0 (no decision rule of the plan fired)" in feed.entries[0].summary
    assert [t.term for t in feed.entries[0].tags] == ["no-change-to-the-answer"]
    _, unjudged = _feed([_snap("26.0.0", 1, 0.70, None), _snap("26.1.0", 2, 0.75, None)], rules=None)
    assert unjudged.entries[0].title == "Version 26.1.0: no decision rules in the plan"


def test_the_same_releases_give_the_same_bytes_and_no_release_a_valid_empty_feed() -> None:
    snaps = [_snap("26.0.0", 1, 0.70, None)]
    assert _feed(snaps)[0] == _feed(list(snaps))[0]
    _, empty = _feed([])
    assert empty.entries == [] and empty.feed.title == "Synthetic review"
