"""``make book``'s driver (tools/build.py): the data check and the snapshot run beside the site stage.

The stages here are stand-ins (no book is built): they record what ran, in which order, and what
the site stage saw of the check.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from analysis.living.stages import Stage
from tools import build


def _fake_stages(events: list[str], check_passes: bool, site_passes: bool = True):
    check_started = threading.Event()

    def stages(root: Path, flags: list[str], date: str, gate: build.Gate) -> list[Stage]:
        def check() -> bool:
            check_started.set()
            events.append("check")
            return check_passes

        def site() -> bool:
            assert check_started.wait(10)  # the check runs beside the site, not before it
            events.append(f"site saw the check: {gate.wait(10)}")
            return site_passes and bool(gate.wait(10))

        def snapshot() -> bool:
            events.append("snapshot")
            (root / "snap.json").write_text("{}", encoding="utf-8")
            return True

        return [Stage("validation", ("data/*",), (), check),
                Stage("site", ("data/*",), ("site/*",), site),
                Stage("snapshot", ("data/*",), ("snap.json",), snapshot)]

    return stages


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x\n1\n", encoding="utf-8")
    return tmp_path


def test_a_failed_check_stops_the_site_and_the_snapshot(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    events: list[str] = []
    monkeypatch.setattr(build, "stages", _fake_stages(events, check_passes=False))
    assert build.main(["--root", str(project)]) == 1
    assert sorted(events) == ["check", "site saw the check: False"]
    assert "build stopped: the validation stage failed" in capsys.readouterr().err
    assert not (project / build.RECORDS / "site.json").exists()  # runs again next time
    assert not (project / "snap.json").exists()


def test_a_passed_check_lets_the_site_and_the_snapshot_finish_and_be_recorded(
        project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    events: list[str] = []
    monkeypatch.setattr(build, "stages", _fake_stages(events, check_passes=True))
    assert build.main(["--root", str(project)]) == 0
    assert sorted(events) == ["check", "site saw the check: True", "snapshot"]
    assert events.index("check") < events.index("snapshot")
    records = sorted(p.name for p in (project / build.RECORDS).iterdir())
    assert records == ["site.json", "snapshot.json", "validation.json"]
    out = capsys.readouterr().out
    assert "==> time budget of this build" in out
    budget = out.split("==> time budget of this build", 1)[1]
    assert [line.split()[0] for line in budget.strip().splitlines()[:1]] == ["validation"]

    events.clear()
    assert build.main(["--root", str(project)]) == 0
    assert events == ["site saw the check: True"]  # check and snapshot: inputs unchanged; the stand-in
    # site writes none of its outputs, so it is never up to date
    assert "validation: nothing to do" in capsys.readouterr().out


def test_a_failed_site_does_not_stop_the_snapshot(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    events: list[str] = []
    monkeypatch.setattr(build, "stages", _fake_stages(events, check_passes=True, site_passes=False))
    assert build.main(["--root", str(project)]) == 1
    assert "snapshot" in events and (project / "snap.json").exists()
    assert "build stopped: the site stage failed" in capsys.readouterr().err


def test_the_gate_reports_the_checks_outcome_once_known() -> None:
    gate = build.Gate()
    assert gate.wait(0) is None
    gate.settle(True)
    assert gate.wait(0) is True and gate.wait() is True
