"""Shared state while the checked YAML data is turned into a Policy.

Sections are read after schema validation, but every problem is reported at once, so the data
may still hold wrong types: the accessors here return a neutral value (empty, default) for
anything of the wrong type, which the schema check has already reported.
"""

from dataclasses import dataclass, field
from typing import Any

from pgtune.access.policy.problems import Problem
from pgtune.access.policy.yaml_source import Lines, Path


@dataclass(frozen=True)
class Reference:
    """A role named somewhere in the file, to be checked once every definition is known."""

    name: str
    path: Path
    what: str  # for messages: "member", "access entry role", ...
    predefined_ok: bool = False  # pg_* roles may be named here
    public_ok: bool = False  # PUBLIC may be named here


@dataclass
class Reader:
    lines: Lines
    problems: list[Problem] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)

    def line(self, path: Path) -> int | None:
        return self.lines.at(path)

    def problem(self, path: Path, message: str) -> None:
        self.problems.append(Problem(self.lines.at(path), message))

    def reference(
        self,
        name: str,
        path: Path,
        what: str,
        *,
        predefined_ok: bool = False,
        public_ok: bool = False,
    ) -> None:
        self.references.append(Reference(name, path, what, predefined_ok, public_ok))


def mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def items(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def strings(value: object) -> list[str]:
    return [v for v in items(value) if isinstance(v, str)]


def flag(value: object, default: bool) -> bool:
    return value if isinstance(value, bool) else default


def optional_flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def text(value: object) -> str | None:
    return value if isinstance(value, str) else None
