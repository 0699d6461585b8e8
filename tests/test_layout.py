"""tests/ mirrors the package's rooms: each public module has its test module in the same place."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("engine", "evidence", "living", "book")


def _modules() -> list[Path]:
    """Public modules of the rooms (``analysis/<room>/.../<name>.py``, not ``__init__`` or ``_private``)."""
    return sorted(p.relative_to(ROOT / "analysis") for room in ROOMS
                  for p in (ROOT / "analysis" / room).rglob("*.py") if not p.name.startswith("_"))


def test_every_module_of_a_room_has_its_test_module() -> None:
    missing = [str(m) for m in _modules()
               if not (ROOT / "tests" / m.parent / f"test_{m.name}").exists()]
    assert missing == []


def test_no_test_module_outside_the_rooms_names_a_module_of_a_room() -> None:
    """A test of a room's module lives in that room's folder, not at the top of tests/."""
    names = {m.stem for m in _modules()}
    top = {p.stem.removeprefix("test_") for p in (ROOT / "tests").glob("test_*.py")}
    assert top & names == set()


def test_every_test_folder_is_a_package() -> None:
    for folder in (ROOT / "tests").rglob("*"):
        if folder.is_dir() and any(folder.glob("test_*.py")):
            assert (folder / "__init__.py").exists(), folder
