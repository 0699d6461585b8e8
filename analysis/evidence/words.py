"""Small helpers for the sentences the review writes from its labels."""

from __future__ import annotations

import re

#: A label that opens on a name and a year ("Smith 2022 read as 11/11"): a proper name, kept as it is.
_NAME_YEAR = re.compile(r"^[A-Z][\w'\u2019-]*(?: [a-z]{1,3})? \d{4}\b")


def lower_first(text: str) -> str:
    """A label put in the middle of a sentence: ``"Without X"`` -> ``"without X"``.

    Acronyms (``"GLMM-t"``, ``"RBC transfusion"``, ``"CAR T"``) and labels opening on a study's name
    and year (``"Rejeski 2022 read as 11/11"``) keep their capital.
    """
    if len(text) < 2 or not text[0].isupper() or text[1].isupper() or _NAME_YEAR.match(text):
        return text
    return text[0].lower() + text[1:]
