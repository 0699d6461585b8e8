"""LivingReview: the review computed from its folder, without the book's libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.book.bookkit import Review
from analysis.living.review import LivingReview, json_safe
from tests.evidence_helpers import review_copy

ROOT = Path(__file__).resolve().parents[2]

#: What the book room needs and the living room must not.
BOOK_ONLY = ["matplotlib", "forestplot", "IPython", "myst_nb", "jupyter_book", "nbformat", "ipykernel",
             "jupyter_cache"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return review_copy(tmp_path_factory.mktemp("review"))


@pytest.fixture(scope="module")
def payload(root: Path) -> dict:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("REVIEW_BUILD_VERSION", raising=False)
        return LivingReview(root).snapshot_payload()


def test_the_book_shows_what_the_living_review_computes(root: Path, payload: dict) -> None:
    assert issubclass(Review, LivingReview)
    assert Review(root).snapshot_payload() == payload


def test_computed_without_the_book_libraries(root: Path, payload: dict) -> None:
    code = (
        "import json, sys\n"
        f"for name in {BOOK_ONLY!r}:\n"
        "    sys.modules[name] = None\n"
        "from pathlib import Path\n"
        "from analysis.living.review import LivingReview\n"
        "print(json.dumps(LivingReview(Path(sys.argv[1])).snapshot_payload()))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "REVIEW_BUILD_VERSION"}
    proc = subprocess.run([sys.executable, "-c", code, str(root)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(json.dumps(payload))


def test_payload_is_one_record_per_study_and_outcome(root: Path, payload: dict) -> None:
    studies = (root / "data" / "studies.csv").read_text(encoding="utf-8").splitlines()
    assert len(payload["studies"]) == len(studies) - 1
    keys = [(r["evidence_set"], r["outcome"], r["subgroup"]) for r in payload["outcomes"]]
    assert len(keys) == len(set(keys))


def test_version_without_a_released_snapshot_is_a_development_version(root: Path) -> None:
    """No ``results/<VERSION>.json``: nothing is released, so the tree is not shown as that release."""
    named = (root / "VERSION").read_text().strip()
    assert not (root / "results" / f"{named}.json").exists()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("REVIEW_BUILD_VERSION", raising=False)
        review = LivingReview(root)
        assert review.version == "dev"
        assert review.version_text == f"development version ({named} not yet released)"
        assert review.previous_snapshot() is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("nan"), None),
        ({"a": (1, float("nan"))}, {"a": [1, None]}),
        (None, None),
        ("text", "text"),
    ],
)
def test_json_safe(value: object, expected: object) -> None:
    assert json_safe(value) == expected


def test_json_safe_numpy_scalars() -> None:
    import numpy as np

    out = json_safe({"k": np.int64(3), "p": np.float64(0.5)})
    assert out == {"k": 3, "p": 0.5}
    assert type(out["k"]) is int and type(out["p"]) is float


def test_field_titles_are_the_data_package_s_titles(root: Path, payload: dict) -> None:
    import yaml

    descriptor = yaml.safe_load((root / "data" / "datapackage.yaml").read_text(encoding="utf-8"))
    studies = next(r for r in descriptor["resources"] if r["name"] == "studies")
    expected = {f["name"]: f["title"] for f in studies["schema"]["fields"] if f.get("title")}
    assert LivingReview(root).field_titles("studies") == expected
    assert expected["scb_source"] != "scb_source"
    assert {k: payload["evidence"]["labels"]["fields"][k] for k in expected} == expected
