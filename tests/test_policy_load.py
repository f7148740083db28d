"""Validation of the policy file: every kind of error, with its line, all reported at once.

The cases live in data/policies/error_cases.txt: small policies whose offending lines carry a
``# <- fragment`` marker; exactly one problem is expected per marked line, containing the
fragment, and no other.
"""

import re
from pathlib import Path

import pytest

from pgtune.access.model import PUBLIC
from pgtune.access.policy import PolicyError, load_policy, parse_policy
from pgtune.errors import DataError

POLICIES = Path(__file__).parent / "data" / "policies"


def error_cases() -> dict[str, str]:
    """The sections of error_cases.txt, with ``@base`` expanded."""
    cases: dict[str, list[str]] = {}
    current: list[str] = []
    for line in (POLICIES / "error_cases.txt").read_text().splitlines():
        if line.startswith("=== "):
            current = cases.setdefault(line[4:].strip(), [])
        elif line == "@base":
            current += "\n".join(cases["base"]).strip().splitlines()
        elif cases:  # the file's own header comes before the first case
            current.append(line)
    base = "\n".join(cases.pop("base")).strip() + "\n"
    return {"base": base} | {name: "\n".join(lines).strip() + "\n" for name, lines in cases.items()}


CASES = error_cases()
BASE = CASES.pop("base")


def expectations(text: str, marker: str = "# <- ") -> list[tuple[int, str]]:
    """(line, fragment) for every line carrying the marker."""
    return [
        (number, line.split(marker, 1)[1].strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if marker in line
    ]


def problems_of(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "access.yaml")
    return caught.value


@pytest.mark.parametrize("text", CASES.values(), ids=CASES.keys())
def test_each_kind_of_problem_is_reported_on_its_line(text: str) -> None:
    expected = expectations(text)
    assert expected, "the case marks no line"
    got = [(p.line, p.message) for p in problems_of(text).problems]
    assert sorted(line for line, _ in got) == [line for line, _ in expected], got
    for line, fragment in expected:
        assert any(ln == line and fragment in message for ln, message in got), (fragment, got)


def test_the_base_of_the_cases_is_valid() -> None:
    parse_policy(BASE, "base.yaml")


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("version: 1\nroles: [a, b\n", 3, "malformed YAML"),  # the flow list never closes
        ("version: 1\nroles:\n  a: {}\n b: {}\n", 4, "malformed YAML"),  # bad indentation
        ("version: 1\nroles:\n\ta: {}\n", 3, "malformed YAML"),  # a tab indents
        ("version: 1\n---\nversion: 1\n", 2, "malformed YAML"),  # two documents
        ("version: 1\nroles: {a: \x07}\n", 2, "malformed YAML"),  # a control character
    ],
)
def test_malformed_yaml_is_one_problem_at_its_line(text: str, line: int, fragment: str) -> None:
    error = problems_of(text)
    assert len(error.problems) == 1
    assert error.problems[0].line == line
    assert fragment in error.problems[0].message


def test_empty_file_and_non_mapping() -> None:
    assert "the file is empty" in str(problems_of(""))
    assert "the file is empty" in str(problems_of("# only a comment\n"))
    error = problems_of("- version: 1\n")
    assert [p.message for p in error.problems] == ["the file: expected a mapping, got a list"]


def test_many_problems_are_reported_at_once_in_file_order() -> None:
    path = POLICIES / "many_errors.yaml"
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    text = path.read_text()
    expected = expectations(text, "# expect: ")
    error = caught.value
    assert [p.line for p in error.problems] == [line for line, _ in expected]
    for problem, (_, fragment) in zip(error.problems, expected, strict=True):
        assert fragment in problem.message
    # str() is what the CLI prints: file:line: message, one per line, in file order.
    lines = str(error).splitlines()
    assert len(lines) == len(expected)
    assert lines[2] == f"{path}:13: unknown key 'profle' (did you mean 'profile'?)"
    assert all(re.match(rf"{re.escape(str(path))}:\d+: ", line) for line in lines)


def test_policy_error_is_a_data_error_with_exit_code_3() -> None:
    error = problems_of("version: 3\n")
    assert isinstance(error, DataError)
    assert error.exit_code == 3
    assert str(error) == "access.yaml:1: unsupported version 3 (this pgtune reads version 1)"


def test_unreadable_files_are_policy_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy(tmp_path / "missing.yaml")
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"version: 1\nroles:\n  caf\xe9: {}\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(latin1)
    assert str(caught.value) == f"{latin1}:3: the file is not UTF-8 text"


def test_a_broken_section_is_not_reported_again_by_every_reference() -> None:
    # roles is a list: one problem, not one more per role named elsewhere.
    error = problems_of(
        "version: 1\nroles: [app]\ndatabases: {app: {}}\n"
        "access:\n  - {role: app, database: app, profile: readonly}\n"
    )
    assert [p.message for p in error.problems] == ["roles: expected a mapping, got a list"]


def test_predefined_roles_and_public_are_allowed_where_they_make_sense() -> None:
    policy = parse_policy(
        BASE + "  # schema public is owned by pg_database_owner from PostgreSQL 15 on\n"
        "      public: {owner: pg_database_owner}\n"
        "memberships:\n  - {group: pg_read_all_data, member: app}\n"
        "rls:\n  - table: app.sales.orders\n    policies:\n"
        "      - {name: everyone, roles: [PUBLIC], command: SELECT, using: 'true'}\n"
        "      - {name: monitors, roles: [pg_monitor], command: SELECT, using: 'false'}\n",
        "access.yaml",
    )
    assert policy.databases["app"].schemas["public"].owner == "pg_database_owner"
    assert [p.roles for p in policy.rls[0].policies] == [(PUBLIC,), ("pg_monitor",)]


def test_yaml_11_words_are_names_not_booleans() -> None:
    # Roles called on / no / null / 123: YAML 1.1 would read those keys as True, False, None
    # and 123; the policy reads identifiers as written.
    policy = parse_policy(
        "version: 1\nroles:\n  on: {}\n  no: {}\n  null: {}\n  123: {}\n"
        "  app: {member_of: [on, no]}\n",
        "access.yaml",
    )
    assert set(policy.roles) == {"on", "no", "null", "123", "app"}
    assert {m.group for m in policy.memberships} == {"on", "no"}
