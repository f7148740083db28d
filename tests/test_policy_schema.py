"""The JSON Schema ships with the package, is valid draft 2020-12, documents its keys, and
agrees with the loader (every policy the loader accepts, the schema accepts)."""

import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from pgtune.access.policy import load_schema, parse_policy, schema_path, starter_policy

ROOT = Path(__file__).resolve().parent.parent
POLICIES = Path(__file__).parent / "data" / "policies"


def test_schema_is_valid_draft_2020_12() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def _properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = list(schema.get("properties", {}).items())
    for sub in schema.get("$defs", {}).values():
        found += _properties(sub)
    return found


def test_every_key_is_described_for_editors() -> None:
    schema = load_schema()
    defs = schema["$defs"]
    for name, prop in _properties(schema):
        target = defs[prop["$ref"].rsplit("/", 1)[1]] if "$ref" in prop else {}
        assert "description" in prop or "description" in target or target.get("items"), name


def test_schema_ships_in_the_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = config["tool"]["setuptools"]
    assert {"pgtune.access", "pgtune.access.policy"} <= set(setuptools["packages"])
    assert {"schema.json", "starter.yaml"} <= set(
        setuptools["package-data"]["pgtune.access.policy"]
    )
    assert any(dep.startswith("jsonschema") for dep in config["project"]["dependencies"])
    assert schema_path().parent == ROOT / "pgtune" / "access" / "policy"


def _valid_texts() -> list[str]:
    doc = (ROOT / "docs" / "access-policy.md").read_text()
    example = re.search(r"```yaml\n(.*?)```", doc, re.S)
    assert example is not None
    return [
        *(p.read_text() for p in sorted(POLICIES.glob("*.yaml")) if p.name != "many_errors.yaml"),
        example.group(1),
        starter_policy(),
    ]


@pytest.mark.parametrize("text", _valid_texts())
def test_policies_the_loader_accepts_are_valid_for_editors_too(text: str) -> None:
    parse_policy(text, "access.yaml")
    jsonschema.validate(yaml.safe_load(text), load_schema(), jsonschema.Draft202012Validator)


def test_the_documented_example_loads() -> None:
    # The format page's example is the contract: it must stay a valid policy.
    doc = (ROOT / "docs" / "access-policy.md").read_text()
    example = re.search(r"```yaml\n(.*?)```", doc, re.S)
    assert example is not None
    policy = parse_policy(example.group(1), "docs/access-policy.md")
    assert "reporting" in policy.profiles
