"""Test-suite settings shared by every test module: how tests are spread over parallel workers.

``make test`` runs the suite with pytest-xdist on every core (``-n auto --dist loadgroup``). With
``loadgroup``, tests are handed to workers one by one, except tests marked
``xdist_group(name)``, which all run on one worker. A module whose tests share a module-scoped
fixture (a built book, a served site, a copy of the review) would otherwise build it once on
each worker, so every test of such a module is put in one group named after the module, unless
it names its own group (``pytest.mark.xdist_group`` on the module or the test).
"""

from __future__ import annotations

import pytest

#: Fixture scopes shared by several tests of a module.
SHARED_SCOPES = frozenset({"module", "class", "package"})


def _shares_a_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    definitions = getattr(info, "name2fixturedefs", {}) if info is not None else {}
    return any(defs and defs[-1].scope in SHARED_SCOPES for defs in definitions.values())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is None and _shares_a_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__ if item.module else item.nodeid))
