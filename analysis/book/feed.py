"""An Atom feed of a living review's releases, each saying whether the answer changed.

One entry per released results snapshot (:mod:`analysis.living.snapshot`), newest first, in the Atom
syndication format (RFC 4287), written with feedgen. An entry's title is the version and the verdict
("Version 26.1.0: the answer changed"); its text gives the release date, the trigger (why the version exists)
and the sentence of the plan's decision rules (:mod:`analysis.living.alerts`), as the release recorded it in its
snapshot (``answer``; a snapshot without one is judged now against the release before it, with the rules given).
A reader subscribes once and is told when the answer itself changes, not only that a version exists.

The caller chooses the addresses: the feed's own (``self``), the site's, each entry's page (a function of the
version) and the identifiers (Atom ids must be absolute IRIs). Nothing here knows a particular review.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from analysis.living.alerts import AlertRules, evaluate
from analysis.living.snapshot import Snapshot, parse_version

__all__ = ["entry_answer", "release_feed"]


def entry_answer(snapshots: Sequence[Snapshot], index: int, rules: AlertRules | None = None) -> dict[str, Any]:
    """The answer of release ``snapshots[index]`` (oldest first): as recorded in its snapshot, else judged now
    against the release before it with ``rules``."""
    snap = snapshots[index]
    if snap.answer is not None:
        return dict(snap.answer)
    before = snapshots[index - 1] if index > 0 else None
    answer = evaluate(rules, before.results if before else None, snap.results, before.version if before else None)
    return answer.to_dict()


def _moment(date: dt.date) -> dt.datetime:
    return dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC)


def release_feed(
    snapshots: Sequence[Snapshot],
    *,
    title: str,
    feed_id: str,
    feed_url: str,
    site_url: str,
    entry_url: Callable[[str], str],
    entry_id: Callable[[str], str],
    author: str,
    rules: AlertRules | None = None,
    subtitle: str = "Releases of the review; each says whether the answer changed under the plan's decision rules.",
) -> bytes:
    """The Atom feed (UTF-8 bytes) of the released ``snapshots`` (any order; dev snapshots are skipped).

    Parameters
    ----------
    snapshots : released snapshots.
    title, subtitle, author : the feed's title, subtitle and author name.
    feed_id : the feed's Atom id (an absolute IRI that never changes).
    feed_url, site_url : the feed's own address (``rel="self"``) and the site's (``rel="alternate"``).
    entry_url, entry_id : version -> the page of that release, and its Atom id.
    rules : decision rules for a snapshot that recorded no answer.

    Entries carry ``updated`` and ``published`` = the release date; the feed's ``updated`` is the newest
    release's date (the build date when there is none), so the same releases always give the same feed.
    """
    from feedgen.feed import FeedGenerator  # the book extra (analysis.book checks it is installed)

    released = sorted((s for s in snapshots if s.version != "dev"), key=lambda s: parse_version(s.version))
    fg = FeedGenerator()
    fg.id(feed_id)
    fg.title(title)
    fg.subtitle(subtitle)
    fg.author({"name": author})
    fg.link(href=feed_url, rel="self", type="application/atom+xml")
    fg.link(href=site_url, rel="alternate", type="text/html")
    fg.language("en")
    fg.updated(_moment(released[-1].date if released else dt.date.today()))
    for index, snap in enumerate(released):  # feedgen prepends: the newest ends first
        answer = entry_answer(released, index, rules)
        entry = fg.add_entry()
        entry.id(entry_id(snap.version))
        verdict = str(answer.get("headline") or "")
        entry.title(f"Version {snap.version}: {verdict[0].lower() + verdict[1:]}" if verdict else
                    f"Version {snap.version}")
        entry.link(href=entry_url(snap.version), rel="alternate", type="text/html")
        entry.published(_moment(snap.date))
        entry.updated(_moment(snap.date))
        text = (f"Version {snap.version}, released {snap.date.isoformat()}. Trigger: {snap.trigger}. "
                f"{answer.get('sentence', '')}").strip()
        entry.content(text, type="text")
        changed = answer.get("changed")
        entry.category(term={True: "answer-changed", False: "no-change-to-the-answer"}.get(changed, "not-judged"),
                       label=verdict or "not judged")
    return fg.atom_str(pretty=True)
