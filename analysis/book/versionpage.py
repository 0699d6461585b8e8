"""The "What changed in this version" page as HTML: whether the answer changed, the change log, the results that moved.

The sentences come from :mod:`analysis.living.whatchanged` (the same ones the ``diff`` command
prints for a pull request); this module only lays them out: a list per kind of change, then one
line per outcome with its subgroups behind a native ``<details>`` element (keyboard and screen
reader accessible, no JavaScript). Every text is HTML-escaped and URLs become links.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence

from analysis.living.alerts import Answer
from analysis.living.whatchanged import MovedResult, subgroup_words

__all__ = ["answer_html", "evidence_log_html", "moved_results_html"]

_URL = re.compile(r"https?://[^\s<>\"')]+")


def _linked(text: str) -> str:
    """``text`` HTML-escaped, with every URL in it a link."""
    out, last = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;")
        out.append(html.escape(text[last:match.start()]))
        out.append(f'<a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>')
        last = match.start() + len(url)
    out.append(html.escape(text[last:]))
    return "".join(out)


def evidence_log_html(log: Mapping[str, Sequence[str]]) -> str:
    """One titled list per kind of change (``{"Studies": [...], ...}``); nothing for an empty log."""
    parts = []
    for kind, sentences in log.items():
        items = "".join(f"<li>{_linked(s)}</li>" for s in sentences)
        parts.append(f'<p class="change-kind"><strong>{html.escape(kind)}</strong></p><ul>{items}</ul>')
    return f'<div class="change-log">{"".join(parts)}</div>' if parts else ""


def _line(moved: MovedResult) -> str:
    return f"<li>{_linked(moved.sentence())}</li>"


def moved_results_html(
    moved: Sequence[MovedResult],
    set_labels: Mapping[str, str] | None = None,
    codes: Mapping[str, Mapping[str, str]] | None = None,
    titles: Mapping[str, str] | None = None,
) -> str:
    """Per evidence set, one line per outcome that moved; its subgroups one click away.

    A subgroup is named by its column's title in ``titles`` and its level's label in ``codes``
    (the data package's words).

    An outcome whose overall result did not move but some subgroup did gets a line saying so, so
    that every subgroup that moved is reachable from its outcome.
    """
    labels = dict(set_labels or {})
    parts = []
    for evidence_set in dict.fromkeys(m.evidence_set for m in moved):
        rows = [m for m in moved if m.evidence_set == evidence_set]
        items = []
        for outcome in dict.fromkeys(m.outcome for m in rows):
            overall = [m for m in rows if m.outcome == outcome and m.subgroup == "all"]
            subs = [m for m in rows if m.outcome == outcome and m.subgroup != "all"]
            line = (_linked(overall[0].sentence()) if overall else
                    html.escape(f"{subs[0].label}: the overall result did not move; some subgroups did."))
            if subs:
                inner = "".join(
                    f"<li>{html.escape(subgroup_words(m.subgroup, codes, titles))}: {_linked(m.sentence())}</li>" for m in subs)
                n = len(subs)
                line += (f'<details class="moved-subgroups"><summary>{n} subgroup{"s" if n != 1 else ""} '
                         f"moved</summary><ul>{inner}</ul></details>")
            items.append(f"<li>{line}</li>")
        title = html.escape(labels.get(evidence_set, evidence_set))
        parts.append(f'<p class="change-kind"><strong>{title}</strong></p><ul>{"".join(items)}</ul>')
    return f'<div class="moved-results">{"".join(parts)}</div>' if parts else ""


def answer_html(answer: Answer) -> str:
    """The verdict of the plan's decision rules (:mod:`analysis.living.alerts`): the sentence, then each rule with
    whether it fired (and for which outcome, with what moved)."""
    head, sentence = answer.headline(), answer.sentence()
    rest = sentence[len(head):] if sentence.startswith(head) else " " + sentence
    parts = [f'<p class="answer-verdict"><strong>{html.escape(head)}</strong>{_linked(rest)}</p>']
    if answer.previous is not None and answer.rules:
        items = []
        for rule in answer.rules:
            hits = [a for a in answer.alerts if a.rule == rule.id]
            state = "fired" if hits else "did not fire"
            detail = "".join(f"<li>{_linked(a.sentence)}</li>" for a in hits)
            items.append(f'<li class="answer-rule answer-{"fired" if hits else "quiet"}">'
                         f"{html.escape(rule.describe()[0].upper() + rule.describe()[1:])}: <strong>{state}</strong>"
                         + (f"<ul>{detail}</ul>" if detail else "") + "</li>")
        parts.append(f'<ul class="answer-rules">{"".join(items)}</ul>')
    return f'<div class="answer">{"".join(parts)}</div>'
