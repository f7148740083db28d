"""Structural validation against the shipped JSON Schema, with messages a person can act on.

The schema is the single description of the file's shape (editors use the same file);
this module only turns jsonschema's errors into `Problem`s: the line of the offending key or
item, "unknown key ... (did you mean ...)" for misspellings, the object kind for a privilege.
"""

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]

from pgtune.access.policy.problems import Problem, did_you_mean
from pgtune.access.policy.yaml_source import Lines, describe
from pgtune.access.policy.yaml_source import Path as DataPath

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}
_PRIVILEGE_LISTS = {"database", "schema", "table", "sequence", "function"}


def schema_path() -> Path:
    """Where the shipped schema.json is (for editors: ``# yaml-language-server: $schema=``)."""
    return Path(__file__).with_name("schema.json")


@cache
def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_path().read_text(encoding="utf-8"))
    return schema


def _described(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _privilege_kind(path: DataPath) -> str | None:
    """The object kind a privilege list item belongs to, from where it sits."""
    if len(path) < 2:
        return None
    owner = path[-2]
    if owner == "revoke_public":
        return "schema" if "schemas" in path else "database"
    return owner if owner in _PRIVILEGE_LISTS else None


def _problems(error: Any, lines: Lines) -> Iterator[Problem]:
    path: DataPath = tuple(error.absolute_path)
    where = describe(path) or "the file"
    schema = error.schema if isinstance(error.schema, dict) else {}
    validator = error.validator
    instance = error.instance
    if "x-message" in schema:
        yield Problem(lines.at(path), f"{where}: {schema['x-message']}")
    elif "propertyNames" in error.schema_path:
        yield Problem(lines.at((*path, instance)), f"{where}: {instance!r} is not a setting name")
    elif validator == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        for key in instance:
            if key not in known:
                hint = did_you_mean(key, known)
                yield Problem(lines.at((*path, key)), f"unknown key {key!r}{hint}")
    elif validator == "required":
        for key in error.validator_value:
            if key not in instance:
                yield Problem(lines.at(path), f"{where}: missing key {key!r}")
    elif validator == "const" and path == ("version",):
        yield Problem(
            lines.at(path), f"unsupported version {instance!r} (this pgtune reads version 1)"
        )
    elif validator == "enum":
        choices = [str(c) for c in error.validator_value]
        kind = _privilege_kind(path)
        hint = did_you_mean(str(instance), choices)
        if kind is not None:
            message = f"unknown privilege {instance!r} for {kind}{hint}"
        else:
            message = f"{where}: {instance!r} is not one of {', '.join(choices)}{hint}"
        yield Problem(lines.at(path), message)
    elif validator == "type":
        wanted = error.validator_value
        wanted = [wanted] if isinstance(wanted, str) else wanted
        expected = " or ".join(_TYPE_WORDS.get(w, w) for w in wanted)
        quote = (
            " (quote it to make it a string)"
            if "string" in wanted and isinstance(instance, int | float | bool)
            else ""
        )
        yield Problem(
            lines.at(path), f"{where}: expected {expected}, got {_described(instance)}{quote}"
        )
    elif validator == "uniqueItems":
        seen: list[object] = []
        for index, item in enumerate(instance):
            if item in seen:
                yield Problem(lines.at((*path, index)), f"{where}: {item!r} is listed twice")
            seen.append(item)
    elif validator == "minLength":
        yield Problem(lines.at(path), f"{where}: must not be empty")
    elif validator == "minimum":
        yield Problem(
            lines.at(path), f"{where}: must be at least {error.validator_value}, got {instance!r}"
        )
    else:  # a keyword this module has no wording for: jsonschema's own message
        yield Problem(lines.at(path), f"{where}: {error.message}")


@cache
def _validator() -> Any:
    return jsonschema.Draft202012Validator(load_schema())


def schema_problems(data: object, lines: Lines) -> list[Problem]:
    """Every way ``data`` departs from schema.json (all of them, not the first)."""
    problems: list[Problem] = []
    for error in _validator().iter_errors(data):
        for problem in _problems(error, lines):
            if problem not in problems:
                problems.append(problem)
    return problems
