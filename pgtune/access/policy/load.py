"""Reading a policy file: YAML with lines → schema check → normalised `Policy`.

Nothing stops at the first problem: the schema check and the checks it cannot express (roles
referenced but not defined, unknown profiles, unlisted databases, bad expressions, ...) all
run, and `PolicyError` lists every problem found, each with its line.
"""

from pathlib import Path

from pgtune.access.policy.access_section import read_access
from pgtune.access.policy.document import Policy
from pgtune.access.policy.problems import PolicyError, Problem
from pgtune.access.policy.reading import Reader
from pgtune.access.policy.references import check_references, merge_memberships
from pgtune.access.policy.rls_section import read_rls
from pgtune.access.policy.schema_check import schema_problems
from pgtune.access.policy.sections import (
    read_databases,
    read_default_grants,
    read_default_owners,
    read_memberships,
    read_profiles,
    read_roles,
    read_settings,
)
from pgtune.access.policy.yaml_source import read_yaml


def _readable(data: dict[str, object], key: str) -> bool:
    """A section that is absent or a mapping; a broken one is not used for cross-checks, so
    its one schema problem does not turn into a problem on every line that refers to it."""
    return key not in data or isinstance(data[key], dict)


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """The policy in ``text``; ``source`` names it in messages (usually the file name)."""
    document = read_yaml(text)
    data = document.data
    if data is None:
        raise PolicyError(
            source,
            document.problems
            or [Problem(None, "the file is empty; a policy starts with 'version: 1'")],
        )
    problems = [*document.problems, *schema_problems(data, document.lines)]
    if not isinstance(data, dict):
        raise PolicyError(source, problems)

    reader = Reader(document.lines)
    roles, member_of = read_roles(reader, data)
    written = [*member_of, *read_memberships(reader, data)]
    databases = read_databases(reader, data)
    known_databases = databases if _readable(data, "databases") else None
    profiles = read_profiles(reader, data)
    access, from_profiles = read_access(reader, data, known_databases, profiles)
    default_owners = read_default_owners(reader, data)
    default_grants = read_default_grants(reader, data)
    rls = read_rls(reader, data, known_databases)
    if _readable(data, "roles"):
        check_references(reader, set(roles))
    memberships = merge_memberships(reader, written, from_profiles)
    problems += reader.problems
    if problems:
        raise PolicyError(source, problems)

    lines: dict[tuple[str, ...], int] = {}
    for key, (_, line) in memberships.items():
        if line is not None:
            lines["membership", *key] = line
    for name, spec in databases.items():
        if spec.line is not None:
            lines["database", name] = spec.line
        for schema in spec.schemas.values():
            if schema.line is not None:
                lines["schema", name, schema.name] = schema.line
    for name in roles:
        line = document.lines.at(("roles", name))
        if line is not None:
            lines["role", name] = line
    return Policy(
        settings=read_settings(data),
        roles=roles,
        memberships=tuple(sorted(m for m, _ in memberships.values())),
        databases=databases,
        access=tuple(access),
        profiles=profiles,
        default_owners=default_owners,
        default_grants=default_grants,
        rls=tuple(rls),
        source=source,
        lines=lines,
    )


def load_policy(path: Path) -> Policy:
    """Read and validate the policy file at ``path``; `PolicyError` (exit 3) if it is not
    a valid policy, with every problem and its line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError(
            str(path), [Problem(None, f"cannot read the policy file: {exc.strerror}")]
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise PolicyError(str(path), [Problem(line, "the file is not UTF-8 text")]) from None
    return parse_policy(text, str(path))
