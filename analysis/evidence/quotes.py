"""Is a count supported by the sentence it rests on? Plain functions on text, no table.

A count ``events / total`` is supported by its quote when

1. the quote states the pair as a fraction (``36 of 58``, ``4 out of 7``, ``10/12``,
   ``seven of nine``), or states ``events`` as a number of patients (digits or number words;
   ``no``, ``none`` state 0 events; ``all``, ``every`` state events = total; one event when
   the quote speaks of one patient: ``the patient``, ``his``, as in a case report), or
2. a percentage in the quote rounds, at the precision it is given, to ``events / total``
   (``84%`` supports 26/31 = 83.9 %; both halves of a tie are accepted, so 82.5 % supports
   ``82%`` and ``83%``).

Numbers that are not counts are ignored: decimals, years (1900-2099), numbers followed by a
unit (``9 days``, ``30-day``, ``2 x 10^6``, ``mg``...) or preceded by ``day``, ``grade``,
``median`` ..., ranges (``7-14``, ``14 to 120``), p-values (``P = .3``, ``P=3``) and the level
of a confidence interval (``95% confidence interval``).

When neither holds, the row's ``derivation`` must explain the arithmetic, and the arithmetic
it writes is checked. Understood forms (anything else is read as words, not checked):

``p% of N = x -> k``
    ``x`` (optional) must be p·N/100; the result ``k`` (the last whole number after ``=`` or
    ``->``) must give ``k/N`` that rounds to ``p%``; when ``N`` is the row's total, ``k`` must
    be the row's events. In every case some whole count of ``N`` must round to ``p%``.
``a/b = p%``
    ``a/b`` must round to ``p%`` at the precision given.
``a + b + ... = s`` and ``a - b = d``
    The sum or difference must be right.

Whatever the derivation, a quote that supports the count only through percentages is an
error when one of those percentages cannot be a share of the total (``75%`` of 41: 30/41 =
73.2 %, 31/41 = 75.6 %), and a quote stating ``events (p%)`` with a ``p`` that ``events /
total`` does not round to is an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "QuoteFacts",
    "count_problems",
    "derivation_problems",
    "parse_quote",
    "percent_fits",
    "whole_counts_near",
]

_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90, "hundred": 100, "single": 1,
}  # fmt: skip
_ZERO = ("no", "none", "neither", "nobody", "zero")
_ALL = ("all", "every", "each", "both")
_ONE_PATIENT = (
    r"\b(?:a|an|the|one|this|our|single)\s+(?:\w+\s+){0,2}?(?:patient|man|woman|boy|girl|child|infant)\b"
    r"|\b(?:he|she|his|her)\b"
)
_NUMBER = r"(?:\d+(?:\.\d+)?|\.\d+|" + "|".join(sorted(_WORDS, key=len, reverse=True)) + ")"
_UNITS = (
    r"(?:-|\s)?(?:days?|weeks?|months?|years?|yrs?|hours?|hrs?|h\b|min|mg|kg|g\b|ml|mL|l\b|L\b|"
    r"µl|ul|gy|Gy|x\b|\u00d7|\^|cells|copies|times|fold|cycles?|lines?|doses?|boosts?|infusions?|"
    r"log|%|percent|per\s*cent)"
)
_BEFORE = (
    r"\b(?:(?i:day|days|grade|grades|median|mean|range|aged?|version|phase|week|month|year|cycle|"
    r"line|dose|level|stage|score|ratio)|d|D|p|P|HR|OR|RR|CI)\s*[=:,]?\s*$"
)


@dataclass(frozen=True)
class Percent:
    """A percentage as written: its value and the number of decimals given."""

    value: float
    decimals: int
    start: int


@dataclass(frozen=True)
class QuoteFacts:
    """What a quote states, as far as counts go.

    Attributes
    ----------
    counts : frozenset of int
        Whole numbers that can be counts of patients.
    zero : bool
        The quote says ``no``/``none`` (0 events).
    everyone : bool
        The quote says ``all``/``every``/``each`` (events = total).
    one_patient : bool
        The quote speaks of one patient (``the patient``, ``his``): one event.
    percents : tuple of Percent
        Percentages other than confidence levels.
    fractions : tuple of (int, int)
        ``a of b``, ``a out of b``, ``a/b``.
    paired : tuple of (int, Percent)
        A count followed within a few words by a percentage in parentheses, ``26 patients (84%)``.
    """

    counts: frozenset[int]
    zero: bool
    everyone: bool
    one_patient: bool
    percents: tuple[Percent, ...]
    fractions: tuple[tuple[int, int], ...]
    paired: tuple[tuple[int, Percent], ...]


def _value(token: str) -> float:
    token = token.lower()
    return float(_WORDS[token]) if token in _WORDS else float(token)


def _blanked(text: str) -> str:
    """The quote with p-values, CI levels, ranges and years replaced by spaces (positions kept)."""

    def blank(match: re.Match[str]) -> str:
        return " " * len(match.group(0))

    patterns = (
        r"\b[pP]\s*[=<>≤≥]\s*0?\.?\d+(?:\.\d+)?",  # P = .3, P=3, p < 0.05
        r"\d+(?:\.\d+)?\s*%\s*(?:CI|CrI|confidence|credible|prediction)",  # 95% CI
        r"\d+(?:\.\d+)?\s*(?:-|\u2013|\u2014|to)\s*\d+(?:\.\d+)?(?!\s*%)(?!\s+of\b)",  # 7-14, 14 to 120
        r"\b(?:19|20)\d{2}\b",  # years
    )
    for pattern in patterns:
        text = re.sub(pattern, blank, text)
    return text


def parse_quote(quote: str) -> QuoteFacts:
    """Read the counts, percentages and fractions a quote states (see the module docstring)."""
    text = _blanked(quote)
    percents = tuple(
        Percent(float(m.group(1)), len(m.group(2) or ""), m.start())
        for m in re.finditer(r"(\d+(?:\.(\d+))?)\s*(?:%|percent\b|per\s+cent\b)", text)
    )
    fractions = []
    fraction = rf"\b({_NUMBER})\s*(?:/|\bof\b|\bout\s+of\b|\bof\s+the\b|\bamong\b)\s*({_NUMBER})\b(?!\s*%)"
    for m in re.finditer(fraction, text, flags=re.IGNORECASE):
        a, b = _value(m.group(1)), _value(m.group(2))
        if a.is_integer() and b.is_integer() and "." not in m.group(0):
            fractions.append((int(a), int(b)))
    counts: set[int] = set()
    paired = []
    for m in re.finditer(rf"(?<![\w.^/\u00d7])({_NUMBER})(?!\w)(?!\.\d)", text, flags=re.IGNORECASE):
        token = m.group(1)
        if "." in token:
            continue
        after, before = text[m.end() :], text[: m.start()]
        if re.match(_UNITS, after) or re.search(_BEFORE, before):
            continue
        number = int(_value(token))
        counts.add(number)
        near = re.match(r"[^()%.;]{0,40}?\(\s*(\d+(?:\.(\d+))?)\s*%", after)
        if near:
            paired.append((number, Percent(float(near.group(1)), len(near.group(2) or ""), 0)))
    zero = re.search(rf"\b(?:{'|'.join(_ZERO)})\b", quote, flags=re.IGNORECASE) is not None
    everyone = re.search(rf"\b(?:{'|'.join(_ALL)})\b", quote, flags=re.IGNORECASE) is not None
    one = re.search(_ONE_PATIENT, quote, flags=re.IGNORECASE) is not None
    return QuoteFacts(frozenset(counts), zero, everyone, one, percents, tuple(fractions), tuple(paired))


def percent_fits(count: int, total: int, percent: float, decimals: int = 0) -> bool:
    """Does ``count / total`` round to ``percent`` at ``decimals`` decimals?

    Either rounding of an exact tie is accepted: ``|100 k / n - p| <= 0.5 * 10^-d``.
    """
    if total <= 0:
        return False
    half = 0.5 * 10.0**-decimals
    return abs(100.0 * count / total - percent) <= half + 1e-9


def whole_counts_near(total: int, percent: float) -> tuple[int, ...]:
    """The whole counts of ``total`` nearest to ``percent`` (for messages: 30 and 31 of 41)."""
    exact = percent * total / 100.0
    low = max(0, math.floor(exact))
    return tuple(k for k in (low, low + 1) if k <= total)


def _possible(total: int, percent: Percent) -> bool:
    return any(percent_fits(k, total, percent.value, percent.decimals)
               for k in whole_counts_near(total, percent.value))


def _shares(total: int, percent: float) -> str:
    return ", ".join(f"{k}/{total} = {100.0 * k / total:.1f}%" for k in whole_counts_near(total, percent))


def _fmt(p: Percent) -> str:
    return f"{p.value:.{p.decimals}f}%"


def count_problems(events: int, total: int, quote: str, derivation: str | None) -> list[str]:
    """Why a count is not supported by its quote (empty list: supported).

    Parameters
    ----------
    events, total : int
        The count (``0 <= events <= total``, ``total >= 1``).
    quote : str
        The exact sentence the count rests on.
    derivation : str or None
        The arithmetic written by the extractor, if any.

    Returns
    -------
    list of str
        Messages; see the module docstring for the rules.
    """
    facts = parse_quote(quote)
    problems = []
    for number, percent in facts.paired:
        if number == events and not percent_fits(events, total, percent.value, percent.decimals):
            problems.append(
                f"the quote gives {events} ({_fmt(percent)}), but {events}/{total} = "
                f"{100.0 * events / total:.1f}%"
            )
    exact = (events, total) in facts.fractions
    if not exact and not derivation:
        for a, b in facts.fractions:
            if (a == events) != (b == total):
                problems.append(f"the quote says {a} of {b}, the row {events}/{total}")
    stated = (
        exact
        or events in facts.counts
        or (events == 0 and facts.zero)
        or (events == total and facts.everyone)
        or (events == 1 and facts.one_patient)
    )
    fitting = [p for p in facts.percents if percent_fits(events, total, p.value, p.decimals)]
    impossible = [p for p in facts.percents if not _possible(total, p)]
    if not stated and not fitting and impossible:
        shares = "; ".join(f"{_fmt(p)}: {_shares(total, p.value)}" for p in impossible)
        problems.append(
            f"the quote gives {', '.join(_fmt(p) for p in impossible)}, which no whole count of "
            f"{total} patients rounds to ({shares})"
        )
    elif not stated and not fitting and not derivation:
        shown = ", ".join(_fmt(p) for p in facts.percents)
        said = (
            f"its percentages ({shown}) do not round to {events}/{total}"
            if shown
            else f"it does not state {events}"
        )
        problems.append(
            f"the count {events}/{total} is not supported by its quote: {said}; "
            "correct the count or write the arithmetic in derivation"
        )
    if derivation:
        problems += derivation_problems(derivation, events, total)
    return problems


def _claims(derivation: str) -> Iterator[str]:
    """Messages for the arithmetic written in a derivation that is wrong (no row context)."""
    number = r"(\d+(?:\.\d+)?)"
    for m in re.finditer(rf"{number}\s*/\s*{number}\s*=\s*{number}\s*%", derivation):
        a, b, p = float(m.group(1)), float(m.group(2)), m.group(3)
        decimals = len(p.split(".")[1]) if "." in p else 0
        if b > 0 and not percent_fits(int(a), int(b), float(p), decimals):
            yield f"derivation: {m.group(0)} is wrong ({a:g}/{b:g} = {100 * a / b:.{max(decimals, 1)}f}%)"
    for m in re.finditer(r"(?<![\d.])(\d+(?:\s*[+-]\s*\d+)+)\s*=\s*(\d+)(?![\d.])", derivation):
        terms = re.findall(r"[+-]?\s*\d+", m.group(1))
        value = sum(int(t.replace(" ", "")) for t in terms)
        if value != int(m.group(2)):
            yield f"derivation: {m.group(0)} is wrong ({value})"


def derivation_problems(derivation: str, events: int, total: int) -> list[str]:
    """Check the arithmetic a derivation writes (forms in the module docstring)."""
    problems = list(_claims(derivation))
    percent_of = (
        r"(\d+(?:\.(\d+))?)\s*%\s*of\s*(?:the\s+)?(\d+)\b"
        r"((?:\s*(?:=|->|→|≈|~)\s*\d+(?:\.\d+)?(?:\s*patients?)?)*)"
    )
    for m in re.finditer(percent_of, derivation):
        p = Percent(float(m.group(1)), len(m.group(2) or ""), 0)
        n = int(m.group(3))
        steps = re.findall(r"(=|->|→|≈|~)\s*(\d+(?:\.\d+)?)", m.group(4))
        head = f"derivation: {_fmt(p)} of {n}"
        if n == 0:
            continue
        if not _possible(n, p):
            problems.append(
                f"{head}: no whole count of {n} rounds to {_fmt(p)} ({_shares(n, p.value)})"
            )
            continue
        exact = p.value * n / 100.0
        decimal_steps = [v for _, v in steps if "." in v]
        for value in decimal_steps[:1]:
            places = len(value.split(".")[1])
            if abs(float(value) - exact) > 0.5 * 10.0**-places + 1e-9:
                problems.append(f"{head} is {exact:g}, not {value}")
        whole = [int(v) for _, v in steps if "." not in v]
        if not whole:
            continue
        k = whole[-1]
        if not percent_fits(k, n, p.value, p.decimals):
            problems.append(f"{head} -> {k}: {k}/{n} = {100.0 * k / n:.1f}%, which does not round to {_fmt(p)}")
        elif n == total and k != events:
            problems.append(f"{head} gives {k}, but the row's events are {events}")
    return problems
