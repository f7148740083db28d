"""Reading ``access:`` entries: profile and explicit privileges merged, defaults filled in."""

from pgtune.access.model import PUBLIC, PUBLIC_KEYWORD, Membership
from pgtune.access.policy.document import (
    ALL,
    COLUMN_PRIVILEGES,
    AccessEntry,
    DatabaseSpec,
    Pattern,
    Privileges,
    Profile,
)
from pgtune.access.policy.problems import did_you_mean
from pgtune.access.policy.reading import Reader, flag, items, mapping, strings, text
from pgtune.access.policy.sections import WrittenMembership, read_privileges
from pgtune.access.policy.yaml_source import Path

# The pattern lists of an entry and the privilege kind each one is for.
_PATTERN_KINDS = (("tables", "table"), ("sequences", "sequence"), ("functions", "function"))


def _patterns(reader: Reader, spec: dict[str, object], path: Path, key: str) -> tuple[Pattern, ...]:
    if key not in spec:
        return ALL
    found = {
        value: Pattern(value, reader.line((*path, key, index)))
        for index, value in enumerate(items(spec.get(key)))
        if isinstance(value, str)
    }
    return tuple(found[name] for name in sorted(found))


def _schemas(
    reader: Reader, spec: dict[str, object], path: Path, database: DatabaseSpec
) -> tuple[str, ...]:
    if "schemas" not in spec:
        return tuple(sorted(database.schemas))
    written = strings(spec.get("schemas"))
    for index, schema in enumerate(written):
        if schema not in database.schemas:
            reader.problem(
                (*path, "schemas", index),
                f"schema {schema!r} is not listed under databases.{database.name}.schemas"
                + did_you_mean(schema, database.schemas),
            )
    return tuple(sorted(set(written)))


def _check_columns(
    reader: Reader, spec: dict[str, object], path: Path, privileges: Privileges
) -> None:
    where: Path = (*path, "columns")
    if "tables" not in spec:
        reader.problem(where, "columns need an explicit tables list")
    if not privileges.table:
        reader.problem(where, "columns: the entry grants no table privileges to put on them")
    wrong = [p for p in privileges.table if p not in COLUMN_PRIVILEGES]
    if wrong:
        reader.problem(
            where,
            f"{', '.join(wrong)} cannot be granted on columns "
            "(only SELECT, INSERT, UPDATE, REFERENCES)",
        )


def read_access(
    reader: Reader,
    data: dict[str, object],
    databases: dict[str, DatabaseSpec] | None,
    profiles: dict[str, Profile],
) -> tuple[list[AccessEntry], list[WrittenMembership]]:
    """The entries, and the memberships their profiles bring (monitoring → pg_monitor).

    ``databases`` is None when that section is unreadable, so missing ones are not reported
    once for every entry.
    """
    entries: list[AccessEntry] = []
    memberships: list[WrittenMembership] = []
    for index, raw in enumerate(items(data.get("access"))):
        path: Path = ("access", index)
        spec = mapping(raw)
        role, database = text(spec.get("role")), text(spec.get("database"))
        if role is None or database is None:
            continue  # the schema check has said what is missing
        reader.reference(role, (*path, "role"), "access entry role", public_ok=True)
        if role == PUBLIC_KEYWORD:
            role = PUBLIC  # the pseudo-role (model.PUBLIC), never a role of that name
        if "profile" not in spec and "privileges" not in spec:
            reader.problem(path, "an access entry needs a profile or privileges")

        privileges = read_privileges(spec.get("privileges"))
        profile_name = text(spec.get("profile"))
        if profile_name is not None:
            profile = profiles.get(profile_name)
            if profile is None:
                reader.problem(
                    (*path, "profile"),
                    f"unknown profile {profile_name!r}{did_you_mean(profile_name, profiles)}",
                )
            else:
                privileges = profile.privileges.union(privileges)
                if role == PUBLIC and profile.member_of:
                    reader.problem((*path, "profile"), "PUBLIC cannot be a member of a role")
                else:
                    memberships += [(Membership(g, role), path) for g in profile.member_of]

        database_spec = (databases or {}).get(database)
        schemas: tuple[str, ...] = ()
        if database_spec is not None:
            schemas = _schemas(reader, spec, path, database_spec)
        elif databases is not None:
            reader.problem(
                (*path, "database"),
                f"database {database!r} is not listed under databases"
                + did_you_mean(database, databases),
            )

        patterns = {key: _patterns(reader, spec, path, key) for key, _ in _PATTERN_KINDS}
        for key, kind in _PATTERN_KINDS:
            if (
                key in spec
                and not privileges.of(kind)
                and not (kind == "table" and "columns" in spec)
            ):
                reader.problem((*path, key), f"{key}: the entry grants no {kind} privileges")
        columns = tuple(sorted(set(strings(spec.get("columns")))))
        if "columns" in spec:
            _check_columns(reader, spec, path, privileges)
        grant_option = flag(spec.get("grant_option"), False)
        if grant_option and role == PUBLIC:
            # PostgreSQL: "grant options can only be granted to roles"
            reader.problem((*path, "grant_option"), "PUBLIC cannot hold a grant option")

        entries.append(
            AccessEntry(
                role,
                database,
                privileges,
                schemas,
                patterns["tables"],
                patterns["sequences"],
                patterns["functions"],
                columns,
                grant_option=grant_option,
                profile=profile_name,
                line=reader.line(path),
            )
        )
    return entries, memberships
