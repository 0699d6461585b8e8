"""The JSON Schema of the results snapshots (``results/results.schema.json``), checked with jsonschema.

It must validate every released snapshot in ``results/`` and the development snapshot of this tree (computed as
``make book`` writes it), document every field, and refuse a snapshot whose shape changed: an unknown field or a
missing one anywhere fails (``additionalProperties: false`` and ``required`` throughout). The mutated snapshots
are copies of the development snapshot with one SYNTHETIC change each.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from analysis.engine.results import MetaPropResult
from analysis.living.snapshot import list_snapshots, read_snapshot

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "results" / "results.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture(scope="module")
def dev() -> dict[str, Any]:
    """The development snapshot of this tree, as ``make book`` writes it (``tools.release snapshot``)."""
    from tools.release import build_snapshot

    return build_snapshot(ROOT, "dev", dt.date(2026, 12, 7), "unreleased working tree").to_dict()


def _errors(snapshot: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(snapshot)]


def test_the_schema_is_valid_and_versioned() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    version = re.search(r"results-(\d+\.\d+\.\d+)\.json$", SCHEMA["$id"])
    assert version, SCHEMA["$id"]
    assert f"(schema {version.group(1)})" in SCHEMA["title"]
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_development_snapshot_is_valid(dev: dict[str, Any]) -> None:
    assert _errors(dev) == []
    assert dev["answer"]["rules"]  # the plan's decision rules travel with it
    assert any(o.get("result", {}).get("method") not in (None, "single study") for o in dev["results"]["outcomes"])


@pytest.mark.parametrize("version", list(list_snapshots(ROOT / "results")) or ["(no release yet)"])
def test_every_released_snapshot_is_valid(version: str) -> None:
    files = list_snapshots(ROOT / "results")
    if not files:
        pytest.skip("no release in results/ yet; the development snapshot and the e2e releases are checked")
    raw = json.loads(files[version].read_text(encoding="utf-8"))
    assert _errors(raw) == []
    read_snapshot(files[version])


def _outcome(snap: dict[str, Any], display: str) -> dict[str, Any]:
    return next(o for o in snap["results"]["outcomes"] if o["display"] == display and "result" in o)


# each mutation: where, what (SYNTHETIC change to a copy of the development snapshot)
MUTATIONS = {
    "unknown top-level field": lambda s: s.update(extra=1),
    "missing top-level field": lambda s: s.pop("trigger"),
    "unknown results field": lambda s: s["results"].update(robustness=[]),
    "unknown outcome field": lambda s: s["results"]["outcomes"][0].update(new_field=1),
    "missing outcome field": lambda s: s["results"]["outcomes"][0].pop("display"),
    "renamed field of a pooled result": lambda s: _outcome(s, "pooled")["result"].update(
        i_squared=_outcome(s, "pooled")["result"].pop("i2")),
    "unknown field of a pooled result": lambda s: _outcome(s, "pooled")["result"].update(fallback="none"),
    "missing field of a single-study result": lambda s: _outcome(s, "single")["result"].pop("ci"),
    "unknown study column": lambda s: s["results"]["studies"][0].update(new_column="x"),
    "missing study column": lambda s: s["results"]["studies"][0].pop("design"),
    "unknown count field": lambda s: s["results"]["evidence"]["counts"][0].update(report_id="x"),
    "unknown answer field": lambda s: s["answer"].update(extra=True),
    "proportion above 1": lambda s: _outcome(s, "pooled")["result"].update(estimate=1.2),
    "display not in the list": lambda s: s["results"]["outcomes"][0].update(display="maybe"),
    "wrong type": lambda s: s["results"]["outcomes"][0].update(k="three"),
}


@pytest.mark.parametrize("change", list(MUTATIONS))
def test_a_change_of_shape_without_a_schema_change_fails(dev: dict[str, Any], change: str) -> None:
    mutated = copy.deepcopy(dev)
    MUTATIONS[change](mutated)
    assert _errors(mutated), f"the schema accepted a snapshot with a {change}"


def _properties(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for name, spec in (node.get("properties") or {}).items():
            yield f"{path}/{name}", spec
        for key, value in node.items():
            if key != "properties" or not isinstance(value, dict):
                yield from _properties(value, f"{path}/{key}")
            else:
                for name, spec in value.items():
                    yield from _properties(spec, f"{path}/{name}")
    elif isinstance(node, list):
        for item in node:
            yield from _properties(item, path)


def test_every_field_is_described_and_every_object_is_closed() -> None:
    fields = list(_properties(SCHEMA))
    assert len(fields) > 100
    undocumented = [p for p, spec in fields if not str(spec.get("description", "")).strip()
                    and "$ref" not in spec]
    assert undocumented == []

    def objects(node: Any, path: str = "") -> Iterator[tuple[str, dict]]:
        if isinstance(node, dict):
            if node.get("type") == "object" or "properties" in node:
                yield path, node
            for key, value in node.items():
                yield from objects(value, f"{path}/{key}")
        elif isinstance(node, list):
            for item in node:
                yield from objects(item, path)

    for path, node in objects(SCHEMA):
        if "properties" in node:
            assert node.get("additionalProperties") is False, path
            assert set(node.get("required", [])) <= set(node["properties"]), path


def test_study_fields_are_the_columns_of_the_data_package() -> None:
    package = yaml.safe_load((ROOT / "data" / "datapackage.yaml").read_text(encoding="utf-8"))
    columns = [f["name"] for f in next(r for r in package["resources"] if r["name"] == "studies")["schema"]["fields"]]
    assert list(SCHEMA["$defs"]["study"]["properties"]) == columns, (
        "data/studies.csv changed its columns: update $defs/study in results/results.schema.json and its version")


def test_pooled_result_fields_are_the_engine_result_fields() -> None:
    from analysis.evidence.pipeline import SNAPSHOT_OMITS

    fields = [f.name for f in dataclasses.fields(MetaPropResult)
              if f.name != "study_rows" and f.name not in SNAPSHOT_OMITS] + ["heterogeneity_estimable"]
    assert sorted(SCHEMA["$defs"]["pooled_result"]["properties"]) == sorted(fields), (
        "MetaPropResult changed its fields: update $defs/pooled_result in results/results.schema.json")
