"""Tests of analysis.living.snapshot: versions, data digests, writing/reading and comparing snapshots.

Payloads here are SYNTHETIC dictionaries shaped like a review's results; no real data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from analysis.living.snapshot import (
    DEV,
    compare_snapshots,
    data_digests,
    is_release_version,
    list_snapshots,
    load_series,
    make_snapshot,
    parse_version,
    previous_release,
    previous_snapshot,
    private_data_present,
    read_snapshot,
    snapshot_json,
    write_snapshot,
)

# FIPS 180-2, appendix B.1: SHA-256("abc").
SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

SYNTHETIC_PAYLOAD = {
    "outcomes": [
        {"outcome": "synthetic_a", "subgroup": "all", "estimate": 0.75, "k": 3, "total_n": 40},
    ],
    "studies": [{"study_id": "synth2020", "n": 12}],
}


def _snapshot(version: str = "26.1.0", payload: dict | None = None, **kw):
    args = {
        "version": version,
        "date": dt.date(2026, 12, 1),
        "trigger": "synthetic trigger",
        "package_version": "0.1.0",
        "data_files": {"data/a.csv": SHA256_ABC},
        "private_data_used": False,
    }
    args.update(kw)
    return make_snapshot(SYNTHETIC_PAYLOAD if payload is None else payload, **args)


# ---- versions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [("26.0.0", (26, 0, 0)), ("26.12.3", (26, 12, 3)), ("99.10.10", (99, 10, 10))],
)
def test_parse_version(text: str, parts: tuple[int, int, int]) -> None:
    assert parse_version(text) == parts
    assert is_release_version(text)


@pytest.mark.parametrize(
    "text", ["2026.1.0", "26.1", "26.01.0", "v26.1.0", "26.1.0-rc1", "dev", ""]
)
def test_parse_version_rejects(text: str) -> None:
    assert not is_release_version(text)
    with pytest.raises(ValueError, match=r"YY\.MINOR\.PATCH"):
        parse_version(text)


def test_versions_sort_numerically_not_as_text() -> None:
    # as text "26.10.0" < "26.9.0"; numerically it is newer
    assert previous_release(["26.9.0", "26.10.0", "26.2.1"], "26.10.0") == "26.9.0"
    assert previous_release(["26.9.0", "26.10.0"], DEV) == "26.10.0"
    assert previous_release(["26.9.0"], "26.9.0") is None
    assert previous_release([], DEV) is None
    assert previous_release(["notes", "26.0.0"], "27.0.0") == "26.0.0"


# ---- data files -----------------------------------------------------------------------------


def test_data_digests_hash_files_and_skip_private(tmp_path: Path) -> None:
    (tmp_path / "data" / "private").mkdir(parents=True)
    (tmp_path / "data" / "sub").mkdir()
    (tmp_path / "data" / "a.csv").write_bytes(b"abc")
    (tmp_path / "data" / "sub" / "b.yaml").write_bytes(b"")
    (tmp_path / "data" / "private" / "patients.csv").write_bytes(b"secret")
    digests = data_digests(tmp_path)
    assert digests == {
        "data/a.csv": SHA256_ABC,
        "data/sub/b.yaml": hashlib.sha256(b"").hexdigest(),
    }
    assert not any("private" in k for k in digests)


def test_private_data_present_ignores_readme(tmp_path: Path) -> None:
    private = tmp_path / "data" / "private"
    assert not private_data_present(tmp_path)
    private.mkdir(parents=True)
    (private / "README.md").write_text("placed by investigators\n")
    assert not private_data_present(tmp_path)
    (private / "synthetic_ipd.csv").write_text("patient_id\n1\n")
    assert private_data_present(tmp_path)


def test_snapshot_carries_no_private_content(tmp_path: Path) -> None:
    private = tmp_path / "data" / "private"
    private.mkdir(parents=True)
    (private / "synth.csv").write_text("patient_id,secret_marker\nP1,ZZQX\n")
    snap = _snapshot(
        data_files=data_digests(tmp_path), private_data_used=private_data_present(tmp_path)
    )
    text = snapshot_json(snap)
    assert snap.private_data_used is True
    assert "ZZQX" not in text and "synth.csv" not in text and "private/" not in text


# ---- making, writing, reading ---------------------------------------------------------------


def test_round_trip_is_lossless_and_canonical(tmp_path: Path) -> None:
    snap = _snapshot()
    path = write_snapshot(tmp_path / "results" / "26.1.0.json", snap)
    assert read_snapshot(path) == snap
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert list(json.loads(text)) == sorted(json.loads(text))  # keys sorted
    # the same payload built in another key order gives the same bytes
    reordered = {"studies": SYNTHETIC_PAYLOAD["studies"], "outcomes": SYNTHETIC_PAYLOAD["outcomes"]}
    assert snapshot_json(_snapshot(payload=reordered)) == text


def test_released_snapshot_is_never_overwritten(tmp_path: Path) -> None:
    path = write_snapshot(tmp_path / "26.1.0.json", _snapshot())
    before = path.read_bytes()
    changed = _snapshot(payload={"outcomes": []})
    with pytest.raises(FileExistsError, match="never rewritten"):
        write_snapshot(path, changed)
    with pytest.raises(ValueError, match="never rewritten"):
        write_snapshot(path, changed, overwrite=True)
    assert path.read_bytes() == before


def test_dev_snapshot_may_be_replaced(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    write_snapshot(path, _snapshot(DEV, trigger=""), overwrite=True)
    write_snapshot(path, _snapshot(DEV, payload={"outcomes": []}, trigger=""), overwrite=True)
    assert read_snapshot(path).results == {"outcomes": []}


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"outcomes": [{"pi_lower": float("nan")}]}, r"results\.outcomes\[0\]\.pi_lower"),
        ({"x": {"y": float("inf")}}, r"results\.x\.y"),
        ({"k": np.int64(3)}, r"results\.k: value of type int64"),
        ({"d": dt.date(2026, 1, 1)}, r"results\.d: value of type date"),
    ],
)
def test_payload_that_json_cannot_hold_is_named(payload: dict, where: str) -> None:
    with pytest.raises(ValueError, match=where):
        _snapshot(payload=payload)


def test_release_needs_a_trigger_and_a_valid_version() -> None:
    with pytest.raises(ValueError, match="trigger"):
        _snapshot(trigger="  ")
    with pytest.raises(ValueError, match=r"YY\.MINOR\.PATCH"):
        _snapshot(version="1.0")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"format": 1}', "missing snapshot field"),
    ],
)
def test_read_snapshot_errors_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "26.0.0.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        read_snapshot(path)
    assert str(path) in str(info.value)


def test_read_snapshot_rejects_bad_version_and_date(tmp_path: Path) -> None:
    raw = json.loads(snapshot_json(_snapshot()))
    for key, value, message in (("version", "v1", "neither"), ("date", "1.12.2026", "ISO date")):
        bad = dict(raw, **{key: value})
        path = tmp_path / f"bad-{key}.json"
        path.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=message):
            read_snapshot(path)


def test_list_snapshots_orders_by_version(tmp_path: Path) -> None:
    for name in ("26.10.0", "26.9.0", "27.0.0", "dev", "notes"):
        (tmp_path / f"{name}.json").write_text("{}")
    assert list(list_snapshots(tmp_path)) == ["26.9.0", "26.10.0", "27.0.0"]
    assert list_snapshots(tmp_path / "missing") == {}


# ---- comparing ------------------------------------------------------------------------------


def test_compare_snapshots_reports_data_and_package_changes() -> None:
    old = _snapshot(
        "26.0.0",
        data_files={"data/a.csv": "1" * 64, "data/b.csv": "2" * 64, "data/c.csv": "3" * 64},
    )
    new = _snapshot(
        "26.1.0",
        payload={"outcomes": []},
        trigger="new synthetic study",
        package_version="0.2.0",
        data_files={"data/a.csv": "1" * 64, "data/b.csv": "9" * 64, "data/d.csv": "4" * 64},
        private_data_used=True,
    )
    diff = compare_snapshots(old, new)
    assert diff.data_added == ("data/d.csv",)
    assert diff.data_removed == ("data/c.csv",)
    assert diff.data_changed == ("data/b.csv",)
    assert diff.package_changed == ("0.1.0", "0.2.0")
    assert diff.private_data_changed == (False, True)
    assert diff.trigger == "new synthetic study"
    assert not diff.results_identical
    assert not diff.data_identical


def test_compare_identical_results_for_a_patch_release() -> None:
    diff = compare_snapshots(_snapshot("26.1.0"), _snapshot("26.1.1", trigger="typo fixed"))
    assert diff.results_identical and diff.data_identical
    assert diff.package_changed is None and diff.private_data_changed is None


def test_load_series_and_previous_snapshot(tmp_path: Path) -> None:
    for version, value in (("26.0.0", 0.5), ("26.1.0", 0.6), ("26.10.0", 0.7)):
        payload = {"outcomes": [{"outcome": "synthetic_a", "estimate": value}]}
        write_snapshot(tmp_path / f"{version}.json", _snapshot(version, payload=payload))
    current = _snapshot(DEV, payload={"outcomes": []}, trigger="")
    series = load_series(tmp_path, current)
    assert [s.version for s in series] == ["26.0.0", "26.1.0", "26.10.0", "dev"]
    assert [s.version for s in load_series(tmp_path, upto="26.1.0")] == ["26.0.0", "26.1.0"]
    # a release build's own snapshot is not listed twice
    own = read_snapshot(tmp_path / "26.1.0.json")
    assert [s.version for s in load_series(tmp_path, own, upto="26.1.0")] == ["26.0.0", "26.1.0"]
    assert previous_snapshot(tmp_path, "26.10.0").version == "26.1.0"
    assert previous_snapshot(tmp_path, DEV).results["outcomes"][0]["estimate"] == 0.7
    assert previous_snapshot(tmp_path, "26.0.0") is None


def test_answer_is_kept_beside_the_results_and_read_back(tmp_path: Path) -> None:
    answer = {"previous": "26.0.0", "changed": True, "headline": "The answer changed", "fired": ["synthetic_rule"]}
    snap = _snapshot(answer=answer)
    path = write_snapshot(tmp_path / "26.1.0.json", snap)
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["answer"] == answer and "answer" not in raw["results"]
    assert read_snapshot(path).answer == answer
    assert "answer" not in _snapshot().to_dict()  # none recorded: the key is absent
    with pytest.raises(ValueError, match=r"answer\.x: nan is not a finite number"):
        _snapshot(answer={"x": float("nan")})
    bad = dict(raw, answer=["not", "a", "dict"])
    (tmp_path / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ValueError, match="field answer should be a dict"):
        read_snapshot(tmp_path / "bad.json")
