"""Fixtures shared by the end-to-end tests.

``real_book``: the real review, copied as a clone has it and built as ``make book`` builds it, ONCE per
test session. Tests that only read the built site share it, whichever pytest-xdist worker runs
them (:func:`tests.buildutil.once_per_session`); tests that change the project before building
make their own copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.buildutil import build, once_per_session


@dataclass(frozen=True)
class RealBuild:
    """The real review built once: its folder, the exit status and the output of the build."""

    root: Path
    returncode: int
    stdout: str
    stderr: str


def _build_review(folder: Path) -> dict[str, Any]:
    from tests.e2e.test_book_e2e import fresh_copy

    done = build(fresh_copy(folder))
    return {"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}


@pytest.fixture(scope="session")
def real_book(tmp_path_factory: pytest.TempPathFactory) -> RealBuild:
    """The real review, built once for the session with the flags of ``make book`` (read it, never change it)."""
    folder, record = once_per_session(tmp_path_factory, "real-review", _build_review)
    return RealBuild(folder, record["returncode"], record["stdout"], record["stderr"])
