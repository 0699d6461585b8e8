"""GRADE certainty of evidence from per-domain judgements.

Pure arithmetic of the GRADE approach (guyatt2008): a body of evidence starts at a level set by its
design (observational evidence, including case series, starts at *low*), and each domain judged a
*serious* concern rates it down one level, a *very serious* concern two, never below the lowest
level. The judgements themselves (and their written reasons) are the reviewers', not computed here.

The pieces of GRADE's summary-of-findings format are here too, as text: the certainty symbols
(⊕⊕◯◯), the footnote letters of the ratings down, and the plain-language statements of a
proportion at each certainty [santesso2020].
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

#: Levels of certainty, lowest first.
LEVELS: tuple[str, ...] = ("very low", "low", "moderate", "high")

#: Rating of a domain -> levels rated down.
DOWNGRADE: Mapping[str, int] = {"not_serious": 0, "serious": 1, "very_serious": 2}

#: Certainty shown for an outcome no study has reported.
NO_EVIDENCE = "no evidence"


def rate(start: str, ratings: Sequence[str], levels: Sequence[str] = LEVELS) -> str:
    """Certainty after rating ``start`` down for each domain rating.

    Parameters
    ----------
    start : one of ``levels``
        Starting certainty (``"low"`` for observational evidence).
    ratings : sequence of {"not_serious", "serious", "very_serious"}
    levels : sequence of str, lowest first.

    Examples
    --------
    >>> rate("low", ["serious", "not_serious"])
    'very low'
    """
    if start not in levels:
        raise ValueError(f"GRADE: starting level {start!r} is not one of {', '.join(levels)}")
    unknown = [r for r in ratings if r not in DOWNGRADE]
    if unknown:
        raise ValueError(f"GRADE: unknown rating(s) {unknown}; use {', '.join(DOWNGRADE)}")
    steps = sum(DOWNGRADE[r] for r in ratings)
    return levels[max(0, list(levels).index(start) - steps)]


def certainty_table(
    judgements: pd.DataFrame,
    k_by_outcome: Mapping[str, int],
    *,
    start: str = "low",
    levels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Certainty and reasons per outcome.

    Parameters
    ----------
    judgements : DataFrame with columns ``outcome``, ``domain``, ``rating``, ``reason``.
    k_by_outcome : outcome -> number of studies reporting it (0 gives "no evidence").
    start, levels : see :func:`rate`.

    Returns
    -------
    DataFrame indexed by outcome with columns ``certainty``, ``reasons`` and ``downgrades``.
    """
    levels = tuple(levels or LEVELS)
    rows = {}
    for outcome, k in k_by_outcome.items():
        mine = judgements.loc[judgements["outcome"] == outcome]
        if k == 0:
            rows[outcome] = (NO_EVIDENCE, "no study has reported this outcome", 0)
            continue
        concerns = mine.loc[mine["rating"] != "not_serious"]
        reasons = "; ".join(
            f"{str(d).replace('_', ' ')} ({str(r).replace('_', ' ')}): {str(why).rstrip('. ')}"
            for d, r, why in zip(concerns["domain"], concerns["rating"], concerns["reason"], strict=True)
        )
        certainty = rate(start, list(mine["rating"]), levels)
        if mine.empty:
            reasons = "not yet assessed; shown at the starting level"
        rows[outcome] = (certainty, reasons or "none", sum(DOWNGRADE[r] for r in mine["rating"]))
    return pd.DataFrame.from_dict(rows, orient="index", columns=["certainty", "reasons", "downgrades"])


# --------------------------------------------------------------------- the summary-of-findings format

#: Order in which GRADE lists the domains that rate evidence down [guyatt2008], the footnotes' order.
DOMAINS: tuple[str, ...] = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")

#: Certainty of an outcome with evidence whose domains have not been judged yet.
NOT_ASSESSED = "not yet assessed"

#: Filled and open symbols of the GRADE working group's summary-of-findings tables (⊕⊕◯◯ = low).
FILLED, OPEN = "⊕", "◯"


def symbols(level: str, levels: Sequence[str] = LEVELS) -> str:
    """The certainty as symbols: one filled symbol per level reached, open ones for the rest.

    Examples
    --------
    >>> [symbols(x) for x in ("high", "moderate", "low", "very low")]
    ['⊕⊕⊕⊕', '⊕⊕⊕◯', '⊕⊕◯◯', '⊕◯◯◯']
    """
    levels = list(levels)
    if level not in levels:
        raise ValueError(f"GRADE: certainty {level!r} is not one of {', '.join(levels)}")
    filled = levels.index(level) + 1
    return FILLED * filled + OPEN * (len(levels) - filled)


@dataclass(frozen=True)
class Downgrade:
    """One domain that rates an outcome down: its rating, short reason (footnote) and full reason."""

    domain: str
    rating: str
    short: str
    reason: str

    @property
    def levels(self) -> int:
        """Levels rated down (1 for serious, 2 for very serious)."""
        return DOWNGRADE[self.rating]


def downgrades(judgements: pd.DataFrame, outcome: str, *, short: str = "short_reason") -> tuple[Downgrade, ...]:
    """The domains that rate ``outcome`` down, in GRADE's order of domains (:data:`DOMAINS`, then others).

    ``judgements`` has columns ``outcome``, ``domain``, ``rating``, ``reason`` and, optionally,
    ``short`` (the short reason of the footnote); a missing short reason falls back to the full
    reason, so that a footnote is never empty.
    """
    mine = judgements.loc[(judgements["outcome"] == outcome) & (judgements["rating"] != "not_serious")]
    order = {d: i for i, d in enumerate(DOMAINS)}
    found = []
    for _, row in mine.iterrows():
        text = row.get(short)
        full = str(row["reason"]).strip()
        text = full if pd.isna(text) or not str(text).strip() else str(text).strip()
        found.append(Downgrade(str(row["domain"]), str(row["rating"]), text, full))
    return tuple(sorted(found, key=lambda d: order.get(d.domain, len(order))))


def footnote_letter(index: int) -> str:
    """The footnote letter of the ``index``-th footnote (0-based): a ... z, then aa, ab, ... (bijective base 26)."""
    if index < 0:
        raise ValueError("footnote index must be 0 or more")
    letters = ""
    n = index + 1
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


def footnote_letters(keys: Sequence[Hashable]) -> dict[Hashable, str]:
    """A letter for each distinct footnote, in order of first appearance.

    ``keys`` are the footnotes as they appear down the table (for example ``(domain, short
    reason)`` of each rating down, outcome by outcome); the same footnote met again keeps its
    letter, so each letter names exactly one footnote, and the same table always gets the same
    letters.
    """
    out: dict[Hashable, str] = {}
    for key in keys:
        if key not in out:
            out[key] = footnote_letter(len(out))
    return out


#: Plain-language statements for a proportion without a comparator, by certainty, after the
#: wording of GRADE guidance 26 ([santesso2020]: "results in", "likely results in", "may result in",
#: "the evidence is very uncertain about"): ``{outcome}`` is the outcome in words, ``{amount}``
#: how many patients ("about 88 of every 100 patients").
PROPORTION_STATEMENTS: Mapping[str, str] = {
    "high": "{Outcome} occurs in {amount}.",
    "moderate": "{Outcome} probably occurs in {amount}.",
    "low": "{Outcome} may occur in {amount}.",
    "very low": "The evidence is very uncertain about how often {outcome} occurs.",
}

#: Statement of an outcome whose evidence has not been judged.
STATEMENT_NOT_ASSESSED = "No statement: the certainty of this evidence has not been assessed yet."

#: Statement of an outcome no study has reported.
STATEMENT_NO_EVIDENCE = "No study has reported this outcome."


def _lower_first(text: str) -> str:
    """``"Neutrophil recovery"`` -> ``"neutrophil recovery"``; an acronym (``"GVHD"``) is kept."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def plain_statement(certainty: str, outcome: str, amount: str,
                    statements: Mapping[str, str] = PROPORTION_STATEMENTS) -> str:
    """GRADE's plain-language statement of a proportion at a certainty [santesso2020].

    Parameters
    ----------
    certainty : str
        A level of ``statements`` (high, moderate, low, very low), :data:`NOT_ASSESSED` or
        :data:`NO_EVIDENCE`.
    outcome : str
        The outcome in words ("Neutrophil recovery").
    amount : str
        How many patients, in words ("about 88 of every 100 patients").

    Examples
    --------
    >>> plain_statement("low", "Neutrophil recovery", "about 88 of every 100 patients")
    'Neutrophil recovery may occur in about 88 of every 100 patients.'
    """
    if certainty == NO_EVIDENCE:
        return STATEMENT_NO_EVIDENCE
    if certainty == NOT_ASSESSED:
        return STATEMENT_NOT_ASSESSED
    if certainty not in statements:
        raise ValueError(f"GRADE: no statement for certainty {certainty!r}; use {', '.join(statements)}")
    lower = _lower_first(outcome)
    return statements[certainty].format(Outcome=lower[:1].upper() + lower[1:], outcome=lower, amount=amount)
